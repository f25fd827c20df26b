/**
 * The model: `GET /api/v1/model-info` (public: the active bundle's parameters,
 * scaler, training report and size) and the administration routes behind
 * `SENTINEL_API_KEY`: `GET /models`, `POST /models/{id}/activate`,
 * `POST /model/retrain`.
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { FEATURE_NAMES, type FeatureName } from "../../lib/contracts.ts";
import type { Bundle } from "../../model/bundle.ts";
import { Trainer } from "../../pipeline/trainer.ts";
import { keys, type ModelIndexEntry } from "../../store/kv.ts";
import type { WebContext } from "../context.ts";
import {
  ErrorBody,
  ModelEntry,
  ModelIdParam,
  type ModelInfo,
  ModelInfo as ModelInfoSchema,
  ModelsResponse,
  RetrainResponse,
} from "../schemas.ts";
import { V1 } from "../../islands/shared/paths.ts";
import { requireApiKey } from "./auth.ts";

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});
const adminErrors = {
  401: error("missing or wrong bearer token (with `WWW-Authenticate: Bearer`)"),
  403: error("SENTINEL_API_KEY is not configured"),
};

/** The OpenAPI security scheme name of the bearer token. */
export const BEARER_SCHEME = "apiKey";

function byFeature(values: readonly number[]): Record<FeatureName, number> {
  return Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, values[i]])) as Record<
    FeatureName,
    number
  >;
}

/**
 * A bundle as `/model-info` shows it: everything but the trees, scaler
 * values by feature name.
 */
export function modelInfo(
  bundle: Bundle,
  extra: { activatedAt: string; loaded: boolean; bytes: number; chunks: number },
): ModelInfo {
  return {
    model_id: bundle.id,
    created_at: bundle.created_at,
    activated_at: extra.activatedAt,
    loaded_in_process: extra.loaded,
    feature_names: bundle.feature_names,
    params: bundle.params,
    offset: bundle.offset,
    scaler: { mean: byFeature(bundle.scaler.mean), scale: byFeature(bundle.scaler.scale) },
    training: bundle.training,
    size: { bytes: extra.bytes, chunks: extra.chunks },
  };
}

