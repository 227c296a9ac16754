// Table-driven tests of the tier's building blocks: Retry-After parsing, jittered backoff,
// the circuit breaker's state machine and the bounded semaphore.
import { describe, expect, it } from "vitest";
import { fullJitterMs, parseRetryAfterMs } from "./backoff.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import { Semaphore } from "./semaphore.ts";
import { ManualClock } from "./test-support.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");

describe("parseRetryAfterMs", () => {
  const cases: Array<[string, Record<string, string>, number | undefined]> = [
    ["delta seconds", { "retry-after": "2" }, 2_000],
    ["fractional seconds", { "retry-after": "0.5" }, 500],
    ["HTTP date", { "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }, 3_000],
    ["HTTP date in the past", { "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }, 0],
    ["retry-after-ms wins", { "retry-after-ms": "150", "retry-after": "9" }, 150],
    ["garbage", { "retry-after": "soon" }, undefined],
    ["negative", { "retry-after": "-1" }, undefined],
    ["absent", {}, undefined],
  ];
  it.each(cases)("%s", (_name, headers, expected) => {
    expect(parseRetryAfterMs((h) => headers[h], NOW)).toBe(expected);
  });
});

describe("fullJitterMs", () => {
  it("stays within [0, min(max, base·2^n))", () => {
    for (let retry = 0; retry < 12; retry++) {
      const ceiling = Math.min(5_000, 100 * 2 ** retry);
      expect(fullJitterMs(retry, 100, 5_000, () => 0)).toBe(0);
      const top = fullJitterMs(retry, 100, 5_000, () => 0.999999);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });
});

describe("CircuitBreaker", () => {
  type Step =
    ["acquire", boolean] | ["success" | "failure" | "release"] | ["advance", number] | ["state", string];
  const table: Array<[string, Step[]]> = [
    ["stays closed below the threshold", [["failure"], ["failure"], ["state", "closed"], ["acquire", true]]],
    [
      "a success resets the count",
      [["failure"], ["failure"], ["success"], ["failure"], ["failure"], ["state", "closed"]],
    ],
    [
      "opens at the threshold and refuses",
      [["failure"], ["failure"], ["failure"], ["state", "open"], ["acquire", false]],
    ],
    [
      "half-open after resetMs lets exactly one probe through; success closes",
      [
        ["failure"],
        ["failure"],
        ["failure"],
        ["advance", 999],
        ["acquire", false],
        ["advance", 1],
        ["acquire", true],
        ["state", "half-open"],
        ["acquire", false],
        ["success"],
        ["state", "closed"],
        ["acquire", true],
      ],
    ],
    [
      "a failed probe re-opens for another resetMs",
      [
        ["failure"],
        ["failure"],
        ["failure"],
        ["advance", 1000],
        ["acquire", true],
        ["failure"],
        ["state", "open"],
        ["advance", 999],
        ["acquire", false],
        ["advance", 1],
        ["acquire", true],
      ],
    ],
    [
      "a neutral end of the probe frees it for the next caller",
      [
        ["failure"],
        ["failure"],
        ["failure"],
        ["advance", 1000],
        ["acquire", true],
        ["release"],
        ["acquire", true],
      ],
    ],
  ];
  it.each(table)("%s", (_name, steps) => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ failureThreshold: 3, resetMs: 1000, clock });
    for (const step of steps) {
      switch (step[0]) {
        case "acquire":
          expect(b.tryAcquire()).toBe(step[1]);
          break;
        case "advance":
          clock.advance(step[1]);
          break;
        case "state":
          expect(b.state.type).toBe(step[1]);
          break;
        case "success":
          b.success();
          break;
        case "failure":
          b.failure();
          break;
        case "release":
          b.release();
          break;
      }
    }
  });
});

describe("Semaphore", () => {
  it("holds at most `limit`, queues FIFO up to maxQueue and refuses beyond", async () => {
    const sem = new Semaphore(2, 1);
    const r1 = await sem.acquire();
    const r2 = await sem.acquire();
    const order: string[] = [];
    const third = sem.acquire().then((r) => {
      order.push("third");
      return r;
    });
    expect(await sem.acquire()).toBeUndefined(); // queue full
    expect([sem.active, sem.queued]).toEqual([2, 1]);
    r1?.();
    const r3 = await third;
    expect(order).toEqual(["third"]);
    expect(sem.active).toBe(2);
    r2?.();
    r3?.();
    r3?.(); // releasing twice is harmless
    expect(sem.active).toBe(0);
  });

  it("drops a waiter whose signal aborts", async () => {
    const sem = new Semaphore(1, 4);
    const held = await sem.acquire();
    const ac = new AbortController();
    const waiting = sem.acquire(ac.signal);
    ac.abort(new Error("gave up"));
    await expect(waiting).rejects.toThrow("gave up");
    expect(sem.queued).toBe(0);
    held?.();
    expect(sem.active).toBe(0);
  });
});
