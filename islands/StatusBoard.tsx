/**
 * The System Status page's live part: a card per service, the pipeline flow
 * diagram with counts and rates on each arrow, and the active model's
 * parameters and training report. It polls `/system-status`, `/stats` and
 * `/metrics` every few seconds (and `/model-info` when the model changes).
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  apiJson,
  apiText,
  type ModelInfo,
  type ServiceStatus,
  type StatsResponse,
  type SystemStatus,
  trainingProgress,
} from "./shared/api.ts";
import { type FlowRates, flowRates, type FlowSample, flowSample } from "./shared/flow.ts";
import {
  fmtDateTime,
  fmtDuration,
  fmtInt,
  fmtMs,
  fmtNum,
  fmtPct,
  fmtRate,
} from "./shared/format.ts";
import { FEATURE_LABELS, FEATURE_NAMES } from "./shared/features.ts";
import { V1 } from "./shared/paths.ts";
import { WebhookPanel, type WebhookStatus } from "./shared/WebhookPanel.tsx";

/** How the pipeline is laid out in this deployment. */
export interface Topology {
  /** `simulated`, `binance` or `replay` */
  source: string;
  symbols: string[];
  /** WINDOW_SECONDS */
  windowSeconds: number;
  /** null in embedded mode (an in-process channel) */
  kafka: { topic: string; brokers: string[] } | null;
}

/** Props of {@linkcode StatusBoard} (plain JSON: they travel in the page). */
export interface StatusBoardProps {
  status: SystemStatus;
  sample: FlowSample;
  model: ModelInfo | null;
  /** why there is no model (the API's 503 detail), when there is none */
  modelMessage: string | null;
  topology: Topology;
  pollMs: number;
  /** incident webhook delivery, or null when ALERT_WEBHOOK_URL is unset */
  webhooks: WebhookStatus | null;
}

const SERVICE_NAMES: Record<string, string> = {
  api: "API",
  kv: "Deno KV",
  scorer: "Scorer",
  "feature-worker": "Feature worker",
  trainer: "Trainer",
  kafka: "Kafka",
  binance: "Binance stream",
  source: "Source",
  webhooks: "Incident webhooks",
};

const SERVICE_ROLES: Record<string, string> = {
  api: "HTTP API, SSE and these pages",
  kv: "history, counters, model store",
  scorer: "Isolation Forest in the worker",
  "feature-worker": "windows → features → scores → KV",
  trainer: "fits and activates models",
  kafka: "event transport between roles",
  binance: "live trades WebSocket",
  source: "market events",
  webhooks: "incident notifications, at least once",
};

const STATUS_ICON = { online: "●", degraded: "◐", offline: "○" } as const;

function ServiceCard({ s }: { s: ServiceStatus }) {
  return (
    <article class={`card service ${s.status}`} data-service={s.name} data-status={s.status}>
      <header class="service-head">
        <h3>{SERVICE_NAMES[s.name] ?? s.name}</h3>
        <span class={`pill ${s.status}`}>
          <span aria-hidden="true">{STATUS_ICON[s.status]}</span> {s.status}
        </span>
      </header>
      <p class="muted small">{SERVICE_ROLES[s.name] ?? ""}</p>
      <p class="service-latency">
        <span class="muted">latency</span> {s.latency_ms === null ? "–" : fmtMs(s.latency_ms)}
      </p>
      <p class="service-detail">{s.detail}</p>
    </article>
  );
}

type Health = ServiceStatus["status"] | "none";

function health(status: SystemStatus, ...names: string[]): Health {
  const found = status.services.filter((s) => names.includes(s.name));
  if (!found.length) return "none";
  if (found.some((s) => s.status === "offline")) return "offline";
  if (found.some((s) => s.status === "degraded")) return "degraded";
  return "online";
}

function Node(p: { title: string; sub: string; health: Health; id: string }) {
  return (
    <div class={`flow-node ${p.health}`} data-node={p.id}>
      <strong>{p.title}</strong>
      <span class="muted small">{p.sub}</span>
    </div>
  );
}

