/**
 * Detection v2 in the evaluation (issue 9): Sentinel's robust, calibrated
 * detector with incidents and the robust-rule baseline beside it. Their
 * incident- and episode-level metrics are in bench/eval_incidents.ts, their
 * CSV output in bench/eval_csv.ts.
 *
 * Sentinel v2 here is exactly the live stages: `RobustSymbol.update` per
 * event (features/robust.ts), `fitRobustCalibration` on the training period,
 * `judge` per test event (model/detector.ts), `IncidentTracker`
 * (model/incidents.ts).
 *
 * The rule baseline is what a person writes in five lines: |ln p − ln
 * median(previous 5 prices)| over 1.4826 × the median of the previous 300
 * such deviations, and the robust z of ln volume over the previous 300 trades
 * (median, IQR). Its two thresholds are chosen on the training period: on a
 * labelled stream, the pair that maximises the training period's event F1
 * (the rule is given the labels Sentinel never sees: a strong baseline); on an
 * unlabelled one, each channel flags half the alert budget.
 *
 * @module
 */
import type { MarketEvent } from "../lib/contracts.ts";
import { eventTimeMs } from "../lib/contracts.ts";
import { type RobustFeatures, RobustSymbol } from "../features/robust.ts";
import { type Calibration } from "../model/calibration.ts";
import {
  type ChannelVerdict,
  type DetectionModel,
  fitRobustCalibration,
  judgeScores,
  SymbolScorer,
} from "../model/detector.ts";
import { type Incident, IncidentTracker } from "../model/incidents.ts";
import type { Alert } from "../model/evaluate.ts";
import { lowerBound } from "./eval_incidents.ts";

/** What a v2 detector said over the test period (aligned with the test stream). */
export interface V2Verdicts {
  flagged: boolean[];
  /** higher = more anomalous, negated into anomaly_score for ROC/AP (NaN: not scored) */
  score: number[];
  alerts: Alert[];
  incidents: Incident[];
  /** driver channel of each alert */
  alertDrivers: string[];
}

/** A detector that sees every event and is trained at the end of the training period. */
export interface V2Detector {
  readonly name: string;
  readonly label: string;
  push(e: MarketEvent, test: boolean): void;
  train(): void;
  finish(): V2Verdicts;
}

const empty = (): V2Verdicts => ({
  flagged: [],
  score: [],
  alerts: [],
  incidents: [],
  alertDrivers: [],
});

/** Sentinel v2: robust features, per-symbol calibration in time, incidents. */
export class SentinelV2 implements V2Detector {
  readonly name: string;
  readonly label: string;
  #symbols = new Map<string, RobustSymbol>();
  #scorers = new Map<string, SymbolScorer>();
  #train: { symbol: string; ts_ms: number; scores: number[] }[] = [];
  #cal: Calibration | null = null;
  #tracker: IncidentTracker;
  #v = empty();
  #lastTs = 0;

  constructor(
    readonly o: {
      budget: number;
      gapMs: number;
      model?: DetectionModel;
      shares?: Record<string, number>;
      name?: string;
      label?: string;
      /** called for every test event with its features and verdict (`--predictions-out`) */
      onTest?: (e: MarketEvent, ts: number, f: RobustFeatures, v: ChannelVerdict) => void;
    },
  ) {
    this.name = o.name ?? "sentinel_v2";
    this.label = o.label ?? "Sentinel v2 (robust, calibrated, incidents)";
    this.#tracker = new IncidentTracker({ gapMs: o.gapMs });
  }

