import { describe, expect, it } from "vitest";
import {
  ErrorInfoSchema,
  InferResultSchema,
  ServedBySchema,
  StepTimingSchema,
  TierAttemptSchema,
  TimingsSchema,
  TokenUsageSchema,
  type InferResult,
} from "@tiergate/shared";
import {
  STORED_SHORT_NAMES,
  compactResult,
  expandResult,
  longNames,
  packResults,
  shortNames,
  unpackResults,
} from "./result-pack.ts";

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

describe("compactResult", () => {
  const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;
  const medium = {
    id: "a",
    task: "intent",
    status: "answered",
    label: "translate",
    servedBy: {
      tier: "medium",
      where: "cloud",
      kind: "model",
      model: "medium",
      version: "intent-medium-fp32-dcad877a70e1",
    },
    degraded: false,
    cached: false,
    attempts: [
      {
        tier: "medium",
        where: "cloud",
        kind: "model",
        model: "medium",
        modelVersion: "intent-medium-fp32-dcad877a70e1",
        label: "translate",
        confidence: 0.9931627511978149,
        accepted: true,
        durationMs: 1.9466569999999592,
        costUsd: 0.00002,
        threshold: 0.9,
      },
    ],
    costUsd: 0.00002,
    timings: {
      totalMs: 3.4665329999997994,
      steps: [{ step: "tier:medium", durationMs: 1.9466569999999592 }],
    },
    policyVersion: "1.0",
    confidence: 0.9931627511978149,
  };
  const llm = {
    ...medium,
    servedBy: { tier: "llm", where: "cloud", kind: "llm", model: "gpt-x" },
    attempts: [
      { ...medium.attempts[0], accepted: false, confidence: 0.4 },
      {
        tier: "llm",
        where: "cloud",
        kind: "llm",
        model: "gpt-x",
        label: "translate",
        accepted: true,
        durationMs: 12,
      },
    ],
    timings: {
      totalMs: 20,
      steps: [
        { step: "tier:medium", durationMs: 1.94 },
        { step: "tier:llm", durationMs: 12 },
      ],
    },
    confidence: 0.97,
  };
  const cached = {
    ...medium,
    servedBy: { tier: "cache", where: "cloud", kind: "cache" },
    cached: true,
    attempts: [{ tier: "cache", where: "cloud", kind: "cache", accepted: true, durationMs: 0.2 }],
    timings: { totalMs: 0.4, steps: [{ step: "cache", durationMs: 0.2 }] },
  };
  const edgeBatch = {
    ...medium,
    attempts: [
      { tier: "nano", where: "edge", kind: "model", accepted: false, durationMs: 0.03 },
      ...medium.attempts,
    ],
  };
  const refused = {
    id: "r",
    task: "intent",
    status: "refused",
    degraded: false,
    cached: false,
    attempts: [],
    costUsd: 0,
    timings: { totalMs: 0, steps: [] },
    error: { code: "DEADLINE_EXCEEDED", message: "late" },
  };

  it.each([
    ["a medium answer", medium],
    ["an LLM answer after the model", llm],
    ["a cached answer", cached],
    ["an edge batch item (edge attempts first)", edgeBatch],
    ["a refusal", refused],
  ])("stores %s so that it reads back as it was", (_, r) => {
    expect(expandResult(json(compactResult(r as InferResult)))).toEqual(json(r));
  });

  it("leaves out what a result repeats of its attempts", () => {
    const stored = compactResult(medium as InferResult);
    expect(stored).not.toHaveProperty("servedBy");
    expect(stored).not.toHaveProperty("confidence");
    expect(stored).toHaveProperty("timings", { totalMs: medium.timings.totalMs });
    expect(stored).not.toHaveProperty("degraded");
    expect(stored).not.toHaveProperty("cached");
    expect(JSON.stringify(stored).length).toBeLessThan(JSON.stringify(medium).length * 0.8);
    expect(compactResult(refused as InferResult)).not.toHaveProperty("degraded");
    expect(compactResult(cached as InferResult)).toHaveProperty("cached", true);
  });

  it("reads results stored before compaction as they are, and drops a damaged one", () => {
    expect(expandResult(json(medium))).toEqual(json(medium));
    expect(expandResult({ ...refused, "~servedBy": 3 })).toBeUndefined();
  });
});

describe("shortNames", () => {
  const medium = result("bb-1-0", "translate", 0.9931627511978149);
  const oneItem = {
    items: 1,
    startedAt: 1_796_282_895_571,
    completedAt: 1_796_282_895_580,
    results: [medium],
  };
  const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;

  it("stores a job result in fewer bytes and reads it back as it was", () => {
    const stored = JSON.stringify(shortNames(oneItem));
    expect(stored.length).toBeLessThan(JSON.stringify(oneItem).length * 0.75);
    expect(stored).not.toContain('"attempts"');
    expect(longNames(JSON.parse(stored))).toEqual(json(oneItem));
  });

  it("reads back packed results, patches and removals included", () => {
    const packed = packResults([
      compactResult(medium as InferResult),
      compactResult(result("bb-1-1", "weather", 0.95, { degraded: true }) as InferResult),
      compactResult({ ...result("bb-1-2", "weather", 0.5), label: undefined } as InferResult),
    ]);
    const job = { items: 3, startedAt: 1, completedAt: 2, packed };
    expect(longNames(JSON.parse(JSON.stringify(shortNames(job))))).toEqual(json(job));
  });

  it("reads a record written before short names as it is", () => {
    expect(longNames(json(oneItem))).toEqual(json(oneItem));
  });

  it("gives every name its own short name, which no contract field has", () => {
    const shorts = Object.values(STORED_SHORT_NAMES);
    expect(new Set(shorts).size).toBe(shorts.length);
    for (const s of shorts) expect(s).toHaveLength(1);
    const contractKeys = [
      InferResultSchema,
      TierAttemptSchema,
      ServedBySchema,
      TimingsSchema,
      StepTimingSchema,
      TokenUsageSchema,
      ErrorInfoSchema,
    ].flatMap((schema) => Object.keys(schema.shape));
    for (const key of contractKeys) {
      expect(key.length, key).toBeGreaterThan(1);
      expect(STORED_SHORT_NAMES, key).toHaveProperty(key);
    }
  });
});
