/**
 * The evaluation's results as Markdown (`bench/eval.md`, and the tables
 * `docs/evaluation.md` quotes): pure functions from a result to text.
 *
 * @module
 */
import { FEATURE_NAMES } from "../lib/contracts.ts";
import type { DetectorResult, EvalResult } from "./eval_results.ts";
import type { Headline, SeedsResult } from "./eval_seeds.ts";
import type { EpisodeDetection, SummaryEntry } from "./eval_incidents.ts";
import { ANOMALY_TYPES } from "../lib/contracts.ts";

/** 1234567 → "1.23M", 45000 → "45k": progress lines and table cells. */
export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}
const pct = (x: number | null) => (x === null ? "–" : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null | undefined, digits = 3) =>
  x === null || x === undefined ? "–" : x.toFixed(digits);
const ms = (x: number | null) =>
  x === null ? "–" : x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`;
const int = (x: number) => x.toLocaleString("en-US");

function table(head: string[], align: string, rows: (string | number)[][]): string {
  const sep = [...align].map((a) => (a === "r" ? "---:" : "---"));
  return [head, sep, ...rows.map((r) => r.map(String))].map((r) => `| ${r.join(" | ")} |`)
    .join("\n");
}

/** The report as Markdown: the tables `docs/evaluation.md` quotes. */
export function renderMarkdown(r: EvalResult): string {
  const o = r.options;
  const s = r.stream;
  const out: string[] = [];
  const what = s.kind === "simulated"
    ? `simulated stream (profile ${o.profile ?? "seed"}), seed ${o.seed}, ${o.hours} h × ` +
      `${o.symbols.length} symbols (${o.symbols.join(", ")}), ` +
      ((o.profile ?? "seed") === "seed"
        ? `one event per symbol every ${o.frequencySeconds} s, `
        : "trades as the profile's arrival process, ") +
      `anomaly probability ${o.anomalyProbability}`
    : `file ${s.file} (${s.labelled ? "labelled" : "unlabelled"})`;
  out.push(`## Evaluation: ${what}`);
  out.push("");
  out.push(
    `Training: the first ${o.trainHours} h (${
      int(s.train_events)
    } events, from ${s.train_from}). ` +
      `Test: ${s.test_hours.toFixed(2)} h from ${s.test_from} ` +
      `(${int(s.test_events)} events, ${s.test_symbol_hours.toFixed(1)} symbol-hours` +
      (s.labelled ? `, ${int(s.injected.ALL ?? 0)} injected anomalies` : "") + `). ` +
      `Window ${o.windowSeconds} s, MIN_WINDOW_EVENTS ${o.minWindowEvents}, ${o.trees} trees, ` +
      `contamination ${o.contamination}, seed ${o.seed}.`,
  );
  out.push("");
  out.push(`Command: \`${r.command}\``);
  out.push("");
  for (const [name, why] of Object.entries(r.skipped ?? {})) {
    out.push(`Not run: ${name} (${why}).`);
    out.push("");
  }
  if (s.labelled && r.summary) {
    out.push(`### Summary (what detection v2 is judged on)`);
    out.push("");
    out.push(
      `Within T: an alert of the symbol in [t, t + T] of each labelled event. False incident: an ` +
        `incident (alerts of a symbol less than ${r.options.gapMs / 1000} s apart) that overlaps ` +
        `no labelled event's [t, t + ${o.toleranceMs / 1000} s]; incident precision: the share ` +
        `that does. Event F1: each event's own verdict.`,
    );
    out.push("");
    out.push(summaryEntries(r.detectors.map((d) => [d.label, r.summary![d.detector]])));
    out.push("");
  }
  if (s.labelled && r.episodes) {
    out.push(`### Episodes`);
    out.push("");
    out.push(
      `An episode (every labelled event of one injected anomaly; one event on the seed profile) ` +
        `is detected when an alert of its symbol falls between its first event and ` +
        `${o.toleranceMs / 1000} s after its last; delay from its first event.`,
    );
    out.push("");
    out.push(episodeTable(r.detectors.map((d) => [d.label, r.episodes![d.detector]])));
    out.push("");
  }
  if (s.labelled) {
    out.push(`### Detection by anomaly type`);
    out.push("");
    out.push(
      `Detected within T: an alert for the same symbol in [t, t + T]. Delays: of the events ` +
        `detected within 60 s.`,
    );
    out.push("");
    const rows: (string | number)[][] = [];
    for (const d of r.detectors) {
      for (const k of [...ANOMALY_TYPES, "ALL"] as const) {
        const t = d.report!.detection[k];
        if (t.injected === 0) continue;
        rows.push([
          d.label,
          k,
          int(t.injected),
          ...t.detected_within.map((h) => pct(h.rate)),
          pct(t.own_row_flagged),
          ms(t.delay_ms.median),
          ms(t.delay_ms.p95),
        ]);
      }
    }
    out.push(table(
      [
        "detector",
        "type",
        "injected",
        "≤ 1 s",
        "≤ 5 s",
        "≤ 60 s",
        "own row flagged",
        "median delay",
        "p95 delay",
      ],
      "llrrrrrrr",
      rows,
    ));
    out.push("");
    out.push(`### Alerts, false alarms and event-level quality`);
    out.push("");
    out.push(
      `False alarm: an alert with no labelled event of its symbol in the ` +
        `${o.toleranceMs / 1000} s before it. ` +
        `Event level: an event is predicted positive when its own row was flagged ` +
        `(baseline: when its window was flagged); ROC-AUC and AP rank scored events by ` +
        `−anomaly_score.`,
    );
    out.push("");
    out.push(summaryTable(r.detectors));
    out.push("");
    out.push(
      `### What drove the false alarms (feature with the largest |z| under the model's scaler)`,
    );
    out.push("");
    out.push(table(
      ["detector", ...FEATURE_NAMES],
      "l" + "r".repeat(FEATURE_NAMES.length),
      r.detectors.map((
        d,
      ) => [d.label, ...FEATURE_NAMES.map((f) => d.false_alarm_drivers?.[f] ?? 0)]),
    ));
    out.push("");
    out.push(`### Event-level false positives: what came just before them`);
    out.push("");
    out.push(
      `Snap-back: the symbol's previous event was a price spike or crash. The other normal ` +
        `events are grouped by the anomalies of their symbol in the ${o.windowSeconds} s ` +
        `before them; each cell is the share of those events that was flagged (and how many ` +
        `events the group holds).`,
    );
    out.push("");
    const first = r.detectors[0].false_positive_anatomy!;
    const cell = (b: { rate: number | null; events: number }) =>
      `${b.rate === null ? "–" : `${(100 * b.rate).toFixed(2)}%`} (${compact(b.events)})`;
    out.push(table(
      [
        "detector",
        "false positives",
        "of them snap-backs",
        ...first.by_volume_spikes_in_window.map((b) => `${b.key} volume spikes`),
        ...first.by_price_anomalies_in_window.map((b) => `${b.key} price anomalies`),
      ],
      "lrr" + "r".repeat(2 * first.by_volume_spikes_in_window.length),
      r.detectors.map((d) => {
        const a = d.false_positive_anatomy!;
        return [
          d.label,
          int(a.false_positives),
          int(a.snap_back.false_positives),
          ...a.by_volume_spikes_in_window.map(cell),
          ...a.by_price_anomalies_in_window.map(cell),
        ];
      }),
    ));
    out.push("");
  } else {
    out.push(
      `### Score distribution over the test period (decision function, negative = anomalous)`,
    );
    out.push("");
    out.push(table(
      ["detector", "min", "p1", "p5", "p25", "p50", "p95", "max", "flagged"],
      "lrrrrrrrr",
      r.detectors.map((d) => {
        const q = d.score_distribution;
        return [
          d.label,
          num(q?.min),
          num(q?.p1),
          num(q?.p5),
          num(q?.p25),
          num(q?.p50),
          num(q?.p95),
          num(q?.max),
          q ? pct(q.flagged_share) : "–",
        ];
      }),
    ));
    out.push("");
    out.push(table(
      ["detector", "alerts", "alerts per hour", "alerts per symbol-hour"],
      "lrrr",
      r.detectors.map((d) => [
        d.label,
        int(d.alerts),
        num(d.alerts_per_hour, 1),
        num(d.alerts_per_symbol_hour, 1),
      ]),
    ));
    out.push("");
  }
  for (const d of r.detectors) {
    if (d.top_alerts.length === 0) continue;
    out.push(`### Strongest alerts: ${d.label}`);
    out.push("");
    out.push(table(
      [
        "time (UTC)",
        "symbol",
        "score",
        "price",
        "volume",
        "label",
        "drivers (largest absolute z first)",
      ],
      "llrrrll",
      d.top_alerts.slice(0, 10).map((a) => [
        a.time,
        a.symbol,
        num(a.anomaly_score, 4),
        a.price ?? "–",
        a.volume === undefined ? "–" : num(a.volume, 4),
        a.label === null ? "?" : a.label ? (a.anomaly_type ?? "anomaly") : "normal",
        a.drivers.slice(0, 3).map((x) => `${x.feature} ${x.z >= 0 ? "+" : ""}${x.z.toFixed(1)}σ`)
          .join(", "),
      ]),
    ));
    out.push("");
  }
  if (r.sweep !== null && s.labelled) {
    out.push(`### Contamination sweep (precision–recall trade-off)`);
    out.push("");
    const order = [...new Set(r.sweep.map((d) => d.detector))];
    const rows = [...r.sweep].sort((a, b) =>
      order.indexOf(a.detector) - order.indexOf(b.detector) ||
      Number(a.contamination) - Number(b.contamination)
    ).map((d) => {
      const e = d.report!.event_level, f = d.report!.false_alarms, all = d.report!.detection.ALL;
      return [
        d.label,
        String(d.contamination),
        num(f.alerts_per_symbol_hour, 1),
        num(f.per_symbol_hour, 1),
        num(e.precision),
        num(e.recall),
        num(e.f1),
        ...all.detected_within.map((h) => pct(h.rate)),
      ];
    });
    out.push(table(
      [
        "detector",
        "contamination",
        "alerts / symbol-h",
        "false alarms / symbol-h",
        "precision",
        "recall",
        "F1",
        "det. ≤ 1 s",
        "≤ 5 s",
        "≤ 60 s",
      ],
      "lrrrrrrrrr",
      rows,
    ));
    out.push("");
  }
  const m = r.machine;
  out.push(
    `Ran in ${r.runtime.seconds.toFixed(1)} s (${compact(r.runtime.events_per_second)} events/s ` +
      `end to end) on ${m.cpu}, ${m.cores} cores, ${m.memory_gib ?? "?"} GiB, ${m.os}, ` +
      `Deno ${m.deno}.`,
  );
  return out.join("\n") + "\n";
}

