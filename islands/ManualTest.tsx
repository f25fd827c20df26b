/**
 * Manual Test: set the five features by hand (or from a preset), press
 * "Detect Anomaly", and see what the active model says (`POST /predict`):
 * the verdict, the score, a severity gauge with the model's threshold, and
 * each feature as the model sees it. Before any model exists the API
 * answers 503 and the page says what the system is waiting for.
 *
 * @module
 */
import { useState } from "preact/hooks";
import { apiJson, type ModelInfo, type PredictResponse } from "./shared/api.ts";
import { drivers, type ScalerView } from "./shared/drivers.ts";
import {
  FEATURE_HELP,
  FEATURE_LABELS,
  FEATURE_NAMES,
  type FeatureName,
} from "./shared/features.ts";
import { fmtNum } from "./shared/format.ts";
import { Gauge } from "./shared/Gauge.tsx";
import { DriverBars } from "./shared/DriverBars.tsx";
import { type Preset, PRESETS, SLIDERS } from "./shared/presets.ts";
import { V1 } from "./shared/paths.ts";

/** The active model as this page needs it. */
export interface ManualModel {
  id: string;
  /** the severity above which a vector is an anomaly: −offset */
  threshold: number;
  scaler: ScalerView;
}

/** Props of {@linkcode ManualTest} (plain JSON). */
export interface ManualTestProps {
  symbols: string[];
  model: ManualModel | null;
  /** what the system waits for before a model exists (null when one does) */
  waiting: string | null;
}

type Outcome =
  | { kind: "result"; value: PredictResponse; preset: Preset["id"] | null }
  | { kind: "no-model"; detail: string }
  | { kind: "error"; message: string };

const decimals = (step: number) => Math.max(0, -Math.floor(Math.log10(step)));

function Slider(
  p: { name: FeatureName; value: number; onInput: (v: number) => void },
) {
  const s = SLIDERS[p.name];
  const id = `f-${p.name}`;
  const set = (raw: string) => {
    const v = Number(raw);
    if (raw !== "" && Number.isFinite(v)) p.onInput(v);
  };
  return (
    <div class="slider">
      <label for={id}>
        {FEATURE_LABELS[p.name]} <span class="muted small mono">{p.name}</span>
      </label>
      <input
        type="range"
        id={id}
        name={p.name}
        min={s.min}
        max={s.max}
        step={s.step}
        value={p.value}
        onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
      />
      <input
        type="number"
        aria-label={`${p.name} value`}
        data-feature={p.name}
        step={s.step}
        value={p.value.toFixed(decimals(s.step))}
        onChange={(e) => set((e.currentTarget as HTMLInputElement).value)}
      />
      <span class="help">{FEATURE_HELP[p.name]}</span>
    </div>
  );
}