  push(e: MarketEvent, test: boolean): void {
    let s = this.#symbols.get(e.symbol);
    if (!s) this.#symbols.set(e.symbol, s = new RobustSymbol());
    const ts = eventTimeMs(e);
    const f = s.update(e.price, e.volume, ts);
    let sc = this.#scorers.get(e.symbol);
    if (!sc) this.#scorers.set(e.symbol, sc = new SymbolScorer(this.o.model ?? "robust"));
    const scores = sc.scores(f);
    if (!test) {
      if (f.robust_ready) this.#train.push({ symbol: e.symbol, ts_ms: ts, scores });
      return;
    }
    const v = judgeScores(this.#cal!, e.symbol, scores);
    this.o.onTest?.(e, ts, f, v);
    this.#v.flagged.push(v.alert);
    this.#v.score.push(f.robust_ready ? v.severity : NaN);
    if (v.alert) {
      this.#v.alerts.push({ ts_ms: ts, symbol: e.symbol, score: -v.severity });
      this.#v.alertDrivers.push(v.driverName);
    }
    for (
      const c of this.#tracker.observe({
        symbol: e.symbol,
        ts_ms: ts,
        price: e.price,
        alert: v.alert,
        severity: v.severity,
        driver: v.driverName,
        price_z: f.price_z,
        model_id: this.name,
      })
    ) if (c.kind === "closed") this.#v.incidents.push(c.incident);
    this.#lastTs = ts;
  }

  train(): void {
    this.#cal = fitRobustCalibration(this.#train, {
      budget: this.o.budget,
      model: this.o.model,
      shares: this.o.shares,
      gapMs: this.o.gapMs,
    });
    this.#train = [];
  }

  /** The fitted calibration (after {@linkcode SentinelV2.train}). */
  calibration(): Calibration | null {
    return this.#cal;
  }

  finish(): V2Verdicts {
    for (const c of this.#tracker.advance(this.#lastTs + 1e12)) this.#v.incidents.push(c.incident);
    this.#v.incidents.sort((a, b) => a.start_ms - b.start_ms);
    return this.#v;
  }
}

/** A sorted window of the last `n` values, for exact medians and quantiles. */
class SortedWindow {
  readonly #fifo: number[] = [];
  readonly #sorted: number[] = [];
  constructor(readonly n: number) {}
  get size(): number {
    return this.#sorted.length;
  }
  push(x: number): void {
    this.#fifo.push(x);
    this.#sorted.splice(lowerBound(this.#sorted, x), 0, x);
    if (this.#fifo.length > this.n) {
      const old = this.#fifo.shift()!;
      this.#sorted.splice(lowerBound(this.#sorted, old), 1);
    }
  }
  quantile(q: number): number {
    const s = this.#sorted;
    return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))];
  }
}

/** The robust rule baseline (see the module notes). */
export class RuleBaseline implements V2Detector {
  readonly name: string;
  readonly label: string;
  #state = new Map<string, { prices: number[]; devs: SortedWindow; vols: SortedWindow }>();
  #trainP: number[] = [];
  #trainV: number[] = [];
  #trainY: boolean[] = [];
  #labelled = true;
  #thrP = Infinity;
  #thrV = Infinity;
  #v = empty();
  #trainSpan = new Map<string, [number, number]>();
  #tracker: IncidentTracker;
  #lastTs = 0;

  constructor(readonly o: { budget: number; gapMs: number; useLabels?: boolean }) {
    this.#tracker = new IncidentTracker({ gapMs: o.gapMs });
    const labels = o.useLabels ?? true;
    this.name = labels ? "robust_rule" : "robust_rule_budget";
    this.label = labels
      ? "robust rule, thresholds fitted with labels"
      : "robust rule, thresholds at the budget (no labels)";
  }