function summaryTable(ds: readonly DetectorResult[]): string {
  return table(
    [
      "detector",
      "alerts",
      "alerts / symbol-hour",
      "false alarms",
      "false alarms / symbol-hour",
      "precision",
      "recall",
      "F1",
      "ROC-AUC",
      "AP",
    ],
    "lrrrrrrrrr",
    ds.map((d) => {
      const e = d.report!.event_level, f = d.report!.false_alarms;
      return [
        d.label,
        int(f.alerts),
        num(f.alerts_per_symbol_hour, 1),
        int(f.false_alarms),
        num(f.per_symbol_hour, 2),
        num(e.precision),
        num(e.recall),
        num(e.f1),
        num(e.roc_auc),
        num(e.average_precision),
      ];
    }),
  );
}

const SEED_FIGURES: readonly [keyof Headline, string, (x: number | null) => string][] = [
  ["false_alarms_per_symbol_hour", "false alarms / symbol-hour", (x) => num(x, 1)],
  ["precision", "precision", (x) => num(x)],
  ["recall", "recall", (x) => num(x)],
  ["f1", "F1", (x) => num(x)],
  ["roc_auc", "ROC-AUC", (x) => num(x)],
  ["average_precision", "AP", (x) => num(x)],
  ["detected_1s", "detected ≤ 1 s", pct],
  ["detected_5s", "≤ 5 s", pct],
  ["detected_60s", "≤ 60 s", pct],
];

