import assert from "node:assert/strict";
import {
  fmtDateTime,
  fmtDuration,
  fmtInt,
  fmtMs,
  fmtNum,
  fmtPct,
  fmtPrice,
  fmtRate,
  fmtTime,
  utcTickFormat,
} from "./format.ts";

Deno.test("fmtInt groups thousands and rounds", () => {
  assert.equal(fmtInt(0), "0");
  assert.equal(fmtInt(999), "999");
  assert.equal(fmtInt(1000), "1,000");
  assert.equal(fmtInt(1234567.6), "1,234,568");
  assert.equal(fmtInt(-12345), "-12,345");
  assert.equal(fmtInt(NaN), "–");
});

Deno.test("fmtNum, fmtPct and fmtMs say – for missing values and never print -0", () => {
  assert.equal(fmtNum(null), "–");
  assert.equal(fmtNum(undefined), "–");
  assert.equal(fmtNum(Infinity), "–");
  assert.equal(fmtNum(-0.0001, 2), "0.00");
  assert.equal(fmtNum(-1.234, 1), "-1.2");
  assert.equal(fmtPct(0.01), "1.00 %");
  assert.equal(fmtPct(null), "–");
  assert.equal(fmtMs(0.5), "0.50 ms");
  assert.equal(fmtMs(12.6), "13 ms");
  assert.equal(fmtMs(1500), "1.5 s");
  assert.equal(fmtMs(null), "–");
});

Deno.test("fmtPrice keeps about six significant digits", () => {
  assert.equal(fmtPrice(43150.52341), "43,150.5");
  assert.equal(fmtPrice(2301.456), "2,301.46");
  assert.equal(fmtPrice(320.12345), "320.123");
  assert.equal(fmtPrice(0.5406473), "0.54065");
  assert.equal(fmtPrice(123456.7), "123,457");
  assert.equal(fmtPrice(undefined), "–");
});

Deno.test("fmtRate switches to integers at 100/s", () => {
  assert.equal(fmtRate(15.04), "15.0/s");
  assert.equal(fmtRate(1234.4), "1,234/s");
  assert.equal(fmtRate(null), "–/s");
});

Deno.test("times are UTC whatever the local zone", () => {
  const t = Date.UTC(2024, 2, 9, 7, 5, 3, 9);
  assert.equal(fmtTime(t), "07:05:03.009");
  assert.equal(fmtTime(t, false), "07:05:03");
  assert.equal(fmtDateTime(t), "2024-03-09 07:05:03 UTC");
  assert.equal(fmtDateTime("2024-03-09T07:05:03.009Z"), "2024-03-09 07:05:03 UTC");
  assert.equal(fmtDateTime("not a date"), "–");
});

Deno.test("fmtDuration shows the two largest units", () => {
  assert.equal(fmtDuration(42), "42 s");
  assert.equal(fmtDuration(125), "2 min 5 s");
  assert.equal(fmtDuration(3 * 3600 + 61), "3 h 1 min");
  assert.equal(fmtDuration(-1), "–");
});

Deno.test("time axes tick in 24-hour UTC, with the date when the axis spans days", () => {
  const pm = new Date(Date.UTC(2024, 2, 9, 15, 4, 5));
  assert.equal(utcTickFormat(5 * 60_000)(pm), "15:04:05");
  assert.equal(utcTickFormat(20 * 3_600_000)(pm), "15:04:05");
  assert.equal(utcTickFormat(20 * 3_600_000 + 1)(pm), "03-09 15:04");
});
