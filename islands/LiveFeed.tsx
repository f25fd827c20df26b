/**
 * The Live Feed: predictions pushed by the server over SSE (`/events`), not
 * polled. The page arrives with the newest predictions already in it; once
 * hydrated it opens an EventSource and, when that is open, fetches
 * `/latest-predictions` once to fill the moment between the page's render
 * and the subscription (duplicates are dropped). `/system-status` is read
 * every few seconds for the one number SSE does not carry: the worker's
 * event-to-prediction latency (and, before the first model, what the system
 * is waiting for).
 *
 * @module
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  API_SOURCE,
  apiJson,
  type LivePrediction,
  type ModelInfo,
  sourceProblem,
  type SystemStatus,
  waitingReason,
} from "./shared/api.ts";
import { drivers, type ScalerView } from "./shared/drivers.ts";
import { fmtInt, fmtMs, fmtNum, fmtPct, fmtPrice, fmtRate, fmtTime } from "./shared/format.ts";
import { Gauge } from "./shared/Gauge.tsx";
import { DriverBars } from "./shared/DriverBars.tsx";
import { PlotChart } from "./shared/PlotChart.tsx";
import { FACET_HEIGHT, scoreChart } from "./shared/scoreChart.ts";
import { mean, ratePerSecond } from "./shared/stats.ts";
import { V1 } from "./shared/paths.ts";
import type { Incident } from "./shared/incidents.ts";
import { applyIncident, livePriceChart, PRICE_HEIGHT } from "./shared/priceChart.ts";

/** Props of {@linkcode LiveFeed} (plain JSON). */
export interface LiveFeedProps {
  symbols: string[];
  /** the newest predictions when the page was rendered, oldest first */
  initial: LivePrediction[];
  /** the active model (for the alert explanations and the threshold), or null */
  model: { id: string; scaler: ScalerView } | null;
  /** expected share of anomalies (CONTAMINATION), the gauge's reference */
  expectedRate: number;
  status: SystemStatus;
  /** the history depths offered (points in view) */
  depths: number[];
  defaultDepth: number;
  statusPollMs: number;
  /** recent incidents when the page was rendered, newest first (then kept by `incident` events) */
  incidents: Incident[];
}

type Connection = "connecting" | "live" | "reconnecting" | "closed";

/** Alerts kept in the list. */
const MAX_ALERTS = 24;
/** The view is redrawn at most this often (SSE may bring dozens of predictions a second). */
const REDRAW_MS = 500;

const keyOf = (p: LivePrediction) =>
  `${p.symbol}|${p.ts_ms}|${p.trade_id ?? ""}|${p.source ?? ""}|${p.anomaly_score}`;

function labelTag(p: LivePrediction) {
  if (p.source === "api") return <span class="tag">manual test</span>;
  if (p.label === true) {
    return <span class="tag labelled">{`labelled ${p.anomaly_type ?? "anomaly"}`}</span>;
  }
  if (p.label === false) return <span class="tag">no injected label</span>;
  return <span class="tag">unlabelled</span>;
}

function AlertCard({ p, scaler }: { p: LivePrediction; scaler: ScalerView | null }) {
  return (
    <li class="card alert" data-alert-id={p.id ?? ""} data-symbol={p.symbol}>
      <div class="alert-head">
        <strong>{p.symbol}</strong>
        <span class="muted small">{fmtTime(p.ts_ms)} UTC</span>
      </div>
      <div class="alert-head small">
        <span>
          {p.price === undefined ? "" : `price ${fmtPrice(p.price)}`}
          {p.volume === undefined ? "" : ` · volume ${fmtPrice(p.volume)}`}
        </span>
        {labelTag(p)}
      </div>
      <div class="small">
        score <b>{fmtNum(p.anomaly_score, 3)}</b> · severity <b>{fmtNum(p.severity, 3)}</b>
      </div>
      <DriverBars list={drivers(p, scaler)} />
    </li>
  );
}

function Kpi(p: { id: string; label: string; value: string; sub: string }) {
  return (
    <div class="card kpi" data-kpi={p.id}>
      <span class="kpi-label">{p.label}</span>
      <span class="kpi-value">{p.value}</span>
      <span class="kpi-sub">{p.sub}</span>
    </div>
  );
}