/** `--seeds`: each figure as mean [min – max] over the seeds, then one row per seed. */
/** The summary table: one row per detector. */
export function summaryEntries(rows: [string, SummaryEntry | undefined][]): string {
  const t = (e: SummaryEntry, k: string, w: "within_1s" | "within_5s") =>
    pct(e.by_type[k as keyof SummaryEntry["by_type"]]?.[w] ?? null);
  return table(
    [
      "detector",
      "≤ 1 s",
      "≤ 5 s",
      "false incidents / symbol-h",
      "incident precision",
      "event F1",
      "PRICE_SPIKE ≤ 1 s",
      "FLASH_CRASH ≤ 1 s",
      "VOLUME_SPIKE ≤ 5 s",
    ],
    "lrrrrrrrr",
    rows.filter(([, e]) => e !== undefined).map(([label, e]) => [
      label,
      pct(e!.within_1s),
      pct(e!.within_5s),
      num(e!.false_incidents_per_symbol_hour, 2),
      num(e!.incident_precision),
      num(e!.event_f1),
      t(e!, "PRICE_SPIKE", "within_1s"),
      t(e!, "FLASH_CRASH", "within_1s"),
      t(e!, "VOLUME_SPIKE", "within_5s"),
    ]),
  );
}

/** Episode detection: one row per detector, a column per type present. */
export function episodeTable(
  rows: [string, Record<string, EpisodeDetection> | undefined][],
): string {
  const types = [...ANOMALY_TYPES, "ALL"].filter((k) => rows.some(([, e]) => e?.[k]));
  return table(
    ["detector", ...types],
    "l" + "r".repeat(types.length),
    rows.filter(([, e]) => e !== undefined).map(([label, e]) => [
      label,
      ...types.map((k) => {
        const d = e![k];
        return d ? `${pct(d.rate)} of ${int(d.episodes)} (${ms(d.median_delay_ms)})` : "–";
      }),
    ]),
  );
}