  #stats(e: MarketEvent): { p: number; v: number } | null {
    let s = this.#state.get(e.symbol);
    if (!s) {
      this.#state.set(
        e.symbol,
        s = { prices: [], devs: new SortedWindow(300), vols: new SortedWindow(300) },
      );
    }
    const lp = Math.log(e.price);
    const lv = Math.log(Math.max(e.volume, 1e-12));
    let out: { p: number; v: number } | null = null;
    if (s.prices.length === 5 && s.devs.size >= 100) {
      const med = [...s.prices].sort((a, b) => a - b)[2];
      const d = Math.abs(lp - med);
      const spread = Math.max(1.4826 * s.devs.quantile(0.5), 1e-9);
      const iqr = s.vols.quantile(0.75) - s.vols.quantile(0.25);
      out = { p: d / spread, v: (lv - s.vols.quantile(0.5)) / Math.max(iqr / 1.349, 1e-6) };
      s.devs.push(d);
    } else if (s.prices.length === 5) {
      s.devs.push(Math.abs(lp - [...s.prices].sort((a, b) => a - b)[2]));
    }
    s.prices.push(lp);
    if (s.prices.length > 5) s.prices.shift();
    s.vols.push(lv);
    return out;
  }

  push(e: MarketEvent, test: boolean): void {
    const ts = eventTimeMs(e);
    const x = this.#stats(e);
    if (!test) {
      const span = this.#trainSpan.get(e.symbol);
      if (!span) this.#trainSpan.set(e.symbol, [ts, ts]);
      else span[1] = ts;
      if (x) {
        this.#trainP.push(x.p);
        this.#trainV.push(x.v);
        this.#trainY.push(e.is_anomaly === true);
        if (e.source !== "simulated") this.#labelled = false;
      }
      return;
    }
    const alert = x !== null && (x.p > this.#thrP || x.v > this.#thrV);
    this.#v.flagged.push(alert);
    this.#v.score.push(x === null ? NaN : Math.max(x.p / this.#thrP, x.v / this.#thrV));
    const driver = x && x.v / this.#thrV > x.p / this.#thrP ? "volume_z" : "price_z";
    if (alert) {
      this.#v.alerts.push({ ts_ms: ts, symbol: e.symbol, score: -1 });
      this.#v.alertDrivers.push(driver);
    }
    for (
      const c of this.#tracker.observe({
        symbol: e.symbol,
        ts_ms: ts,
        price: e.price,
        alert,
        severity: alert ? 1 : 0,
        driver,
        price_z: x?.p ?? 0,
        model_id: this.name,
      })
    ) if (c.kind === "closed") this.#v.incidents.push(c.incident);
    this.#lastTs = ts;
  }

  /** Thresholds (see the module notes). */
  train(): void {
    if ((this.o.useLabels ?? true) && this.#labelled && this.#trainY.some((y) => y)) {
      this.#trainWithLabels();
      return;
    }
    const hours = [...this.#trainSpan.values()].reduce(
      (a, [lo, hi]) => a + (hi - lo) / 3_600_000,
      0,
    );
    const quantileFor = (xs: number[]) => {
      const allowed = Math.max(1, Math.round((this.o.budget / 2) * hours));
      const s = xs.sort((a, b) => b - a);
      return s.length > allowed ? s[allowed - 1] : Infinity;
    };
    this.#thrP = quantileFor(this.#trainP);
    this.#thrV = quantileFor(this.#trainV);
    this.#trainP = [];
    this.#trainV = [];
  }

  /** The threshold pair with the best training F1, over 40 quantiles of each statistic. */
  #trainWithLabels(): void {
    const P = this.#trainP, V = this.#trainV, Y = this.#trainY;
    const cands = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return Array.from(
        { length: 40 },
        (_, k) => s[Math.floor((1 - Math.pow(10, -1 - (3 * k) / 39)) * (s.length - 1))],
      );
    };
    const cp = cands(P), cv = cands(V);
    const positives = Y.reduce((a, y) => a + (y ? 1 : 0), 0);
    let best = -1;
    for (const tp of cp) {
      for (const tv of cv) {
        let hit = 0, flagged = 0;
        for (let i = 0; i < P.length; i++) {
          if (P[i] > tp || V[i] > tv) {
            flagged++;
            if (Y[i]) hit++;
          }
        }
        const f1 = flagged + positives > 0 ? (2 * hit) / (flagged + positives) : 0;
        if (f1 > best) {
          best = f1;
          this.#thrP = tp;
          this.#thrV = tv;
        }
      }
    }
    this.#trainP = [];
    this.#trainV = [];
    this.#trainY = [];
  }

  finish(): V2Verdicts {
    for (const c of this.#tracker.advance(this.#lastTs + 1e12)) this.#v.incidents.push(c.incident);
    this.#v.incidents.sort((a, b) => a.start_ms - b.start_ms);
    return this.#v;
  }
}
