/**
 * The HTTP API as the islands use it: response types (the server's zod
 * schemas, imported as types only, so no validation code reaches the
 * browser) and fetch helpers that turn every failure into a readable
 * sentence.
 *
 * @module
 */
import type { Prediction } from "../../lib/contracts.ts";
import type {
  ModelInfo,
  PredictResponse,
  ServiceStatus,
  StatsResponse,
  SystemStatus,
} from "../../routes/schemas.ts";

export type { ModelInfo, Prediction, PredictResponse, ServiceStatus, StatsResponse, SystemStatus };

/**
 * The `source` of predictions made by `POST /predict` (manual tests), as
 * routes/context.ts names it: kept in the history, left out of live numbers.
 */
export const API_SOURCE = "api";

/** A prediction as the live feed holds it: with its SSE id when known. */
export type LivePrediction = Prediction & { id?: string };

/** An API answer: the value, or why there is none. */
export type ApiResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; error: string; detail: string };

/** The error body the API returns (`{error, detail}`), as text. */
function describe(body: unknown): { error: string; detail: string } {
  if (body && typeof body === "object" && "error" in body) {
    const b = body as { error: unknown; detail?: unknown };
    const detail = Array.isArray(b.detail)
      ? b.detail.map((d) => `${d.field}: ${d.message}`).join("; ")
      : String(b.detail ?? "");
    return { error: String(b.error), detail };
  }
  return { error: "unexpected answer", detail: "" };
}

/**
 * Fetches JSON from the API; network failures and error statuses come back
 * as `{ ok: false }` with the API's reason, never as an exception.
 *
 * @example
 * ```ts ignore
 * const r = await apiJson<SystemStatus>("/system-status");
 * if (r.ok) console.log(r.value.status);
 * ```
 */
export async function apiJson<T>(path: string, init?: RequestInit): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: "application/json", ...init?.headers } });
  } catch (e) {
    return {
      ok: false,
      status: 0,
      error: "the server cannot be reached",
      detail: e instanceof Error ? e.message : String(e),
    };
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // fall through: a non-JSON body is described below
  }
  if (res.ok) return { ok: true, value: body as T };
  return { ok: false, status: res.status, ...describe(body) };
}

/** Fetches text (CSV, metrics) the same way as {@linkcode apiJson}. */
export async function apiText(path: string): Promise<ApiResult<string>> {
  try {
    const res = await fetch(path);
    const text = await res.text();
    if (res.ok) return { ok: true, value: text };
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { ok: false, status: res.status, ...describe(parsed) };
  } catch (e) {
    return {
      ok: false,
      status: 0,
      error: "the server cannot be reached",
      detail: e instanceof Error ? e.message : String(e),
    };
  }
}

/**
 * What the system is waiting for before predictions can flow, from
 * `/system-status` (the scorer's and trainer's details), or null when a
 * model is loaded.
 *
 * @example
 * ```ts ignore
 * waitingReason(status); // "waiting for 1000 feature rows, have 240"
 * ```
 */
export function waitingReason(status: SystemStatus | null): string | null {
  if (!status) return null;
  const scorer = status.services.find((s) => s.name === "scorer");
  if (scorer && scorer.status === "online") return null;
  const trainer = status.services.find((s) => s.name === "trainer");
  const t = trainer?.detail.split(";")[0] ?? "";
  return t ? `trainer ${t}` : scorer?.detail ?? "no model is active yet";
}

/**
 * Why no new market data arrives, from `/system-status`: the Binance stream's
 * or the source's entry when either is not online (the Binance one first: it
 * says more), or null when the source delivers.
 *
 * @example
 * ```ts
 * import { sourceProblem } from "./api.ts";
 * const svc = (name: string, status: "online" | "degraded" | "offline", detail: string) =>
 *   ({ name, status, latency_ms: null, detail });
 * console.log(sourceProblem({ status: "degraded", checked_at: "", services: [
 *   svc("source", "degraded", "binance reconnecting"), svc("binance", "degraded", "reconnecting (refused)")] }));
 * // { name: "binance", status: "degraded", detail: "reconnecting (refused)" }
 * ```
 */
export function sourceProblem(
  status: SystemStatus | null,
): { name: string; status: "degraded" | "offline"; detail: string } | null {
  if (!status) return null;
  for (const name of ["binance", "source"]) {
    const s = status.services.find((x) => x.name === name);
    if (s && s.status !== "online") return { name, status: s.status, detail: s.detail };
  }
  return null;
}

/**
 * Progress towards the first model from the trainer's detail
 * (`waiting for 1000 feature rows, have 240`), or null when it says nothing
 * countable.
 *
 * @example
 * ```ts
 * import { trainingProgress } from "./api.ts";
 * console.log(trainingProgress("waiting: waiting for 1000 feature rows, have 240"));
 * // { have: 240, need: 1000 }
 * ```
 */
export function trainingProgress(detail: string): { have: number; need: number } | null {
  const m = /waiting for (\d+) feature rows, have (\d+)/.exec(detail);
  return m ? { need: Number(m[1]), have: Number(m[2]) } : null;
}