/** The live feed. */
export default function LiveFeed(props: LiveFeedProps) {
  const buffer = useRef<LivePrediction[]>(props.initial);
  const seen = useRef(new Set(props.initial.map(keyOf)));
  const [alerts, setAlerts] = useState<LivePrediction[]>(() =>
    props.initial.filter((p) => p.is_anomaly).reverse().slice(0, MAX_ALERTS)
  );
  const [tick, setTick] = useState(0);
  const [received, setReceived] = useState(0);
  const [conn, setConn] = useState<Connection>("connecting");
  const [symbol, setSymbol] = useState("");
  // Manual tests (POST /predict, source "api") stay out of the stats, rates and alerts unless shown.
  const [manual, setManual] = useState(false);
  const [incidents, setIncidents] = useState<Incident[]>(props.incidents ?? []);
  const [depth, setDepth] = useState(props.defaultDepth);
  const [paused, setPaused] = useState<{ buf: LivePrediction[]; received: number } | null>(null);
  const [status, setStatus] = useState(props.status);
  const [model, setModel] = useState(props.model);
  const arrivals = useRef<number[]>([]);
  const redraw = useRef<ReturnType<typeof setTimeout> | null>(null);
  const modelId = useRef(props.model?.id ?? null);
  const cap = Math.max(...props.depths) * Math.max(1, props.symbols.length);

  const schedule = () => {
    redraw.current ??= setTimeout(() => {
      redraw.current = null;
      setTick((t) => t + 1);
    }, REDRAW_MS);
  };

  const add = (list: LivePrediction[], live: boolean) => {
    let added = 0;
    const buf = buffer.current;
    for (const p of list) {
      const k = keyOf(p);
      if (seen.current.has(k)) continue;
      seen.current.add(k);
      // Live events arrive in time order; a backfilled one may be older than the newest.
      if (!buf.length || buf[buf.length - 1].ts_ms <= p.ts_ms) buf.push(p);
      else {
        let i = buf.length - 1;
        while (i > 0 && buf[i - 1].ts_ms > p.ts_ms) i--;
        buf.splice(i, 0, p);
      }
      if (p.source === API_SOURCE) continue;
      if (live) arrivals.current.push(Date.now() - p.ts_ms);
      added++;
    }
    if (buf.length > cap + 500) {
      const drop = buf.splice(0, buf.length - cap);
      for (const p of drop) seen.current.delete(keyOf(p));
    }
    if (arrivals.current.length > 200) arrivals.current.splice(0, arrivals.current.length - 200);
    if (added) {
      if (live) setReceived((n) => n + added);
      schedule();
    }
  };

  const addAlert = (p: LivePrediction) => {
    setAlerts((list) => {
      const k = keyOf(p);
      if (list.some((a) => keyOf(a) === k)) return list;
      return [p, ...list].sort((a, b) => b.ts_ms - a.ts_ms).slice(0, MAX_ALERTS);
    });
  };

  useEffect(() => {
    const es = new EventSource("/events");
    let backfilled = false;
    es.onopen = () => {
      setConn("live");
      if (backfilled) return;
      backfilled = true;
      apiJson<{ predictions: LivePrediction[] }>(`${V1.latestPredictions}?limit=500`).then((r) => {
        if (!r.ok) return;
        const older = r.value.predictions.slice().reverse();
        add(older, false);
        for (const p of older) if (p.is_anomaly) addAlert(p);
      });
    };
    es.onerror = () => setConn(es.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    es.addEventListener("prediction", (e) => {
      const p = JSON.parse((e as MessageEvent).data) as LivePrediction;
      p.id = (e as MessageEvent).lastEventId;
      add([p], true);
      // The server sends no `alert` for a manual test: it joins the alert list only when shown.
      if (p.is_anomaly && p.source === API_SOURCE) addAlert(p);
    });
    es.addEventListener("incident", (e) => {
      const { incident } = JSON.parse((e as MessageEvent).data) as { incident: Incident };
      setIncidents((list) => applyIncident(list, incident));
    });
    es.addEventListener("alert", (e) => {
      const p = JSON.parse((e as MessageEvent).data) as LivePrediction;
      p.id = (e as MessageEvent).lastEventId;
      addAlert(p);
    });
    // Leaving the page closes the stream on purpose rather than leaving the browser to abort it.
    const close = () => es.close();
    addEventListener("pagehide", close);
    return () => {
      es.close();
      removeEventListener("pagehide", close);
    };
  }, []);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      const r = await apiJson<SystemStatus>(V1.systemStatus);
      if (stopped) return;
      if (r.ok) setStatus(r.value);
      timer = setTimeout(poll, props.statusPollMs);
    };
    timer = setTimeout(poll, props.statusPollMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  // A new model: fetch its scaler so the alerts are explained in its terms.
  const newestModel = buffer.current.at(-1)?.model_id ?? null;
  useEffect(() => {
    if (!newestModel || newestModel === modelId.current) return;
    modelId.current = newestModel;
    apiJson<ModelInfo>(V1.modelInfo).then((r) => {
      if (r.ok) setModel({ id: r.value.model_id, scaler: r.value.scaler });
    });
  }, [newestModel]);

  const view = useMemo(() => {
    const out: LivePrediction[] = [];
    const buf = paused?.buf ?? buffer.current;
    for (let i = buf.length - 1; i >= 0 && out.length < depth; i--) {
      if ((!symbol || buf[i].symbol === symbol) && (manual || buf[i].source !== API_SOURCE)) {
        out.push(buf[i]);
      }
    }
    return out.reverse();
  }, [tick, symbol, depth, paused, manual]);

  const shownSymbols = symbol ? [symbol] : props.symbols;
  const anomalies = view.filter((p) => p.is_anomaly).length;
  const rate = view.length ? anomalies / view.length : null;
  const meanScore = view.length ? mean(view.map((p) => p.anomaly_score)) : null;
  const worker = status.services.find((s) => s.name === "feature-worker");
  const lag = arrivals.current.slice().sort((a, b) => a - b);
  const browserP50 = lag.length ? lag[Math.floor(lag.length / 2)] : null;
  const waiting = waitingReason(status);
  const perSecond = ratePerSecond(view.slice(-200).map((p) => p.ts_ms));
  const shownAlerts = alerts.filter((a) =>
    (!symbol || a.symbol === symbol) && (manual || a.source !== API_SOURCE)
  ).slice(0, 12);
  const expected = props.expectedRate;
  const gaugeMax = Math.max(expected * 5, 0.02);

  let empty: string | null = null;
  if (!view.length) {
    empty = waiting
      ? "No predictions to plot yet: no model is scoring."
      : symbol
      ? `No predictions for ${symbol} yet.`
      : conn === "live"
      ? "Connected; waiting for the first prediction…"
      : "Connecting to the live stream…";
  }

  // Connected to this server is not live data: a dead source (Binance offline) must not look green.
  const source = sourceProblem(status);
  const connLabel = paused
    ? `paused · ${fmtInt(received - paused.received)} new`
    : conn === "live" && source
    ? `connected · source ${source.status}`
    : conn === "live"
    ? "live"
    : conn;
  const pillClass = paused ? "paused" : conn === "live" && source ? "source-down" : conn;

  return (
    <div class="stack">
      <div class="controls" role="group" aria-label="feed controls">
        <label>
          symbol
          <select
            value={symbol}
            onChange={(e) => setSymbol((e.currentTarget as HTMLSelectElement).value)}
            name="symbol"
          >
            <option value="">all symbols</option>
            {props.symbols.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          history
          <select
            value={String(depth)}
            onChange={(e) => setDepth(Number((e.currentTarget as HTMLSelectElement).value))}
            name="depth"
          >
            {props.depths.map((d) => (
              <option key={d} value={String(d)}>{`${fmtInt(d)} points`}</option>
            ))}
          </select>
        </label>
        <label title="POST /predict results: kept in the history, left out of the stream's numbers">
          <input
            type="checkbox"
            name="manual"
            data-manual-toggle
            checked={manual}
            onChange={(e) => setManual((e.currentTarget as HTMLInputElement).checked)}
          />
          show manual tests
        </label>
        <button
          type="button"
          aria-pressed={paused !== null}
          data-action="pause"
          onClick={() => setPaused(paused ? null : { buf: buffer.current.slice(), received })}
        >
          {paused ? "Resume" : "Pause"}
        </button>
        <span
          class={`pill ${pillClass}`}
          data-connection={conn}
          data-source={source ? source.status : "online"}
        >
          {connLabel}
        </span>
      </div>
      {source
        ? (
          <p class="notice warn" data-source-down>
            {`No new market data: the ${
              source.name === "binance" ? "Binance stream" : "source"
            } is ${source.status} (${source.detail}). This page stays connected and shows new predictions as soon as it recovers.`}
          </p>
        )
        : null}
      {waiting && !view.length
        ? (
          <p class="notice warn" data-waiting>
            {`Waiting for the first model (${waiting}). Predictions appear here as soon as it is trained.`}
          </p>
        )
        : null}
      <div class="grid kpis">
        <Kpi
          id="received"
          label="Received"
          value={fmtInt(received)}
          sub={`over SSE since this page opened · ${fmtRate(perSecond)}`}
        />
        <Kpi
          id="anomalies"
          label="Anomalies"
          value={fmtInt(anomalies)}
          sub={`in the ${fmtInt(view.length)} points shown`}
        />
        <Kpi
          id="rate"
          label="Anomaly rate"
          value={fmtPct(rate)}
          sub={`expected about ${fmtPct(expected, 1)}`}
        />
        <Kpi
          id="score"
          label="Mean score"
          value={fmtNum(meanScore, 3)}
          sub="decision function; below 0 is anomalous"
        />
        <Kpi
          id="latency"
          label="Event → prediction"
          value={fmtMs(worker?.latency_ms ?? null)}
          sub={`worker, last batch · to this browser ${
            browserP50 === null ? "–" : `p50 ${fmtMs(browserP50)}`
          }`}
        />
        <div class="card gauge-card">
          <Gauge
            id="anomaly-rate"
            label="anomaly rate"
            value={rate}
            min={0}
            max={gaugeMax}
            text={fmtPct(rate)}
            caption={`anomaly rate · scale 0–${fmtPct(gaugeMax, 0)}`}
            zones={[
              { to: expected * 1.5, color: "var(--ok)" },
              { to: expected * 3, color: "var(--warn)" },
              { to: gaugeMax, color: "var(--bad)" },
            ]}
            marker={{ value: expected, label: `expected ${fmtPct(expected, 1)}` }}
          />
        </div>
      </div>
      <section aria-labelledby="price-h">
        <div class="section-head">
          <h2 id="price-h">Price</h2>
          <span class="muted small">
            per symbol; red dots are anomalies, red bands incidents (stronger while open; each links
            from <a href="/incidents">Incidents</a>); hover for values
          </span>
        </div>
        <div class="card">
          <PlotChart
            id="price"
            label="price per symbol over time with anomalies and incidents"
            height={PRICE_HEIGHT * shownSymbols.length}
            empty={empty}
            deps={[view, shownSymbols.join(), incidents]}
            draw={(width) =>
              livePriceChart(view, shownSymbols, props.symbols, incidents, Date.now(), width)}
          />
        </div>
      </section>
      <section aria-labelledby="timeline-h">
        <div class="section-head">
          <h2 id="timeline-h">Anomaly score timeline</h2>
          <span class="muted small">
            per symbol; red dots are anomalies, the dashed line is the decision threshold (0)
          </span>
        </div>
        <div class="card">
          <PlotChart
            id="timeline"
            label="anomaly score per symbol over time"
            height={40 + FACET_HEIGHT * shownSymbols.length}
            empty={empty}
            deps={[view, shownSymbols.join()]}
            draw={(width) => scoreChart(view, shownSymbols, props.symbols, width)}
          />
        </div>
      </section>
      <section aria-labelledby="alerts-h">
        <div class="section-head">
          <h2 id="alerts-h">Recent alerts</h2>
          <span class="muted small">
            {model
              ? `features in the model's terms ((x − mean) / scale of ${model.id}), largest |z| first`
              : "z-score features, largest |z| first"}
          </span>
        </div>
        {shownAlerts.length
          ? (
            <ul class="alerts" data-alerts>
              {shownAlerts.map((p) => (
                <AlertCard key={p.id || keyOf(p)} p={p} scaler={model?.scaler ?? null} />
              ))}
            </ul>
          )
          : (
            <p class="chart-empty" data-alerts-empty>
              {waiting
                ? "No alerts yet: no model is scoring."
                : "No alerts yet: every prediction so far is normal."}
            </p>
          )}
      </section>
    </div>
  );
}
