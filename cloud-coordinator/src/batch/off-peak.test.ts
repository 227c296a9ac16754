import { describe, expect, it } from "vitest";
import {
  currentWindow,
  isOffPeak,
  nextWindowStart,
  offPeakDelayMs,
  zonedTimeToInstant,
  type OffPeakSpec,
} from "./off-peak.ts";

const berlin = (windows: OffPeakSpec["windows"]): OffPeakSpec => ({ timeZone: "Europe/Berlin", windows });
const newYork = (windows: OffPeakSpec["windows"]): OffPeakSpec => ({ timeZone: "America/New_York", windows });
const utc = (windows: OffPeakSpec["windows"]): OffPeakSpec => ({ timeZone: "UTC", windows });
const at = (iso: string): Date => new Date(iso);

describe("zonedTimeToInstant", () => {
  it.each([
    // [zone, wall time, expected instant, why]
    ["Europe/Berlin", "2024-06-01T12:00", "2024-06-01T10:00:00.000Z", "summer time, +02:00"],
    ["Europe/Berlin", "2024-01-15T12:00", "2024-01-15T11:00:00.000Z", "winter time, +01:00"],
    [
      "Europe/Berlin",
      "2024-03-31T02:30",
      "2024-03-31T01:30:00.000Z",
      "skipped by spring-forward: moves to 03:30 CEST",
    ],
    ["Europe/Berlin", "2024-03-31T03:00", "2024-03-31T01:00:00.000Z", "first wall time after the gap"],
    [
      "Europe/Berlin",
      "2024-10-27T02:30",
      "2024-10-27T00:30:00.000Z",
      "repeated by fall-back: earlier (CEST) occurrence",
    ],
    ["America/New_York", "2024-03-10T02:30", "2024-03-10T07:30:00.000Z", "skipped: moves to 03:30 EDT"],
    [
      "America/New_York",
      "2024-11-03T01:30",
      "2024-11-03T05:30:00.000Z",
      "repeated: earlier (EDT) occurrence",
    ],
    ["America/New_York", "2024-11-03T03:00", "2024-11-03T08:00:00.000Z", "after fall-back, EST"],
  ])("%s %s → %s (%s)", (zone, wall, expected) => {
    const [date = "", time = ""] = wall.split("T");
    const [year, month, day] = date.split("-").map(Number);
    const [hour, minute] = time.split(":").map(Number);
    const instant = zonedTimeToInstant(
      { year: year ?? 0, month: month ?? 0, day: day ?? 0, hour: hour ?? 0, minute: minute ?? 0 },
      zone,
    );
    expect(new Date(instant).toISOString()).toBe(expected);
  });
});

describe("nextWindowStart", () => {
  it.each([
    [
      "plain daily window later today",
      utc([{ start: "22:00", end: "06:00" }]),
      "2024-06-05T12:00:00Z",
      "2024-06-05T22:00:00.000Z",
    ],
    [
      "inside a window: the next one",
      utc([{ start: "22:00", end: "06:00" }]),
      "2024-06-05T23:00:00Z",
      "2024-06-06T22:00:00.000Z",
    ],
    [
      "exactly at a start: the next one",
      utc([{ start: "22:00", end: "06:00" }]),
      "2024-06-05T22:00:00Z",
      "2024-06-06T22:00:00.000Z",
    ],
    [
      "earliest of two windows",
      utc([
        { start: "12:00", end: "13:00" },
        { start: "01:00", end: "03:00" },
      ]),
      "2024-06-05T04:00:00Z",
      "2024-06-05T12:00:00.000Z",
    ],
    [
      "weekend only, from a Wednesday",
      utc([{ start: "09:00", end: "17:00", days: ["sat", "sun"] }]),
      "2024-06-05T12:00:00Z",
      "2024-06-08T09:00:00.000Z",
    ],
    [
      "Berlin zone, summer",
      berlin([{ start: "22:00", end: "06:00" }]),
      "2024-06-01T12:00:00Z",
      "2024-06-01T20:00:00.000Z",
    ],
    [
      "Berlin spring-forward: 02:30 start does not exist, opens 03:30 CEST",
      berlin([{ start: "02:30", end: "05:00" }]),
      "2024-03-31T00:00:00Z",
      "2024-03-31T01:30:00.000Z",
    ],
    [
      "Berlin the day after spring-forward: 02:30 CEST",
      berlin([{ start: "02:30", end: "05:00" }]),
      "2024-03-31T02:00:00Z",
      "2024-04-01T00:30:00.000Z",
    ],
    [
      "Berlin fall-back: 02:30 twice, the first counts",
      berlin([{ start: "02:30", end: "04:00" }]),
      "2024-10-26T23:00:00Z",
      "2024-10-27T00:30:00.000Z",
    ],
    [
      "Berlin fall-back: after the first 02:30, the next day",
      berlin([{ start: "02:30", end: "04:00" }]),
      "2024-10-27T01:45:00Z",
      "2024-10-28T01:30:00.000Z",
    ],
    [
      "Berlin 22:00 across spring-forward night",
      berlin([{ start: "22:00", end: "06:00" }]),
      "2024-03-31T04:00:00Z",
      "2024-03-31T20:00:00.000Z",
    ],
    [
      "New York spring-forward: 02:30 → 03:30 EDT",
      newYork([{ start: "02:30", end: "04:00" }]),
      "2024-03-10T06:00:00Z",
      "2024-03-10T07:30:00.000Z",
    ],
    [
      "New York fall-back: 01:30 first (EDT) occurrence",
      newYork([{ start: "01:30", end: "03:00" }]),
      "2024-11-03T04:00:00Z",
      "2024-11-03T05:30:00.000Z",
    ],
    [
      "New York fall-back: 01:30 EST repeat is not a new start",
      newYork([{ start: "01:30", end: "03:00" }]),
      "2024-11-03T06:00:00Z",
      "2024-11-04T06:30:00.000Z",
    ],
  ])("%s", (_why, spec, now, expected) => {
    expect(nextWindowStart(at(now), spec)?.toISOString()).toBe(expected);
  });

  it("is undefined without windows", () => {
    expect(nextWindowStart(at("2024-06-05T12:00:00Z"), utc([]))).toBeUndefined();
  });
});