function Arrow(p: { lines: [string, string][]; id: string }) {
  return (
    <div class="flow-arrow" data-arrow={p.id}>
      <div class="flow-arrow-text">
        {p.lines.map(([label, value]) => (
          <span key={label}>
            <span class="muted">{label}</span> <b>{value}</b>
          </span>
        ))}
      </div>
      <div class="flow-arrow-line" aria-hidden="true" />
    </div>
  );
}

function FlowDiagram(
  p: { status: SystemStatus; sample: FlowSample; rates: FlowRates | null; topology: Topology },
) {
  const { sample: s, rates: r, topology: t, status } = p;
  const rate = (x: keyof FlowRates) => r ? fmtRate(r[x]) : "measuring…";
  const scorer = status.services.find((x) => x.name === "scorer")?.detail ?? "";
  return (
    <div class="flow" role="group" aria-label="pipeline flow">
      <Node
        id="source"
        title={`Source: ${t.source}`}
        sub={`${t.symbols.length} symbol(s): ${t.symbols.join(", ")}`}
        health={health(status, "source", "binance")}
      />
      <Arrow
        id="events"
        lines={[["events", fmtInt(s.events)], ["rate", rate("events")], [
          "rejected",
          fmtInt(s.rejected),
        ]]}
      />
      <Node
        id="transport"
        title={t.kafka ? "Kafka" : "In-process channel"}
        sub={t.kafka ? `topic ${t.kafka.topic} · ${t.kafka.brokers.join(", ")}` : "embedded mode"}
        health={t.kafka ? health(status, "kafka") : health(status, "feature-worker")}
      />
      <Arrow
        id="rows"
        lines={[["feature rows", fmtInt(s.rows)], ["rate", rate("rows")], [
          "warm-up",
          fmtInt(s.warmUp),
        ]]}
      />
      <Node
        id="worker"
        title="Worker: features + scoring"
        sub={`${t.windowSeconds} s windows → Isolation Forest · ${scorer}`}
        health={health(status, "feature-worker", "scorer")}
      />
      <Arrow
        id="predictions"
        lines={[
          ["predictions", fmtInt(s.predictions)],
          ["rate", rate("predictions")],
          ["anomalies", `${fmtInt(s.anomalies)} (${r ? fmtRate(r.anomalies) : "…"})`],
        ]}
      />
      <Node
        id="kv"
        title="Deno KV"
        sub="history · counters · models"
        health={health(status, "kv")}
      />
      <Arrow
        id="sse"
        lines={[["SSE events", fmtInt(s.sseEvents)], ["rate", rate("sseEvents")], [
          "clients",
          fmtInt(s.sseClients),
        ]]}
      />
      <Node
        id="api"
        title="API · SSE · dashboard"
        sub={`event → prediction p50 ${
          s.latencyP50 === null ? "–" : `≤ ${fmtMs(s.latencyP50 * 1000)}`
        }`}
        health={health(status, "api")}
      />
    </div>
  );
}

