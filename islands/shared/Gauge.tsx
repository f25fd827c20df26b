/**
 * A half-circle gauge drawn as SVG (server-rendered, no script needed): a
 * track coloured by zone, a needle at the value and an optional marker (a
 * threshold).
 *
 * @module
 */

/** A coloured band of the gauge, from the previous band's end to `to`. */
export interface GaugeZone {
  to: number;
  color: string;
}

/** Props of {@linkcode Gauge}. */
export interface GaugeProps {
  value: number | null;
  min: number;
  max: number;
  zones: readonly GaugeZone[];
  /** the big text under the needle */
  text: string;
  /** a smaller line under it */
  caption: string;
  /** a tick on the track (e.g. the decision threshold) */
  marker?: { value: number; label: string } | null;
  label: string;
  id?: string;
}

const CX = 100, CY = 100, R = 80;

function point(fraction: number, r = R): [number, number] {
  const a = Math.PI * (1 - fraction);
  return [CX + r * Math.cos(a), CY - r * Math.sin(a)];
}

function arc(from: number, to: number): string {
  const [x0, y0] = point(from);
  const [x1, y1] = point(to);
  return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${R} ${R} 0 0 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

/**
 * A gauge from `min` to `max`; values outside are pinned to the ends (the
 * text still says the true value).
 *
 * @example
 * ```tsx ignore
 * <Gauge value={0.012} min={0} max={0.05} text="1.2 %" caption="anomaly rate"
 *   zones={[{ to: 0.015, color: "var(--ok)" }, { to: 0.05, color: "var(--bad)" }]} label="rate" />
 * ```
 */
export function Gauge(p: GaugeProps) {
  const span = p.max - p.min || 1;
  const frac = (v: number) => Math.max(0, Math.min(1, (v - p.min) / span));
  let from = 0;
  const bands = p.zones.map((z) => {
    const to = frac(z.to);
    const d = to > from ? arc(from, to) : null;
    from = Math.max(from, to);
    return d ? <path key={z.to} d={d} stroke={z.color} class="gauge-band" /> : null;
  });
  const needle = p.value === null ? null : point(frac(p.value), R - 14);
  const marker = p.marker
    ? [point(frac(p.marker.value), R + 8), point(frac(p.marker.value), R - 12)]
    : null;
  return (
    <figure class="gauge" data-gauge={p.id} aria-label={`${p.label}: ${p.text}`}>
      <svg viewBox="0 0 200 118" role="img" aria-hidden="true">
        <path d={arc(0, 1)} class="gauge-track" />
        {bands}
        {marker
          ? (
            <line
              x1={marker[0][0]}
              y1={marker[0][1]}
              x2={marker[1][0]}
              y2={marker[1][1]}
              class="gauge-marker"
            >
              <title>{p.marker!.label}</title>
            </line>
          )
          : null}
        {needle
          ? <line x1={CX} y1={CY} x2={needle[0]} y2={needle[1]} class="gauge-needle" />
          : null}
        <circle cx={CX} cy={CY} r="5" class="gauge-hub" />
      </svg>
      <figcaption>
        <strong class="gauge-text">{p.text}</strong>
        <span class="gauge-caption">{p.caption}</span>
      </figcaption>
    </figure>
  );
}
