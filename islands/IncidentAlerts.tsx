/**
 * The topbar's incident alerts, on every page and opt-in: a toggle that asks
 * for the browser's Notification permission, then polls `/incidents` every
 * few seconds and shows a notification for each incident opened (a click
 * opens its page) and the unread count in the tab title ("(3) Live Feed ·
 * Sentinel"), cleared when the user views the incident list or an incident.
 * Refused permission still leaves the title count. What it remembers (on or
 * off, and up to which incident the user has seen and been notified of)
 * lives in `localStorage`, shared by the tabs (islands/shared/alerts.ts).
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { apiJson } from "./shared/api.ts";
import {
  type AlertIncident,
  ALERTS_OFF,
  ALERTS_STORAGE,
  type AlertState,
  newestStart,
  notificationText,
  parseAlertState,
  pollResult,
  titleWithCount,
} from "./shared/alerts.ts";

/** Props of {@linkcode IncidentAlerts}. */
export interface IncidentAlertsProps {
  /** the page shows incidents (the list or one): what it lists counts as seen */
  viewing: boolean;
  /** ms between polls */
  pollMs: number;
}

type Permission = "granted" | "denied" | "default" | "unsupported";

function permission(): Permission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

function load(): AlertState {
  try {
    return parseAlertState(localStorage.getItem(ALERTS_STORAGE));
  } catch {
    return ALERTS_OFF;
  }
}

function save(s: AlertState): void {
  try {
    localStorage.setItem(ALERTS_STORAGE, JSON.stringify(s));
  } catch {
    // storage refused (private mode): alerts last as long as the page
  }
}

const LIST_LIMIT = 100;

function notify(i: AlertIncident, more: number): void {
  const { title, body } = notificationText(i);
  const n = new Notification(title, {
    body: more > 0 ? `${body} (and ${more} more)` : body,
    tag: i.id,
  });
  n.onclick = () => {
    globalThis.focus();
    location.href = `/incidents/${encodeURIComponent(i.id)}`;
  };
}

/** The toggle, the poll and the tab title. */
export default function IncidentAlerts(props: IncidentAlertsProps) {
  const [state, setState] = useState<AlertState>(ALERTS_OFF);
  const [perm, setPerm] = useState<Permission>("default");
  const [unread, setUnread] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  const baseTitle = useRef("");

  useEffect(() => {
    baseTitle.current = titleWithCount(document.title, 0);
    setState(load());
    setPerm(permission());
    // Another tab turned alerts off or viewed the incidents.
    const onStorage = (e: StorageEvent) => {
      if (e.key === ALERTS_STORAGE) setState(load());
    };
    addEventListener("storage", onStorage);
    return () => removeEventListener("storage", onStorage);
  }, []);

  useEffect(() => {
    document.title = titleWithCount(baseTitle.current || document.title, state.on ? unread : 0);
  }, [unread, state.on]);

  useEffect(() => {
    if (!state.on) {
      setUnread(0);
      return;
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      const current = load();
      if (!current.on) return;
      const from = Math.min(current.seen_ms, current.notified_ms) + 1;
      const r = await apiJson<{ incidents: AlertIncident[] }>(
        `/incidents?from=${from}&limit=${LIST_LIMIT}`,
      );
      if (stopped) return;
      if (!r.ok) setProblem(`alerts cannot refresh: ${r.error}`);
      else {
        setProblem(null);
        // Read again: another tab may have moved the watermarks while this one waited.
        const res = pollResult(load(), r.value.incidents, props.viewing);
        save(res.state);
        setUnread(res.unread);
        if (permission() === "granted") {
          for (const i of res.notify) notify(i, i === res.notify.at(-1) ? res.more : 0);
        }
      }
      timer = setTimeout(poll, props.pollMs);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [state.on]);

  const turnOn = async () => {
    let p = permission();
    if (p === "default") {
      try {
        p = await Notification.requestPermission();
      } catch {
        p = permission();
      }
    }
    setPerm(p);
    // Only what happens from now on: the newest incident so far counts as seen and notified.
    const r = await apiJson<{ incidents: AlertIncident[] }>("/incidents?limit=1");
    const newest = r.ok ? newestStart(r.value.incidents) : Date.now();
    const s = { on: true, seen_ms: newest, notified_ms: newest };
    save(s);
    setState(s);
  };
  const turnOff = () => {
    const s = { ...load(), on: false };
    save(s);
    setState(s);
  };

  const notifying = state.on && perm === "granted";
  const label = !state.on
    ? "Alerts off"
    : notifying
    ? `Alerts on${unread ? ` · ${unread} new` : ""}`
    : `Tab alerts${unread ? ` · ${unread} new` : ""}`;
  const why = !state.on
    ? "Notify me of new incidents (browser notifications and a count in the tab title)"
    : notifying
    ? "New incidents arrive as browser notifications and as a count in the tab title; click to turn off"
    : perm === "unsupported"
    ? "This browser has no notifications: new incidents are counted in the tab title; click to turn off"
    : "Notifications are blocked for this site (browser settings): new incidents are counted in the tab title; click to turn off";
  return (
    <div class="alerts-toggle">
      <button
        type="button"
        class={`nav-alerts${state.on ? " on" : ""}`}
        aria-pressed={state.on}
        title={problem ?? why}
        data-alerts-toggle={state.on ? (notifying ? "on" : "title-only") : "off"}
        data-unread={String(state.on ? unread : 0)}
        onClick={() => state.on ? turnOff() : turnOn()}
      >
        <span aria-hidden="true">{state.on ? "●" : "○"}</span> {label}
      </button>
    </div>
  );
}