const infoRoute = createRoute({
  method: "get",
  path: V1.modelInfo,
  summary: "The active model (Sentinel's shape)",
  description: "Parameters, scaler means and scales by feature, offset, training rows and report " +
    "(holdout precision / recall / F1 and confusion matrix with labels), creation and " +
    "activation times, stored size.",
  tags: ["v1"],
  responses: {
    200: {
      description: "the active bundle, without its trees",
      content: { "application/json": { schema: ModelInfoSchema } },
    },
    503: error("no model is active yet"),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/models",
  summary: "Every stored bundle (admin)",
  tags: ["admin"],
  security: [{ [BEARER_SCHEME]: [] }],
  responses: {
    200: {
      description: "bundles, newest first",
      content: { "application/json": { schema: ModelsResponse } },
    },
    ...adminErrors,
  },
});

const activateRoute = createRoute({
  method: "post",
  path: "/models/{id}/activate",
  summary: "Make a stored bundle the live model (admin)",
  description:
    "Loads and validates the bundle first; only a readable bundle is activated. Scorers in " +
    "every process swap to it without a restart.",
  tags: ["admin"],
  security: [{ [BEARER_SCHEME]: [] }],
  request: { params: ModelIdParam },
  responses: {
    200: {
      description: "the activated bundle",
      content: { "application/json": { schema: ModelEntry } },
    },
    ...adminErrors,
    404: error("no bundle with that id"),
    409: error("the bundle is stored but cannot be loaded"),
    422: error("not a bundle id"),
  },
});

const retrainRoute = createRoute({
  method: "post",
  path: "/model/retrain",
  summary: "Retrain now (admin)",
  description:
    "With a trainer in this process the fit starts at once (`started`); otherwise the request " +
    "is left in KV for the trainer process (`requested`). Either way the new bundle is " +
    "activated when the fit ends.",
  tags: ["admin"],
  security: [{ [BEARER_SCHEME]: [] }],
  responses: {
    202: { description: "accepted", content: { "application/json": { schema: RetrainResponse } } },
    ...adminErrors,
  },
});

/**
 * Loads a stored bundle without its trees, with its index entry (size,
 * chunks). Bundles are immutable once written, so each id is read once.
 */
export function bundleInfoLoader(
  ctx: WebContext,
): (id: string) => Promise<{ bundle: Bundle; entry: ModelIndexEntry }> {
  const cache = new Map<string, { bundle: Bundle; entry: ModelIndexEntry }>();
  return async (id: string) => {
    let hit = cache.get(id);
    if (!hit) {
      const entry = (await ctx.store.kv.get<ModelIndexEntry>(keys.modelIndex(id))).value;
      const bundle = await ctx.store.loadBundle(id, entry?.chunks);
      // Keep only what /model-info shows; the trees are most of a bundle's size.
      hit = { bundle: { ...bundle, trees: [] }, entry: entry ?? fallbackEntry(bundle) };
      cache.set(id, hit);
    }
    return hit;
  };
}

/** Registers `/api/v1/model-info`, `/models`, `/models/{id}/activate` and `/model/retrain`. */
export function modelRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME, {
    type: "http",
    scheme: "bearer",
    description: "SENTINEL_API_KEY",
  });
  const loadInfo = bundleInfoLoader(ctx);

  app.openapi(infoRoute, async (c) => {
    const active = await ctx.store.activeModel();
    if (!active) {
      return c.json({
        error: "no model",
        detail: "no model is active yet; it is trained once MIN_TRAINING_ROWS feature rows exist",
      }, 503);
    }
    const { bundle, entry } = await loadInfo(active.active.id);
    return c.json(
      modelInfo(bundle, {
        activatedAt: active.active.activated_at,
        loaded: ctx.models.current?.id === bundle.id,
        bytes: entry.bytes,
        chunks: entry.chunks,
      }),
      200,
    );
  });

  // Per method, not `use`: a wrong method on these paths is a 404/405, not an auth error.
  const guard = requireApiKey(() => ctx.config.apiKey);

  app.on(listRoute.method.toUpperCase(), listRoute.getRoutingPath(), guard);
  app.openapi(listRoute, async (c) => {
    const [models, active] = await Promise.all([ctx.store.listModels(), ctx.store.activeModel()]);
    const activeId = active?.active.id ?? null;
    return c.json({
      active_id: activeId,
      models: models.map((m) => ({ ...m, active: m.id === activeId })),
    }, 200);
  });

  app.on(activateRoute.method.toUpperCase(), activateRoute.getRoutingPath(), guard);
  app.openapi(activateRoute, async (c) => {
    const { id } = c.req.valid("param");
    const entry = (await ctx.store.kv.get<ModelIndexEntry>(keys.modelIndex(id))).value;
    if (!entry) return c.json({ error: "not found", detail: `no bundle with id ${id}` }, 404);
    try {
      await ctx.store.loadBundle(id, entry.chunks);
    } catch (e) {
      return c.json({
        error: "bundle unreadable",
        detail: `bundle ${id} cannot be loaded, not activated: ${
          e instanceof Error ? e.message : String(e)
        }`,
      }, 409);
    }
    await ctx.store.activate(id, new Date(ctx.now()).toISOString());
    await ctx.models.refresh();
    return c.json({ ...entry, active: true }, 200);
  });

  app.on(retrainRoute.method.toUpperCase(), retrainRoute.getRoutingPath(), guard);
  app.openapi(retrainRoute, async (c) => {
    if (ctx.trainer) {
      // Not awaited: a fit takes seconds; the trainer's status and the logs say how it went.
      ctx.trainer.trainNow("api").catch(() => {});
      return c.json({ status: "started" as const, detail: "training in this process" }, 202);
    }
    await Trainer.requestRetrain(ctx.store, "api", ctx.now());
    return c.json({
      status: "requested" as const,
      detail:
        "retrain requested through KV; the trainer process picks it up within its poll interval",
    }, 202);
  });
}

function fallbackEntry(bundle: Bundle): ModelIndexEntry {
  return {
    id: bundle.id,
    created_at: bundle.created_at,
    chunks: 0,
    bytes: 0,
    rows: bundle.training.rows,
    symbols: bundle.training.symbols,
    report_kind: bundle.training.report.kind,
  };
}
