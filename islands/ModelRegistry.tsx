/**
 * The model registry (`/models`): every stored bundle (id, when, rows,
 * symbols, kind, size) with the active one marked, a button to activate
 * another (a rollback is activating an older one) and one to retrain now.
 * The list and the actions need the API key, asked for once per tab
 * (islands/shared/apiKey.tsx).
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { KeyForm, storedKey, useApiKey, withBearer } from "./shared/apiKey.tsx";
import { fmtDateTime, fmtInt } from "./shared/format.ts";

/** A bundle as `GET /models` lists it. */
export interface ModelRow {
  id: string;
  created_at: string;
  chunks: number;
  bytes: number;
  rows: number;
  symbols: string[];
  report_kind: string;
  active: boolean;
}

/** Props of {@linkcode ModelRegistry}. */
export interface ModelRegistryProps {
  /** the active model's id (public, from `/api/v1/model-info`), or null */
  activeId: string | null;
  /** false when SENTINEL_API_KEY is not configured */
  adminEnabled: boolean;
}

/** The registry. */
export default function ModelRegistry(props: ModelRegistryProps) {
  const key = useApiKey();
  const [models, setModels] = useState<ModelRow[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const call = async <T,>(k: string, path: string, method: string) => {
    setBusy(true);
    const r = await withBearer<T>(k, path, method);
    setBusy(false);
    if (r.ok) {
      setProblem(null);
      return r.value;
    }
    setProblem(
      r.status === 401
        ? "The API key was refused; enter it again."
        : `${r.error}${r.detail ? `: ${r.detail}` : ""}`,
    );
    return null;
  };
  const load = (k: string) =>
    call<{ models: ModelRow[] }>(k, "/models", "GET").then((r) => {
      if (r) setModels(r.models);
    });

  // A key from earlier in this tab's session: list at once.
  useEffect(() => {
    const k = storedKey();
    if (props.adminEnabled && k) load(k);
  }, []);

  if (!props.adminEnabled) {
    return (
      <p class="notice warn" data-registry-disabled>
        Model administration is disabled: set SENTINEL_API_KEY on the server to list, activate and
        retrain models here. The active model is {props.activeId ?? "none yet"}.
      </p>
    );
  }
  return (
    <div class="stack">
      <div class="controls">
        <button type="button" data-act="list" disabled={busy} onClick={() => key.run(load)}>
          {models ? "Refresh" : "Show the registry"}
        </button>
        <button
          type="button"
          data-act="retrain"
          disabled={busy}
          onClick={() =>
            key.run(async (k) => {
              const r = await call<{ detail: string }>(k, "/model/retrain", "POST");
              if (r) {
                setNotice(`Retraining: ${r.detail}. Refresh in a moment to see the new model.`);
              }
            })}
        >
          Retrain now
        </button>
        <span class="muted small" data-active-id>
          active: {models?.find((m) => m.active)?.id ?? props.activeId ?? "none yet"}
        </span>
      </div>
      {key.asking ? <KeyForm onKey={key.submit} /> : null}
      {problem ? <p class="notice bad" data-registry-problem>{problem}</p> : null}
      {notice ? <p class="notice info" data-registry-notice>{notice}</p> : null}
      {models
        ? (
          <div class="table-wrap">
            <table class="table" data-models>
              <thead>
                <tr>
                  <th>model</th>
                  <th>created (UTC)</th>
                  <th class="num">training rows</th>
                  <th>symbols</th>
                  <th>holdout report</th>
                  <th class="num">size</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.id} data-model={m.id} data-active={m.active ? "true" : "false"}>
                    <td class="mono">{m.id}</td>
                    <td>{fmtDateTime(m.created_at)}</td>
                    <td class="num">{fmtInt(m.rows)}</td>
                    <td>{m.symbols.join(", ")}</td>
                    <td>{m.report_kind}</td>
                    <td class="num">{`${fmtInt(m.bytes / 1024)} KiB`}</td>
                    <td>
                      {m.active ? <span class="pill online">active</span> : (
                        <button
                          type="button"
                          data-act="activate"
                          disabled={busy}
                          onClick={() =>
                            key.run(async (k) => {
                              const r = await call(
                                k,
                                `/models/${encodeURIComponent(m.id)}/activate`,
                                "POST",
                              );
                              if (r) {
                                setNotice(`${m.id} is now the active model.`);
                                await load(k);
                              }
                            })}
                        >
                          Activate
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
        : null}
    </div>
  );
}
