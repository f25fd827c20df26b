/**
 * Where the API's two families of paths live. The seed's paths
 * (`/latest-predictions`, `/stats`, ...) answer exactly the seed's shapes
 * (../shared/seed-contract.md), so a client written for the seed keeps
 * working; Sentinel's richer shapes, which the dashboard reads, live under
 * {@linkcode API_V1}. A module of its own, without imports, so the islands
 * can use it without pulling zod into the browser; it lives in `islands/` so
 * the bundles' content hash (scripts/build.ts) covers it.
 *
 * @module
 */

/** Prefix of Sentinel's versioned API (the dashboard's shapes). */
export const API_V1 = "/api/v1";

/** The versioned paths the dashboard reads. */
export const V1 = {
  latestPredictions: `${API_V1}/latest-predictions`,
  stats: `${API_V1}/stats`,
  systemStatus: `${API_V1}/system-status`,
  modelInfo: `${API_V1}/model-info`,
  webhooks: `${API_V1}/webhooks`,
} as const;
