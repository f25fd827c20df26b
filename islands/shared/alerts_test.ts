import assert from "node:assert/strict";
import {
  type AlertIncident,
  ALERTS_OFF,
  MAX_NOTIFICATIONS,
  notificationText,
  parseAlertState,
  pollResult,
  titleWithCount,
} from "./alerts.ts";

const inc = (id: string, start_ms: number): AlertIncident => ({
  id,
  symbol: "ETH-USDT",
  type: "crash",
  start_ms,
  peak_price: 95,
  ref_price: 100,
  peak_severity: 0.875,
});

Deno.test("alerts: stored state is read back, anything else is alerts off", () => {
  const s = { on: true, seen_ms: 1000, notified_ms: 2000 };
  assert.deepEqual(parseAlertState(JSON.stringify(s)), s);
  for (
    const raw of [null, "", "{", "[]", '{"on":"yes","seen_ms":1,"notified_ms":1}', '{"on":true}']
  ) {
    assert.deepEqual(parseAlertState(raw), ALERTS_OFF, String(raw));
  }
});

Deno.test("alerts: a poll counts incidents started after the last view and notifies each new one once", () => {
  const state = { on: true, seen_ms: 100, notified_ms: 100 };
  const list = [inc("c", 300), inc("b", 200), inc("a", 50)];
  const r = pollResult(state, list, false);
  assert.equal(r.unread, 2);
  assert.deepEqual(r.notify.map((i) => i.id), ["b", "c"]);
  assert.equal(r.more, 0);
  assert.deepEqual(r.state, { on: true, seen_ms: 100, notified_ms: 300 });
  // The next poll with the same list notifies nothing more, the count stays until viewed.
  const again = pollResult(r.state, list, false);
  assert.deepEqual([again.unread, again.notify.length], [2, 0]);
  // Viewing the incidents clears the count; a later incident counts again.
  const viewed = pollResult(again.state, list, true);
  assert.equal(viewed.unread, 0);
  assert.equal(viewed.state.seen_ms, 300);
  const later = pollResult(viewed.state, [inc("d", 400), ...list], false);
  assert.deepEqual([later.unread, later.notify.map((i) => i.id)], [1, ["d"]]);
});

Deno.test("alerts: a burst is notified up to the limit and the rest summed up; off does nothing", () => {
  const burst = Array.from({ length: MAX_NOTIFICATIONS + 4 }, (_, k) => inc(`i${k}`, 1000 + k));
  const r = pollResult({ on: true, seen_ms: 0, notified_ms: 0 }, burst, false);
  assert.equal(r.notify.length, MAX_NOTIFICATIONS);
  assert.equal(r.notify[0].id, "i0");
  assert.equal(r.more, 4);
  assert.equal(r.unread, burst.length);
  const off = pollResult(ALERTS_OFF, burst, false);
  assert.deepEqual([off.unread, off.notify.length, off.state], [0, 0, ALERTS_OFF]);
});

Deno.test("alerts: the tab title carries the count, replaced or removed", () => {
  assert.equal(titleWithCount("Incidents · Sentinel", 3), "(3) Incidents · Sentinel");
  assert.equal(titleWithCount("(3) Incidents · Sentinel", 4), "(4) Incidents · Sentinel");
  assert.equal(titleWithCount("(99+) Incidents · Sentinel", 0), "Incidents · Sentinel");
  assert.equal(titleWithCount("Sentinel", 250), "(99+) Sentinel");
});

Deno.test("alerts: a notification names the symbol, type, move, UTC time (24 h) and severity", () => {
  const n = notificationText({
    ...inc("x", Date.UTC(2026, 11, 4, 21, 5, 9)),
    type: "volume_burst",
  });
  assert.equal(n.title, "ETH-USDT: volume burst");
  assert.equal(n.body, "-5.00 % at 21:05:09 UTC, severity 0.88");
});
