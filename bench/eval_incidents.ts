/**
 * Incident- and episode-level figures of the evaluation (issue 9): incidents
 * formed from any detector's alerts, whether each is true or false, how many
 * labelled episodes an alert caught and how soon, and the `summary` line every
 * detector is compared on. Pure functions of the labelled test stream.
 *
 * @module
 */
import type { AnomalyType, MarketEvent } from "../lib/contracts.ts";
import { type Incident, IncidentTracker } from "../model/incidents.ts";
import type { Alert, LabelledStream } from "../model/evaluate.ts";
import { groupBy } from "../lib/group.ts";

/** Incidents formed from a v1 detector's alerts (same grouping gap), for a like-for-like summary. */
export function incidentsFromAlerts(alerts: readonly Alert[], gapMs: number): Incident[] {
  const t = new IncidentTracker({ gapMs });
  const out: Incident[] = [];
  const sorted = [...alerts].sort((a, b) => a.ts_ms - b.ts_ms);
  for (const a of sorted) {
    for (
      const c of t.observe({
        symbol: a.symbol,
        ts_ms: a.ts_ms,
        price: 1,
        alert: true,
        severity: 1,
        driver: "model",
        price_z: 0,
        model_id: "v1",
      })
    ) {
      if (c.kind === "closed") out.push(c.incident);
    }
  }
  for (const c of t.advance(Infinity)) out.push(c.incident);
  return out;
}

/** Incident-level figures. */
export interface IncidentReport {
  incidents: number;
  true_incidents: number;
  false_incidents: number;
  false_incidents_per_symbol_hour: number | null;
  incident_precision: number | null;
  /** labelled anomalous events inside or within tolerance of an incident */
  covered_anomalies: number;
  /** incidents per type */
  by_type: Record<string, number>;
}

/**
 * An incident is true when it overlaps the tolerance window [t, t + tolerance]
 * of some labelled anomalous event of its symbol; otherwise it is a false
 * incident.
 */
export function incidentReport(
  stream: LabelledStream,
  incidents: readonly Incident[],
  o: { toleranceMs: number; symbolHours: number },
): IncidentReport {
  const anomalies = new Map<string, number[]>();
  for (let i = 0; i < stream.ts_ms.length; i++) {
    if (!stream.is_anomaly[i]) continue;
    const s = stream.symbol[i];
    let a = anomalies.get(s);
    if (!a) anomalies.set(s, a = []);
    a.push(stream.ts_ms[i]);
  }
  for (const a of anomalies.values()) a.sort((x, y) => x - y);
  let trueN = 0;
  const byType: Record<string, number> = {};
  for (const inc of incidents) {
    byType[inc.type] = (byType[inc.type] ?? 0) + 1;
    const a = anomalies.get(inc.symbol) ?? [];
    // some anomaly t with [t, t + tol] ∩ [start, end] ≠ ∅  ⟺  start − tol ≤ t ≤ end
    const k = lowerBound(a, inc.start_ms - o.toleranceMs);
    if (k < a.length && a[k] <= inc.end_ms) trueN++;
  }
  let covered = 0;
  const bySym = groupBy(incidents, (inc) => inc.symbol);
  for (const [s, ts] of anomalies) {
    const incs = bySym.get(s) ?? [];
    const starts = incs.map((x) => x.start_ms);
    for (const t of ts) {
      // the last incident starting at or before t + tol
      const k = lowerBound(starts, t + o.toleranceMs + 1) - 1;
      if (k >= 0 && incs[k].end_ms >= t) covered++;
    }
  }
  const n = incidents.length;
  return {
    incidents: n,
    true_incidents: trueN,
    false_incidents: n - trueN,
    false_incidents_per_symbol_hour: o.symbolHours > 0 ? (n - trueN) / o.symbolHours : null,
    incident_precision: n > 0 ? trueN / n : null,
    covered_anomalies: covered,
    by_type: byType,
  };
}