function ModelPanel(p: { model: ModelInfo | null; message: string | null; status: SystemStatus }) {
  const m = p.model;
  if (!m) {
    const trainer = p.status.services.find((s) => s.name === "trainer");
    const progress = trainer ? trainingProgress(trainer.detail) : null;
    return (
      <div class="card waiting" data-model="none">
        <h3>No model yet</h3>
        <p>
          {progress
            ? `Training the first model as soon as ${fmtInt(progress.need)} feature rows exist: ${
              fmtInt(progress.have)
            } / ${fmtInt(progress.need)} so far.`
            : p.message ?? "The trainer has not activated a model yet."}
        </p>
        {progress
          ? (
            <progress
              max={progress.need}
              value={Math.min(progress.have, progress.need)}
              aria-label="rows collected for the first model"
            />
          )
          : null}
        {trainer ? <p class="muted small">trainer: {trainer.detail}</p> : null}
        <p class="muted small">
          Predictions, the live feed and the manual test start as soon as the first model is active.
        </p>
      </div>
    );
  }
  const rep = m.training.report;
  const span = (m.training.to_ts - m.training.from_ts) / 1000;
  return (
    <div class="model-grid" data-model={m.model_id}>
      <div class="card">
        <h3>Active model</h3>
        <dl class="kv-list">
          <dt>id</dt>
          <dd class="mono">{m.model_id}</dd>
          <dt>created</dt>
          <dd>{fmtDateTime(m.created_at)}</dd>
          <dt>activated</dt>
          <dd>{fmtDateTime(m.activated_at)}</dd>
          <dt>trees</dt>
          <dd>{m.params.n_estimators}</dd>
          <dt>samples per tree</dt>
          <dd>{m.params.max_samples}</dd>
          <dt>contamination</dt>
          <dd>{String(m.params.contamination)}</dd>
          <dt>seed</dt>
          <dd>{m.params.seed}</dd>
          <dt>decision offset</dt>
          <dd>{fmtNum(m.offset, 4)}</dd>
          <dt>size</dt>
          <dd>{`${fmtInt(m.size.bytes / 1024)} KiB in ${m.size.chunks} KV chunk(s)`}</dd>
        </dl>
      </div>
      <div class="card">
        <h3>Training data</h3>
        <dl class="kv-list">
          <dt>rows</dt>
          <dd>{fmtInt(m.training.rows)}</dd>
          <dt>symbols</dt>
          <dd>{m.training.symbols.join(", ")}</dd>
          <dt>from</dt>
          <dd>{fmtDateTime(m.training.from_ts)}</dd>
          <dt>to</dt>
          <dd>{fmtDateTime(m.training.to_ts)} ({fmtDuration(span)})</dd>
          <dt>flagged in training</dt>
          <dd>{fmtPct(rep.train_scores.flagged_share)}</dd>
          <dt>score p1 / p50 / p99</dt>
          <dd>
            {`${fmtNum(rep.train_scores.p1, 3)} / ${fmtNum(rep.train_scores.p50, 3)} / ${
              fmtNum(rep.train_scores.p99, 3)
            }`}
          </dd>
        </dl>
        <div class="table-scroll">
          <table class="table compact">
            <caption>scaler (what the forest sees: (x − mean) / scale)</caption>
            <thead>
              <tr>
                <th>feature</th>
                <th class="num">mean</th>
                <th class="num">scale</th>
              </tr>
            </thead>
            <tbody>
              {FEATURE_NAMES.map((f) => (
                <tr key={f}>
                  <td>{FEATURE_LABELS[f]}</td>
                  <td class="num">{fmtNum(m.scaler.mean[f], 4)}</td>
                  <td class="num">{fmtNum(m.scaler.scale[f], 4)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <div class="card">
        <h3>Training report</h3>
        {rep.kind === "holdout"
          ? (
            <>
              <p class="muted small">
                {`holdout of ${fmtInt(rep.test_rows)} labelled rows (${
                  fmtPct(rep.test_fraction, 0)
                }), trained on ${fmtInt(rep.train_rows)}`}
              </p>
              <div class="table-scroll">
                <table class="table compact">
                  <thead>
                    <tr>
                      <th>class</th>
                      <th class="num">precision</th>
                      <th class="num">recall</th>
                      <th class="num">F1</th>
                      <th class="num">support</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(["normal", "anomaly"] as const).map((k) => (
                      <tr key={k}>
                        <td>{k}</td>
                        <td class="num">{fmtNum(rep.holdout[k].precision, 3)}</td>
                        <td class="num">{fmtNum(rep.holdout[k].recall, 3)}</td>
                        <td class="num">{fmtNum(rep.holdout[k].f1, 3)}</td>
                        <td class="num">{fmtInt(rep.holdout[k].support)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div class="confusion">
                <div class="table-scroll">
                  <table class="table compact">
                    <caption>confusion matrix (rows: label, columns: verdict)</caption>
                    <thead>
                      <tr>
                        <th></th>
                        <th class="num">normal</th>
                        <th class="num">anomaly</th>
                      </tr>
                    </thead>
                    <tbody>
                      {(["normal", "anomaly"] as const).map((k, i) => (
                        <tr key={k}>
                          <th>{k}</th>
                          <td class="num">{fmtInt(rep.holdout.confusion_matrix[i][0])}</td>
                          <td class="num">{fmtInt(rep.holdout.confusion_matrix[i][1])}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <dl class="kv-list">
                  <dt>accuracy</dt>
                  <dd>{fmtNum(rep.holdout.accuracy, 4)}</dd>
                  <dt>ROC-AUC</dt>
                  <dd>{fmtNum(rep.holdout.roc_auc, 4)}</dd>
                  <dt>average precision</dt>
                  <dd>{fmtNum(rep.holdout.average_precision, 4)}</dd>
                </dl>
              </div>
            </>
          )
          : (
            <p>
              {`Trained on ${
                fmtInt(rep.train_rows)
              } unlabelled rows (live data carries no labels), so there is no holdout report; the score distribution above is what the model learned.`}
            </p>
          )}
      </div>
    </div>
  );
}

/** The live System Status board. */
export default function StatusBoard(props: StatusBoardProps) {
  const [status, setStatus] = useState(props.status);
  const [sample, setSample] = useState(props.sample);
  const [rates, setRates] = useState<FlowRates | null>(null);
  const [model, setModel] = useState(props.model);
  const [modelMessage, setModelMessage] = useState(props.modelMessage);
  const [problem, setProblem] = useState<string | null>(null);
  const prev = useRef(props.sample);
  const modelId = useRef(props.model?.model_id ?? null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      const [st, stats, metrics] = await Promise.all([
        apiJson<SystemStatus>(V1.systemStatus),
        apiJson<StatsResponse>(V1.stats),
        apiText("/metrics"),
      ]);
      if (stopped) return;
      if (!st.ok || !stats.ok || !metrics.ok) {
        const bad = [st, stats, metrics].find((r) => !r.ok) as { error: string; detail: string };
        setProblem(`cannot refresh: ${bad.error}${bad.detail ? ` (${bad.detail})` : ""}`);
      } else {
        setProblem(null);
        setStatus(st.value);
        const next = flowSample(Date.parse(st.value.checked_at), stats.value, metrics.value);
        const r = flowRates(prev.current, next);
        if (r) {
          setRates(r);
          prev.current = next;
        }
        setSample(next);
        const scorer = st.value.services.find((s) => s.name === "scorer");
        const live = scorer?.status === "online" ? /model (\S+)/.exec(scorer.detail)?.[1] : null;
        if (live && live !== modelId.current) {
          const info = await apiJson<ModelInfo>(V1.modelInfo);
          if (stopped) return;
          if (info.ok) {
            modelId.current = info.value.model_id;
            setModel(info.value);
            setModelMessage(null);
          } else setModelMessage(info.detail || info.error);
        }
      }
      timer = setTimeout(poll, props.pollMs);
    };
    // The first refresh comes soon, so rates appear without waiting a whole period.
    timer = setTimeout(poll, Math.min(1000, props.pollMs));
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  const counts = { online: 0, degraded: 0, offline: 0 };
  for (const s of status.services) counts[s.status]++;
  return (
    <div class="stack">
      <section aria-labelledby="services-h">
        <div class="section-head">
          <h2 id="services-h">Services</h2>
          <span class={`pill ${status.status}`} data-overall={status.status}>
            {`${counts.online} online · ${counts.degraded} degraded · ${counts.offline} offline`}
          </span>
          <span class="muted small">checked {fmtDateTime(status.checked_at)}</span>
        </div>
        {problem ? <p class="notice bad">{problem}</p> : null}
        <div class="grid cards">
          {status.services.map((s) => <ServiceCard key={s.name} s={s} />)}
        </div>
      </section>
      <section aria-labelledby="flow-h">
        <div class="section-head">
          <h2 id="flow-h">Pipeline</h2>
          <span class="muted small">
            counts since the store was created; rates over the last refresh
          </span>
        </div>
        <FlowDiagram status={status} sample={sample} rates={rates} topology={props.topology} />
      </section>
      {props.webhooks
        ? (
          <section aria-labelledby="webhooks-h">
            <div class="section-head">
              <h2 id="webhooks-h">Incident webhooks</h2>
              <span class="muted small">delivery through the KV outbox, at least once</span>
            </div>
            <WebhookPanel initial={props.webhooks} pollMs={props.pollMs} />
          </section>
        )
        : null}
      <section aria-labelledby="model-h">
        <div class="section-head">
          <h2 id="model-h">Model</h2>
        </div>
        <ModelPanel model={model} message={modelMessage} status={status} />
      </section>
    </div>
  );
}