/** The manual test form and its result. */
export default function ManualTest(props: ManualTestProps) {
  const [values, setValues] = useState<Record<FeatureName, number>>({ ...PRESETS[0].features });
  const [preset, setPreset] = useState<Preset["id"] | null>(PRESETS[0].id);
  const [symbol, setSymbol] = useState(props.symbols[0] ?? "BTC-USDT");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [model, setModel] = useState(props.model);

  const apply = (p: Preset) => {
    setValues({ ...p.features });
    setPreset(p.id);
    setOutcome(null);
  };

  const detect = async () => {
    setBusy(true);
    const r = await apiJson<PredictResponse>("/predict", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ symbol, ...values }),
    });
    setBusy(false);
    if (r.ok) {
      setOutcome({ kind: "result", value: r.value, preset });
      if (!model || model.id !== r.value.model_id) {
        const info = await apiJson<ModelInfo>(V1.modelInfo);
        if (info.ok) {
          setModel({
            id: info.value.model_id,
            threshold: -info.value.offset,
            scaler: info.value.scaler,
          });
        }
      }
    } else if (r.status === 503) setOutcome({ kind: "no-model", detail: r.detail || r.error });
    else {
      setOutcome({ kind: "error", message: `${r.error}${r.detail ? `: ${r.detail}` : ""}` });
    }
  };

  const result = outcome?.kind === "result" ? outcome.value : null;
  const threshold = model?.threshold ?? null;
  const list = drivers(values, model?.scaler ?? null);

  return (
    <div class="manual">
      <section class="card" aria-labelledby="inputs-h">
        <h2 id="inputs-h">Features</h2>
        <p class="muted small">
          Presets come from the default simulated stream: a typical quiet trade, and clear cases of
          the spike, crash and volume burst it injects (hover a preset for what it is).
        </p>
        <div class="presets" role="group" aria-label="presets">
          {PRESETS.map((p) => (
            <button
              key={p.id}
              type="button"
              data-preset={p.id}
              aria-pressed={preset === p.id}
              title={p.description}
              onClick={() => apply(p)}
            >
              {p.label}
            </button>
          ))}
        </div>
        {FEATURE_NAMES.map((f) => (
          <Slider
            key={f}
            name={f}
            value={values[f]}
            onInput={(v) => {
              setValues({ ...values, [f]: v });
              setPreset(null);
            }}
          />
        ))}
        <div class="controls" style={{ marginTop: "14px" }}>
          <label>
            symbol
            <select
              name="symbol"
              value={symbol}
              onChange={(e) => setSymbol((e.currentTarget as HTMLSelectElement).value)}
            >
              {props.symbols.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
          <button
            type="button"
            class="primary"
            onClick={detect}
            disabled={busy}
            data-action="detect"
          >
            {busy ? "Scoring…" : "Detect Anomaly"}
          </button>
        </div>
      </section>
      <section class="card" aria-labelledby="result-h" aria-live="polite">
        <h2 id="result-h">Result</h2>
        {outcome?.kind === "no-model"
          ? (
            <p class="notice warn" data-no-model>
              {`No model is active yet, so nothing can be scored (${outcome.detail}). The first model is trained as soon as enough feature rows have arrived; try again then.`}
            </p>
          )
          : null}
        {outcome?.kind === "error" ? <p class="notice bad">{outcome.message}</p> : null}
        {!outcome && props.waiting && !model
          ? (
            <p class="notice warn" data-no-model>
              {`No model is active yet (${props.waiting}). You can set features now; "Detect Anomaly" answers once the first model is trained.`}
            </p>
          )
          : null}
        {result
          ? (
            <div data-verdict={result.is_anomaly ? "anomaly" : "normal"}>
              <p class={`verdict ${result.is_anomaly ? "anomaly" : "normal"}`}>
                {result.is_anomaly ? "⚠ ANOMALY" : "✓ NORMAL"}
              </p>
              <p>
                score <b data-score>{fmtNum(result.anomaly_score, 4)}</b>{" "}
                <span class="muted">(negative is anomalous)</span>
              </p>
              <p class="muted small mono">{`model ${result.model_id}`}</p>
            </div>
          )
          : !outcome && !props.waiting
          ? <p class="muted">Pick a preset or move the sliders, then press "Detect Anomaly".</p>
          : null}
        <Gauge
          id="severity"
          label="severity"
          value={result ? result.severity : null}
          min={0.3}
          max={0.8}
          text={result ? fmtNum(result.severity, 3) : "–"}
          caption={threshold === null
            ? "severity s(x) = 2^(−path length / c(n)); higher is more anomalous"
            : `severity; the model flags above ${fmtNum(threshold, 3)} (dashed)`}
          zones={threshold === null
            ? [{ to: 0.8, color: "var(--panel-2)" }]
            : [{ to: threshold - 0.03, color: "var(--ok)" }, {
              to: threshold,
              color: "var(--warn)",
            }, { to: 0.8, color: "var(--bad)" }]}
          marker={threshold === null ? null : { value: threshold, label: "threshold" }}
        />
        <h3>As the model sees it</h3>
        <p class="muted small">
          {model
            ? `(value − training mean) / training scale, largest first (model ${model.id})`
            : "z-score features, largest first (no model yet: its scaler is unknown)"}
        </p>
        <DriverBars list={list} />
      </section>
    </div>
  );
}
