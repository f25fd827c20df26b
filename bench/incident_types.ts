/**
 * What Sentinel called each labelled episode (`deno task incident-types`):
 * reads a backtest's `--predictions-out` and `--incidents-out` files (from
 * `deno task eval`, on a simulated profile or on a labelled file of your
 * own) and tabulates each episode's type against the type of the first
 * incident of its symbol that overlaps it (its first trade to 5 s after its
 * last). An analyst reads an incident's type before anything else; this is
 * how often that word is right.
 *
 *   deno task eval --profile=realistic --hours=12 --predictions-out=P.csv --incidents-out=I.csv
 *   deno task incident-types --predictions=P.csv --incidents=I.csv
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseCsv } from "../islands/shared/csv.ts";
import { EpisodeCollector, type EpisodeSpan } from "./eval_incidents.ts";
import type { AnomalyType } from "../lib/contracts.ts";
import { groupBy } from "../lib/group.ts";

/** The incident types that describe an episode type's shape (PRICE_SPIKE goes either way). */
export const EXPECTED_TYPES: Readonly<Record<AnomalyType, readonly string[]>> = {
  PRICE_SPIKE: ["spike", "crash"],
  FLASH_CRASH: ["crash"],
  LEVEL_SHIFT: ["level_shift"],
  VOLUME_SPIKE: ["volume_burst"],
  VOLUME_BURST: ["volume_burst"],
  PUMP_AND_DUMP: ["spike", "volatility_regime", "volume_burst"],
};

/** The part of an incident this report reads. */
export interface IncidentSpan {
  symbol: string;
  type: string;
  start_ms: number;
  end_ms: number;
}

/** Per episode type: how many, how many an incident covered, how many with an expected type, and the types given. */
export interface TypeRow {
  episodes: number;
  detected: number;
  typed_as_expected: number;
  /** incident type → episodes ("-": no incident) */
  given: Record<string, number>;
}

/**
 * Tabulates episode type against incident type.
 *
 * @example
 * ```ts
 * import { typeConfusion } from "./incident_types.ts";
 * const eps = [{ type: "LEVEL_SHIFT" as const, symbol: "A", first_ms: 0, last_ms: 100, events: 3 }];
 * const inc = [{ symbol: "A", type: "level_shift", start_ms: 50, end_ms: 60 }];
 * console.log(typeConfusion(eps, inc, 5000).LEVEL_SHIFT.typed_as_expected); // 1
 * ```
 */
export function typeConfusion(
  episodes: readonly EpisodeSpan[],
  incidents: readonly IncidentSpan[],
  toleranceMs: number,
): Record<string, TypeRow> {
  const bySymbol = groupBy(incidents, (i) => i.symbol);
  for (const l of bySymbol.values()) l.sort((a, b) => a.start_ms - b.start_ms);
  const out: Record<string, TypeRow> = {};
  for (const ep of episodes) {
    const row = out[ep.type] ??= { episodes: 0, detected: 0, typed_as_expected: 0, given: {} };
    row.episodes++;
    const hit = (bySymbol.get(ep.symbol) ?? []).find((i) =>
      i.start_ms <= ep.last_ms + toleranceMs && i.end_ms >= ep.first_ms
    );
    const given = hit?.type ?? "-";
    row.given[given] = (row.given[given] ?? 0) + 1;
    if (hit) {
      row.detected++;
      if (EXPECTED_TYPES[ep.type]?.includes(hit.type)) row.typed_as_expected++;
    }
  }
  return out;
}

/** Lines of a CSV file, header first, parsed one by one (files of millions of lines). */
async function* csvRecords(path: string): AsyncGenerator<Record<string, string>> {
  const file = await Deno.open(path);
  let header: string[] | null = null;
  let rest = "";
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
      if (line === "") continue;
      const fields = parseCsv(line + "\n")[0];
      if (header === null) header = fields;
      else yield Object.fromEntries(header.map((h, k) => [h, fields[k] ?? ""]));
    }
  }
  if (rest.trim() !== "" && header !== null) {
    const fields = parseCsv(rest + "\n")[0];
    yield Object.fromEntries(header.map((h, k) => [h, fields[k] ?? ""]));
  }
}

/** Episodes from a `--predictions-out` file (labelled rows with an anomaly type). */
export async function readEpisodes(path: string): Promise<EpisodeSpan[]> {
  const episodes = new EpisodeCollector();
  for await (const r of csvRecords(path)) {
    if (r.label !== "true" || r.anomaly_type === "") continue;
    episodes.note(
      r.symbol,
      r.anomaly_type as AnomalyType,
      r.episode_id !== "" ? r.episode_id : undefined,
      Number(r.ts_ms),
    );
  }
  return episodes.episodes();
}

/** Incidents from an `--incidents-out` file. */
export async function readIncidents(path: string): Promise<IncidentSpan[]> {
  const out: IncidentSpan[] = [];
  for await (const r of csvRecords(path)) {
    out.push({
      symbol: r.symbol,
      type: r.type,
      start_ms: Number(r.start_ms),
      end_ms: Number(r.end_ms),
    });
  }
  return out;
}

/** The report as a Markdown table. */
export function renderTypes(rows: Record<string, TypeRow>): string {
  const lines = [
    "| episode type | episodes | covered by an incident | typed as its shape | types given (first overlapping incident) |",
    "| --- | ---: | ---: | ---: | --- |",
  ];
  for (const [type, r] of Object.entries(rows).sort()) {
    const given = Object.entries(r.given).sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${t === "-" ? "none" : t} ${n}`).join(", ");
    const share = r.detected ? ` (${Math.round((100 * r.typed_as_expected) / r.detected)} %)` : "";
    lines.push(
      `| ${type} | ${r.episodes} | ${r.detected} | ${r.typed_as_expected}${share} | ${given} |`,
    );
  }
  return lines.join("\n") + "\n";
}

const HELP = `deno task incident-types --predictions=P.csv --incidents=I.csv [--tolerance=5]

Episode type against the type of the incident that covered it, from the files
\`deno task eval --predictions-out=P.csv --incidents-out=I.csv\` writes.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      predictions: { type: "string" },
      incidents: { type: "string" },
      tolerance: { type: "string", default: "5" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const tolerance = Number(values.tolerance);
  if (!values.predictions || !values.incidents || !(tolerance >= 0)) {
    console.error(`incident-types: need --predictions=P.csv and --incidents=I.csv\n\n${HELP}`);
    return 2;
  }
  const [episodes, incidents] = await Promise.all([
    readEpisodes(values.predictions),
    readIncidents(values.incidents),
  ]);
  console.log(renderTypes(typeConfusion(episodes, incidents, tolerance * 1000)));
  return 0;
}

if (import.meta.main) Deno.exit(await main());
