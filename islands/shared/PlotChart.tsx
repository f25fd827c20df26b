/**
 * A chart drawn by Observable Plot in the browser. The server renders the
 * frame and, when there is nothing to draw, a sentence saying why (never a
 * blank chart); once hydrated, `draw(width)` builds the Plot figure at the
 * container's width and redraws it when the data or the width changes.
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** Props of {@linkcode PlotChart}. */
export interface PlotChartProps {
  /** builds the figure at `width` pixels; only called when `empty` is null */
  draw: (width: number) => Element;
  /** values whose change redraws the figure */
  deps: readonly unknown[];
  /** when set, the chart shows this sentence instead of a figure */
  empty: string | null;
  /** the accessible name of the figure */
  label: string;
  /** reserved height in pixels, so the page does not jump when the figure arrives */
  height: number;
  /** `data-chart` attribute, for tests */
  id?: string;
}

/**
 * A Plot figure inside a Preact tree.
 *
 * @example
 * ```tsx ignore
 * <PlotChart label="scores" height={240} empty={rows.length ? null : "no data yet"}
 *   deps={[rows]} draw={(width) => Plot.plot({ width, marks: [Plot.lineY(rows, { y: "s" })] })} />
 * ```
 */
export function PlotChart(p: PlotChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const el = host.current?.parentElement;
    if (!el) return;
    const measure = () => setWidth(Math.max(240, Math.floor(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = host.current;
    if (!el || !width) return;
    if (p.empty) {
      el.replaceChildren();
      return;
    }
    try {
      el.replaceChildren(p.draw(width));
      setError(null);
    } catch (e) {
      // A chart that cannot be drawn says so instead of breaking the page.
      el.replaceChildren();
      setError(`this chart could not be drawn: ${e instanceof Error ? e.message : e}`);
    }
  }, [width, p.empty, ...p.deps]);

  const message = p.empty ?? error;
  return (
    <figure
      class="chart"
      data-chart={p.id}
      aria-label={p.label}
      style={message ? undefined : { minHeight: `${p.height}px` }}
    >
      {message ? <p class="chart-empty">{message}</p> : null}
      <div ref={host} class="chart-host" hidden={message !== null} />
    </figure>
  );
}
