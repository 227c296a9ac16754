import { describe, expect, it } from "vitest";
import { DEFAULT_INITIAL_RTT_MS, decideEscalation, MIN_ESCALATION_BUDGET_MS, RttEstimator } from "./rtt.ts";

describe("RttEstimator", () => {
  it("starts from the initial guess and takes the first sample as is", () => {
    const rtt = new RttEstimator();
    expect(rtt.snapshot().srttMs).toBe(DEFAULT_INITIAL_RTT_MS);
    rtt.observe(10);
    expect(rtt.snapshot()).toEqual({ srttMs: 10, rttVarMs: 5, estimateMs: 30, samples: 1 });
  });

  it("smooths samples and widens the estimate when they vary", () => {
    const steady = new RttEstimator();
    const jumpy = new RttEstimator();
    for (let i = 0; i < 50; i++) {
      steady.observe(10);
      jumpy.observe(i % 2 === 0 ? 2 : 18);
    }
    expect(steady.snapshot().srttMs).toBeCloseTo(10, 5);
    expect(jumpy.snapshot().srttMs).toBeGreaterThan(5);
    expect(jumpy.snapshot().srttMs).toBeLessThan(15);
    expect(jumpy.estimateMs).toBeGreaterThan(steady.estimateMs);
  });

  it("ignores nonsense samples", () => {
    const rtt = new RttEstimator();
    rtt.observe(Number.NaN);
    rtt.observe(-1);
    expect(rtt.snapshot().samples).toBe(0);
  });
});

describe("decideEscalation", () => {
  it.each([
    [
      { connected: false, remainingMs: 1_000, rttEstimateMs: 10 },
      { type: "skip", reason: "disconnected" },
    ],
    [
      { connected: true, remainingMs: 9, rttEstimateMs: 10 },
      { type: "skip", reason: "deadline" },
    ],
    [
      { connected: true, remainingMs: MIN_ESCALATION_BUDGET_MS - 1, rttEstimateMs: 0 },
      { type: "skip", reason: "deadline" },
    ],
    [
      { connected: true, remainingMs: 10.7, rttEstimateMs: 10 },
      { type: "escalate", timeoutMs: 10 },
    ],
    [
      { connected: true, remainingMs: 1_500, rttEstimateMs: 40 },
      { type: "escalate", timeoutMs: 1_500 },
    ],
  ] as const)("%j → %j", (input, expected) => expect(decideEscalation(input)).toEqual(expected));
});