/** One detector's line of `bench/eval.json`'s `summary`. */
export interface SummaryEntry {
  within_1s: number | null;
  within_5s: number | null;
  false_incidents_per_symbol_hour: number | null;
  incident_precision: number | null;
  event_f1: number | null;
  by_type: Partial<Record<AnomalyType, { within_1s: number | null; within_5s: number | null }>>;
}

/** One labelled episode of the test period (a seed-profile anomaly is a one-event episode). */
export interface EpisodeSpan {
  type: AnomalyType;
  symbol: string;
  first_ms: number;
  last_ms: number;
  events: number;
}

/** Collects episodes from the test stream's labelled events. */
export class EpisodeCollector {
  readonly #byKey = new Map<string, EpisodeSpan>();

  /** Notes one test event (only anomalous, typed ones matter). */
  push(e: MarketEvent, ts: number): void {
    if (!e.is_anomaly || !e.anomaly_type) return;
    this.note(e.symbol, e.anomaly_type, e.episode_id, ts);
  }

  /** Notes one labelled trade of an episode (`episodeId` undefined: a one-event anomaly). */
  note(
    symbol: string,
    type: AnomalyType,
    episodeId: number | string | undefined,
    ts: number,
  ): void {
    const key = episodeId !== undefined ? `${symbol}#${episodeId}` : `${symbol}@${ts}`;
    const ep = this.#byKey.get(key);
    if (!ep) {
      this.#byKey.set(key, {
        type,
        symbol,
        first_ms: ts,
        last_ms: ts,
        events: 1,
      });
    } else {
      ep.first_ms = Math.min(ep.first_ms, ts);
      ep.last_ms = Math.max(ep.last_ms, ts);
      ep.events++;
    }
  }

  episodes(): EpisodeSpan[] {
    return [...this.#byKey.values()].sort((a, b) => a.first_ms - b.first_ms);
  }
}

/** Episode-level detection of one type (or ALL). */
export interface EpisodeDetection {
  episodes: number;
  detected: number;
  rate: number | null;
  /** from the episode's first event to the first alert of its symbol inside it (or within tolerance after), ms */
  median_delay_ms: number | null;
}

/**
 * An episode is detected when an alert of its symbol falls in
 * [first event, last event + tolerance]; its delay is that alert's time
 * minus the episode's first event.
 */
export function episodeReport(
  episodes: readonly EpisodeSpan[],
  alerts: readonly Alert[],
  toleranceMs: number,
): Record<string, EpisodeDetection> {
  const times = new Map<string, number[]>();
  for (const [s, l] of groupBy(alerts, (a) => a.symbol)) {
    times.set(s, l.map((a) => a.ts_ms).sort((x, y) => x - y));
  }
  const acc = new Map<string, { n: number; hit: number; delays: number[] }>();
  const bump = (k: string, delay: number | null) => {
    let a = acc.get(k);
    if (!a) acc.set(k, a = { n: 0, hit: 0, delays: [] });
    a.n++;
    if (delay !== null) {
      a.hit++;
      a.delays.push(delay);
    }
  };
  for (const ep of episodes) {
    const t = times.get(ep.symbol) ?? [];
    const k = lowerBound(t, ep.first_ms);
    const delay = k < t.length && t[k] <= ep.last_ms + toleranceMs ? t[k] - ep.first_ms : null;
    bump(ep.type, delay);
    bump("ALL", delay);
  }
  const out: Record<string, EpisodeDetection> = {};
  for (const [k, a] of acc) {
    const d = a.delays.sort((x, y) => x - y);
    out[k] = {
      episodes: a.n,
      detected: a.hit,
      rate: a.n ? a.hit / a.n : null,
      median_delay_ms: d.length ? d[Math.floor((d.length - 1) / 2)] : null,
    };
  }
  return out;
}

/** Index of the first element of sorted `a` that is ≥ `x` (`a.length` if none). */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
