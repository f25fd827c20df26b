/**
 * The features that drove a verdict, as bars, largest |z| first: shared by the
 * live feed's alerts and the manual test's result.
 *
 * @module
 */
import type { Driver } from "./drivers.ts";
import { FEATURE_LABELS } from "./features.ts";
import { fmtNum } from "./format.ts";

/** One bar per driver, scaled to the largest |z| (at least 6σ); |z| ≥ 3 is highlighted. */
export function DriverBars({ list }: { list: Driver[] }) {
  const top = Math.max(6, ...list.map((d) => Math.abs(d.z)));
  return (
    <ul class="drivers">
      {list.map((d) => (
        <li key={d.feature} data-driver={d.feature}>
          <span>{FEATURE_LABELS[d.feature]}</span>
          <span class="bar" aria-hidden="true">
            <span
              class={Math.abs(d.z) >= 3 ? "hot" : ""}
              style={{ width: `${Math.min(100, (Math.abs(d.z) / top) * 100).toFixed(1)}%` }}
            />
          </span>
          <span class="num">{`${d.z >= 0 ? "+" : ""}${fmtNum(d.z, 1)}σ`}</span>
        </li>
      ))}
    </ul>
  );
}
