/**
 * The charts' look, spelled out once: colours per symbol (stable, in the
 * configured order), the anomaly red, and the style every Plot figure gets
 * so that it sits on the dark theme.
 *
 * @module
 */

/** Series colours, assigned to symbols in configuration order. */
export const PALETTE = [
  "#58a6ff",
  "#d2a8ff",
  "#3fb950",
  "#ffa657",
  "#79c0ff",
  "#f778ba",
  "#a5d6ff",
  "#7ee787",
] as const;

/** The colour of anomalies everywhere. */
export const ANOMALY = "#f85149";
/** Secondary text on charts. */
export const MUTED = "#8b949e";

/** The `style` option of every Plot figure. */
export const PLOT_STYLE = {
  background: "transparent",
  color: "#c9d1d9",
  fontSize: "12px",
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  overflow: "visible",
};

/**
 * The colour scale of symbols: a domain and a range of equal length.
 *
 * @example
 * ```ts
 * import { symbolColors } from "./theme.ts";
 * console.log(symbolColors(["BTC-USDT"]).range[0]); // "#58a6ff"
 * ```
 */
export function symbolColors(symbols: readonly string[]): { domain: string[]; range: string[] } {
  return {
    domain: [...symbols],
    range: symbols.map((_, i) => PALETTE[i % PALETTE.length]),
  };
}
