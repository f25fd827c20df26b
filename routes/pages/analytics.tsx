/**
 * Analytics (`/analytics`): per-symbol breakdown, feature correlations,
 * score trend and a sortable table over a sample of the newest predictions,
 * with filters carried by the URL and by the CSV export link.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import Analytics, { type AnalyticsProps } from "../../islands/Analytics.tsx";
import { type StatsResponse, type SystemStatus, waitingReason } from "../../islands/shared/api.ts";
import { parseExport } from "../../islands/shared/csv.ts";
import { filterQuery, parseFilters } from "../../islands/shared/filters.ts";
import { V1 } from "../../islands/shared/paths.ts";

/** Sample sizes offered; the first is the default. */
export const LIMITS = [500, 2000, 10_000];

/** The Analytics page. */
export const analyticsPage: DashboardPage<AnalyticsProps> = {
  path: "/analytics",
  title: "Analytics",
  islands: ["Analytics"],
  async load(pc) {
    const symbols = pc.ctx.config.symbols;
    const filters = parseFilters(pc.url.searchParams, symbols, LIMITS);
    const [csv, stats, status] = await Promise.all([
      pc.text(`/export.csv?${filterQuery(filters, true)}`),
      pc.json<StatsResponse>(V1.stats),
      pc.json<SystemStatus>(V1.systemStatus),
    ]);
    if (!csv.ok) throw new Error(`/export.csv: ${csv.error}`);
    if (!stats.ok) throw new Error(`${V1.stats}: ${stats.error}`);
    return {
      symbols,
      filters,
      rows: parseExport(csv.value),
      limits: LIMITS,
      bySymbol: stats.value.by_symbol,
      waiting: status.ok && stats.value.total_predictions === 0
        ? waitingReason(status.value)
        : null,
    };
  },
  render(data) {
    return (
      <>
        <p class="lede">
          The newest predictions, filtered by symbol and verdict: how they split per symbol, how the
          features move together, how the score trends, and every row. The export link downloads the
          same filter as CSV.
        </p>
        <Island name="Analytics" component={Analytics} props={data} />
      </>
    );
  },
};
