// isKnownTimeZone looks canonical names up in ICU's list before building an Intl.DateTimeFormat (the
// slow part of a cold start): it must still give exactly the answer Intl.DateTimeFormat gives.
import { describe, expect, it } from "vitest";
import { dateTimeFormatAcceptsTimeZone, isKnownTimeZone } from "./schema.ts";

const OTHERS = [
  ...["UTC", "Etc/UTC", "GMT", "Etc/GMT", "utc", "Etc/GMT+5", "Europe/Berlin", "europe/berlin"],
  ...["Asia/Kolkata", "Asia/Calcutta", "US/Pacific", "America/Buenos_Aires", "+01:00"],
  ...["", "Mars/Olympus_Mons", "Europe/Berlin ", "Europe\\Berlin", "Local", "12345"],
];

describe("isKnownTimeZone", () => {
  it("agrees with Intl.DateTimeFormat on every canonical zone, alias, other spelling and unknown name", () => {
    const names = [...Intl.supportedValuesOf("timeZone"), ...OTHERS];
    const disagree = names.filter((z) => isKnownTimeZone(z) !== dateTimeFormatAcceptsTimeZone(z));
    expect(disagree).toEqual([]);
    expect(isKnownTimeZone("UTC")).toBe(true);
    expect(isKnownTimeZone("Europe/Berlin")).toBe(true);
    expect(isKnownTimeZone("Mars/Olympus_Mons")).toBe(false);
  });
});
