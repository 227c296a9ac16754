import { describe, expect, it } from "vitest";
import { packResults, unpackResults } from "./result-pack.ts";

const result = (id: string, label: string, confidence: number, extra: Record<string, unknown> = {}) => ({
  id,
  task: "intent",
  status: "answered",
  label,
  servedBy: { tier: "medium", where: "cloud", kind: "model", model: "medium", version: "v1" },
  attempts: [{ tier: "medium", label, confidence, accepted: true, durationMs: 2.5, threshold: 0.9 }],
  costUsd: 0.00002,
  timings: { totalMs: 3.25, steps: [{ step: "tier:medium", durationMs: 2.5 }] },
  confidence,
  ...extra,
});

describe("packResults", () => {
  it("gives back every result as it was, and keeps only what differs from the first", () => {
    const results = [
      result("a", "translate", 0.99),
      result("b", "greeting", 0.93),
      result("c", "translate", 0.99, {
        error: { code: "X", message: "m" },
        timings: { totalMs: 1, steps: [] },
      }),
      { ...result("d", "oos", 0.5), attempts: [], label: undefined },
    ];
    const packed = packResults(results);
    const json = JSON.parse(JSON.stringify(packed)) as unknown;
    expect(unpackResults(json)).toEqual(JSON.parse(JSON.stringify(results)));
    expect(JSON.stringify(packed).length).toBeLessThan(JSON.stringify(results).length * 0.7);
    expect(packed.rest[0]).toEqual({
      id: ["b"],
      label: ["greeting"],
      confidence: [0.93],
      attempts: { 0: { label: ["greeting"], confidence: [0.93] } },
    });
    expect(packed.rest[2]).toMatchObject({ label: [], attempts: [[]] });
  });

  it("reads nothing from a damaged record", () => {
    expect(unpackResults(undefined)).toEqual([]);
    expect(unpackResults({ first: 1, rest: [] })).toEqual([]);
    expect(unpackResults({ first: { id: "a" }, rest: [null, {}] })).toEqual([
      { id: "a" },
      undefined,
      { id: "a" },
    ]);
  });
});
