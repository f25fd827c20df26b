/**
 * `POST /predict`: scores one feature vector with the active model. The
 * result joins the prediction history (`source: "api"`) and the live stream
 * like any stream prediction. Writes are group-committed: while one KV atomic
 * is in flight, the predictions of the requests that arrive meanwhile wait
 * and go together in the next one, so a burst of requests costs a few
 * commits, not one each, and an idle server adds no delay.
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Prediction } from "../../lib/contracts.ts";
import { predictionCursors } from "../../store/kv.ts";
import { API_SOURCE, type WebContext } from "../context.ts";
import { ErrorBody, PredictRequest, PredictResponse } from "../schemas.ts";
import { errorJson } from "./errors.ts";
import type { ApiMetrics } from "./metrics.ts";

/** The symbol of a `/predict` request that names none (not a real market, so no market's stats move). */
export const DEFAULT_PREDICT_SYMBOL = "API-MANUAL";

const json = (schema: typeof ErrorBody, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const route = createRoute({
  method: "post",
  path: "/predict",
  summary: "Score one feature vector",
  description: "Scores the seed's five features with the active model. `anomaly_score` is " +
    'decision_function (negative = anomalous). The prediction is stored with `source: "api"` ' +
    "and published on `/events`.",
  tags: ["seed"],
  request: {
    body: { required: true, content: { "application/json": { schema: PredictRequest } } },
  },
  responses: {
    200: {
      description: "the verdict",
      content: { "application/json": { schema: PredictResponse } },
    },
    400: json(ErrorBody, "the body is not JSON"),
    413: json(ErrorBody, "the body is larger than 64 KiB"),
    415: json(ErrorBody, "the body is not application/json"),
    422: json(ErrorBody, "a field is missing, unknown, of the wrong type or out of range"),
    503: json(ErrorBody, "no model is active yet"),
  },
});

// Predictions per group commit. With every one of another symbol, an atomic holds 1 + 100
// pages and up to 200 counter sums: well inside Deno KV's 1000 mutations per atomic.
const MAX_GROUP = 100;

interface Waiting {
  prediction: Prediction;
  resolve: (id: string) => void;
  reject: (e: unknown) => void;
}

/**
 * Appends API predictions to the history in group commits and publishes each
 * commit on the hub. `add` resolves with the prediction's cursor once it is
 * durable.
 */
export class ApiPredictionWriter {
  #waiting: Waiting[] = [];
  #flushing = false;
  #pages = 0;
  readonly #tag = crypto.randomUUID().slice(0, 8);

  /** Writes through `ctx.store` and publishes on `ctx.hub`. */
  constructor(readonly ctx: WebContext) {}

  /** Queues `prediction`; resolves with its cursor once it is durable and published. */
  add(prediction: Prediction): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ prediction, resolve, reject });
      if (!this.#flushing) this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#waiting.length) {
        const group = this.#waiting.splice(0, MAX_GROUP);
        const preds = group.map((w) => w.prediction);
        // Unique across processes (tag) and within one (counter): page ids are KV keys.
        const pageId = `api.${this.ctx.now()}.${this.#tag}.${this.#pages++}`;
        try {
          await this.ctx.store.appendPredictions(preds, pageId);
        } catch (e) {
          for (const w of group) w.reject(e);
          continue;
        }
        const ids = predictionCursors(pageId, preds);
        this.ctx.hub.publish({ pageId, predictions: preds, ids });
        group.forEach((w, i) => w.resolve(ids[i]));
      }
    } finally {
      this.#flushing = false;
    }
  }
}

function waitingReason(ctx: WebContext): string {
  const t = ctx.trainer?.status();
  if (t) return `no model is active yet: trainer ${t.state}, ${t.detail}`;
  return "no model is active yet: the trainer activates one once MIN_TRAINING_ROWS feature rows exist";
}

/** Registers `POST /predict`. */
export function predictRoutes(app: OpenAPIHono, ctx: WebContext, api: ApiMetrics): void {
  const writer = new ApiPredictionWriter(ctx);
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    // A web-only process may not have seen the first activation yet: one KV read settles it.
    const scorer = ctx.models.current ?? (await ctx.models.refresh(), ctx.models.current);
    if (!scorer) {
      api.apiPredictions.inc({ outcome: "no_model" });
      return errorJson(c, 503, "model not ready", waitingReason(ctx)) as never;
    }
    const features = {
      z_score_price: body.z_score_price,
      z_score_log_return: body.z_score_log_return,
      z_score_volume: body.z_score_volume,
      rolling_price_std: body.rolling_price_std,
      rolling_volume_std: body.rolling_volume_std,
    };
    const s = scorer.scoreFeatures(features);
    const ts = ctx.now();
    const symbol = body.symbol ?? DEFAULT_PREDICT_SYMBOL;
    const prediction: Prediction = {
      symbol,
      ts_ms: ts,
      ...features,
      anomaly_score: s.anomaly_score,
      severity: s.severity,
      is_anomaly: s.is_anomaly,
      anomaly_type: null,
      model_id: scorer.id,
      label: null,
      source: API_SOURCE,
    };
    const id = await writer.add(prediction);
    api.apiPredictions.inc({ outcome: s.is_anomaly ? "anomaly" : "normal" });
    return c.json({
      symbol,
      is_anomaly: s.is_anomaly,
      anomaly_score: s.anomaly_score,
      severity: s.severity,
      model_id: scorer.id,
      timestamp: new Date(ts).toISOString(),
      ts_ms: ts,
      id,
      features,
    }, 200);
  });
}
