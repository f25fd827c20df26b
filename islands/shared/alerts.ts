/**
 * Incident alerts in the browser, opt-in: what the topbar's toggle
 * (islands/IncidentAlerts.tsx) remembers in `localStorage` and the pure
 * decisions it makes from one poll of `/incidents`: how many incidents are
 * unread (the tab title's "(3) …"), which ones still need a browser
 * notification, and the title itself. Nothing secret is stored here (the
 * API key stays in `sessionStorage`, islands/shared/apiKey.tsx).
 *
 * Incidents are ordered by their start time: an incident counts as unread
 * when it started after `seen_ms` (moved forward whenever the user views the
 * incident list or an incident) and is notified when it started after
 * `notified_ms`. Both start at the newest incident that existed when the
 * user opted in, so turning alerts on does not replay the past.
 *
 * @module
 */

/** Where the opt-in and its watermarks live (one browser profile, every tab). */
export const ALERTS_STORAGE = "sentinel-alerts";

/** Most notifications shown for one poll; more are summed up in one. */
export const MAX_NOTIFICATIONS = 3;

/** What the toggle remembers. */
export interface AlertState {
  on: boolean;
  /** start time (epoch ms) of the newest incident the user has seen */
  seen_ms: number;
  /** start time of the newest incident a notification was shown for */
  notified_ms: number;
}

/** Alerts off (the default). */
export const ALERTS_OFF: AlertState = { on: false, seen_ms: 0, notified_ms: 0 };

/** The part of an incident these decisions read. */
export interface AlertIncident {
  id: string;
  symbol: string;
  type: string;
  start_ms: number;
  peak_price: number;
  ref_price: number;
  peak_severity: number;
}

const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/**
 * The stored state, or alerts off when there is none or it is not ours
 * (another version, a hand edit).
 *
 * @example
 * ```ts
 * import { parseAlertState } from "./alerts.ts";
 * console.log(parseAlertState('{"on":true,"seen_ms":5,"notified_ms":7}').on); // true
 * console.log(parseAlertState("garbage").on); // false
 * ```
 */
export function parseAlertState(raw: string | null): AlertState {
  if (!raw) return ALERTS_OFF;
  try {
    const v = JSON.parse(raw) as Partial<AlertState>;
    if (typeof v.on !== "boolean" || !finite(v.seen_ms) || !finite(v.notified_ms)) {
      return ALERTS_OFF;
    }
    return { on: v.on, seen_ms: v.seen_ms, notified_ms: v.notified_ms };
  } catch {
    return ALERTS_OFF;
  }
}

/** The start time of the newest of `list` (0 for none). */
export function newestStart(list: readonly { start_ms: number }[]): number {
  let t = 0;
  for (const i of list) if (i.start_ms > t) t = i.start_ms;
  return t;
}

/**
 * What one poll changes: the unread count for the title, the incidents to
 * notify (oldest first, at most {@linkcode MAX_NOTIFICATIONS}, with how many
 * more were left out) and the state to store. `viewing`: the user is on the
 * incident list or an incident's page, so everything listed counts as seen.
 *
 * @example
 * ```ts
 * import { pollResult } from "./alerts.ts";
 * const inc = (id: string, start_ms: number) =>
 *   ({ id, symbol: "BTC-USDT", type: "spike", start_ms, peak_price: 1, ref_price: 1, peak_severity: 1 });
 * const r = pollResult({ on: true, seen_ms: 10, notified_ms: 10 }, [inc("b", 30), inc("a", 20), inc("old", 5)], false);
 * console.log(r.unread, r.notify.map((i) => i.id), r.state.notified_ms); // 2 ["a", "b"] 30
 * ```
 */
export function pollResult<T extends AlertIncident>(
  state: AlertState,
  incidents: readonly T[],
  viewing: boolean,
): { unread: number; notify: T[]; more: number; state: AlertState } {
  if (!state.on) return { unread: 0, notify: [], more: 0, state };
  const newest = newestStart(incidents);
  const seen = viewing ? Math.max(state.seen_ms, newest) : state.seen_ms;
  const fresh = incidents.filter((i) => i.start_ms > state.notified_ms)
    .sort((a, b) => a.start_ms - b.start_ms);
  return {
    unread: incidents.filter((i) => i.start_ms > seen).length,
    notify: fresh.slice(0, MAX_NOTIFICATIONS),
    more: Math.max(0, fresh.length - MAX_NOTIFICATIONS),
    state: { on: true, seen_ms: seen, notified_ms: Math.max(state.notified_ms, newest) },
  };
}

/**
 * `title` with the unread count in front ("(3) Live Feed · Sentinel"), or
 * without one when there is none; a count already there is replaced.
 *
 * @example
 * ```ts
 * import { titleWithCount } from "./alerts.ts";
 * console.log(titleWithCount("(2) Live Feed · Sentinel", 5)); // "(5) Live Feed · Sentinel"
 * console.log(titleWithCount("(2) Live Feed · Sentinel", 0)); // "Live Feed · Sentinel"
 * ```
 */
export function titleWithCount(title: string, unread: number): string {
  const bare = title.replace(/^\(\d+\+?\) /, "");
  if (unread <= 0) return bare;
  return `(${unread > 99 ? "99+" : unread}) ${bare}`;
}

/**
 * A notification's title and body for an opened incident.
 *
 * @example
 * ```ts
 * import { notificationText } from "./alerts.ts";
 * const n = notificationText({ id: "x", symbol: "BTC-USDT", type: "level_shift", start_ms: Date.UTC(2026, 0, 2, 15, 4, 5),
 *   peak_price: 101, ref_price: 100, peak_severity: 0.93 });
 * console.log(n.title, "|", n.body); // "BTC-USDT: level shift | +1.00 % at 15:04:05 UTC, severity 0.93"
 * ```
 */
export function notificationText(i: AlertIncident): { title: string; body: string } {
  const move = i.ref_price > 0 ? (i.peak_price / i.ref_price - 1) * 100 : null;
  const at = new Date(i.start_ms).toISOString().slice(11, 19);
  return {
    title: `${i.symbol}: ${i.type.replace(/_/g, " ")}`,
    body: `${move === null ? "" : `${move >= 0 ? "+" : ""}${move.toFixed(2)} % `}at ${at} UTC, ` +
      `severity ${i.peak_severity.toFixed(2)}`,
  };
}