describe("isOffPeak", () => {
  it.each([
    ["inside a same-day window", utc([{ start: "01:00", end: "03:00" }]), "2024-06-05T02:00:00Z", true],
    ["start is inclusive", utc([{ start: "01:00", end: "03:00" }]), "2024-06-05T01:00:00Z", true],
    ["end is exclusive", utc([{ start: "01:00", end: "03:00" }]), "2024-06-05T03:00:00Z", false],
    [
      "after midnight in a window that opened yesterday",
      utc([{ start: "22:00", end: "06:00" }]),
      "2024-06-05T05:59:00Z",
      true,
    ],
    [
      "weekday filter counts the start day (Fri night into Sat)",
      utc([{ start: "22:00", end: "02:00", days: ["fri"] }]),
      "2024-06-08T01:00:00Z",
      true,
    ],
    [
      "weekday filter excludes a Sat start",
      utc([{ start: "22:00", end: "02:00", days: ["fri"] }]),
      "2024-06-08T23:00:00Z",
      false,
    ],
    [
      "Berlin spring-forward night: 05:30 CEST inside 22–06",
      berlin([{ start: "22:00", end: "06:00" }]),
      "2024-03-31T03:30:00Z",
      true,
    ],
    [
      "Berlin spring-forward night: 06:00 CEST closes it (7 h long)",
      berlin([{ start: "22:00", end: "06:00" }]),
      "2024-03-31T04:00:00Z",
      false,
    ],
    [
      "Berlin fall-back night: 05:30 CET inside (9 h long)",
      berlin([{ start: "22:00", end: "06:00" }]),
      "2024-10-27T04:30:00Z",
      true,
    ],
    [
      "Berlin spring-forward: 03:15 CEST is before a 02:30 start",
      berlin([{ start: "02:30", end: "05:00" }]),
      "2024-03-31T01:15:00Z",
      false,
    ],
    [
      "Berlin spring-forward: 03:45 CEST is inside",
      berlin([{ start: "02:30", end: "05:00" }]),
      "2024-03-31T01:45:00Z",
      true,
    ],
    [
      "New York fall-back: 01:45 EST (second pass) still inside 01:30–03:00",
      newYork([{ start: "01:30", end: "03:00" }]),
      "2024-11-03T06:45:00Z",
      true,
    ],
    [
      "New York spring-forward: 03:15 EDT before a 02:30 start",
      newYork([{ start: "02:30", end: "04:00" }]),
      "2024-03-10T07:15:00Z",
      false,
    ],
    ["no windows: never peak", utc([]), "2024-06-05T12:00:00Z", true],
  ])("%s", (_why, spec, now, expected) => {
    expect(isOffPeak(at(now), spec)).toBe(expected);
  });

  it("agrees with the Berlin wall clock every 30 minutes through 2024 (22:00–06:00)", () => {
    const spec = berlin([{ start: "22:00", end: "06:00" }]);
    const hourIn = new Intl.DateTimeFormat("en-US", {
      timeZone: "Europe/Berlin",
      hour: "numeric",
      hourCycle: "h23",
    });
    let mismatches = 0;
    for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2025, 0, 1); t += 30 * 60_000) {
      const hour = Number(hourIn.format(new Date(t)));
      const expected = hour >= 22 || hour < 6;
      if (isOffPeak(new Date(t), spec) !== expected) mismatches++;
      if (!expected) {
        const next = nextWindowStart(new Date(t), spec);
        if (next === undefined || Number(hourIn.format(next)) !== 22 || next.getTime() - t > 86_400_000)
          mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });
});

describe("offPeakDelayMs and currentWindow", () => {
  const spec = newYork([{ start: "01:30", end: "03:00" }]);
  it("is 0 inside and the distance to the next start outside", () => {
    expect(offPeakDelayMs(at("2024-11-03T06:45:00Z"), spec)).toBe(0);
    expect(offPeakDelayMs(at("2024-11-03T05:00:00Z"), spec)).toBe(30 * 60_000);
  });
  it("reports the fall-back window 01:30–03:00 as 2.5 h of real time", () => {
    const w = currentWindow(at("2024-11-03T06:45:00Z"), spec);
    expect(w && (w.endMs - w.startMs) / 3_600_000).toBe(2.5);
  });
});