export function renderSeedsMarkdown(r: SeedsResult): string {
  const o = r.options;
  const out: string[] = [];
  out.push(
    `## Evaluation over ${r.seeds.length} seeds (${r.seeds.join(", ")}): simulated ` +
      `${o.hours} h × ${o.symbols.length} symbols, anomaly probability ${o.anomalyProbability}, ` +
      `training on the first ${o.trainHours} h, contamination ${o.contamination}, ${o.trees} trees`,
  );
  out.push("");
  out.push(`Command: \`${r.command}\``);
  out.push("");
  out.push(`### Mean over seeds of the summary`);
  out.push("");
  out.push(summaryEntries(
    Object.entries(r.summary_mean).map(([name, e]) => [
      r.summary.find((d) => d.detector === name)?.label ?? name,
      e,
    ]),
  ));
  out.push("");
  out.push(
    `Each cell: mean [min – max] over the seeds (the stream and the forest change with the seed).`,
  );
  out.push("");
  out.push(table(
    ["detector", ...SEED_FIGURES.map(([, label]) => label)],
    "l" + "r".repeat(SEED_FIGURES.length),
    r.summary.map((d) => [
      d.label,
      ...SEED_FIGURES.map(([key, , f]) => {
        const s = d.figures[key];
        return s.mean === null ? "–" : `${f(s.mean)} [${f(s.min)} – ${f(s.max)}]`;
      }),
    ]),
  ));
  out.push("");
  out.push(`### Per seed`);
  out.push("");
  out.push(table(
    ["seed", "detector", ...SEED_FIGURES.map(([, label]) => label)],
    "rl" + "r".repeat(SEED_FIGURES.length),
    r.runs.flatMap((run) =>
      run.headlines.map((h) => [
        run.seed,
        h.label,
        ...SEED_FIGURES.map(([key, , f]) => f(h[key] as number | null)),
      ])
    ),
  ));
  out.push("");
  const m = r.machine;
  out.push(
    `Ran in ${r.runtime.seconds.toFixed(1)} s on ${m.cpu}, ${m.cores} cores, ` +
      `${m.memory_gib ?? "?"} GiB, ${m.os}, Deno ${m.deno}.`,
  );
  return out.join("\n") + "\n";
}
