import { describe, expect, it } from "vitest";
import { loadClinc150, parseClinc150, shuffled } from "./dataset.ts";
import { renderMarkdown } from "./markdown.ts";
import { isCorrectAtEdge, outcomeFromHttp, PATH_BATCH, PATH_EDGE, type Outcome } from "./outcome.ts";
import { binOf, BIN_COUNT, renderSvg } from "./plot.ts";
import { buildReport, latencySummary, percentile, STANDIN_NOTE, type DemoRunInfo } from "./report.ts";

const RUN: DemoRunInfo = {
  startedAt: "2025-01-01T00:00:00.000Z",
  wallMs: 1000,
  ratePerSecond: 10,
  concurrency: 4,
  limit: undefined,
  edgeDevices: ["edge-a", "edge-b"],
  batch: undefined,
};

function outcome(over: Partial<Outcome>): Outcome {
  return {
    id: "r",
    gold: "balance",
    via: "edge-a",
    path: PATH_EDGE,
    tier: "nano",
    kind: "model",
    label: "balance",
    degraded: false,
    costUsd: 0,
    llmCostUsd: undefined,
    latencyMs: 1,
    httpStatus: 200,
    errorCode: undefined,
    ...over,
  };
}

describe("percentile", () => {
  it.each([
    [[], 50, undefined],
    [[5], 99, 5],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 99, 4],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9],
  ])("%j p%d = %s (nearest rank)", (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it("summarises unsorted values", () => {
    expect(latencySummary([3, 1, 2])).toEqual({ count: 3, p50Ms: 2, p90Ms: 3, p99Ms: 3, maxMs: 3 });
  });
});

describe("buildReport", () => {
  const realtime = [
    outcome({ id: "1" }),
    outcome({ id: "2", label: "weather" }), // wrong at the edge
    outcome({ id: "3", gold: "oos", label: "balance" }), // oos answered at the edge: wrong
    outcome({
      id: "4",
      gold: "oos",
      label: "oos",
      path: "escalated-llm",
      tier: "llm",
      kind: "llm",
      costUsd: 0.0001,
      llmCostUsd: 0.0001,
      latencyMs: 50,
    }),
    outcome({
      id: "5",
      gold: "timer",
      label: "timer",
      path: "escalated-medium",
      tier: "medium",
      costUsd: 0.00001,
      latencyMs: 10,
    }),
    outcome({
      id: "6",
      gold: "pin_change",
      label: undefined,
      path: "refused",
      tier: undefined,
      errorCode: "REFUSED_BY_POLICY",
    }),
  ];
  const batch = [outcome({ id: "b1", path: PATH_BATCH, tier: "medium", latencyMs: 2000, costUsd: 0.00001 })];
  const report = buildReport(realtime, batch, RUN);

  it("counts edge answers and their precision, treating oos at the edge as wrong", () => {
    expect(report.edge).toEqual({
      answered: 3,
      share: 0.5,
      correct: 1,
      precision: 0.3333,
      oosAnsweredAtEdge: 1,
    });
    expect(isCorrectAtEdge(outcome({ gold: "oos", label: "oos" }))).toBe(false);
    expect(report.edgeByTier).toEqual({ nano: { answered: 3, precision: 0.3333, oosAnswered: 1 } });
  });

  it("gives accuracy, tier mix, errors and cost against the all-LLM baseline", () => {
    expect(report.accuracy.overall).toBeCloseTo(3 / 6, 4);
    expect(report.accuracy.outOfScopeRecall).toBe(0.5);
    expect(report.accuracy.batch).toBe(1);
    expect(report.tierMix["nano"]).toEqual({ count: 3, share: 0.5 });
    expect(report.tierMix["refused"]).toEqual({ count: 1, share: 0.1667 });
    expect(report.errors).toEqual({ REFUSED_BY_POLICY: 1 });
    expect(report.cost.llmCalls).toBe(1);
    expect(report.cost.allLlmBaselineUsd).toBeCloseTo(7 * 0.0001, 10);
    expect(report.cost.ratioToAllLlm).toBeCloseTo(0.00012 / 0.0007, 4);
    expect(report.escalatedShare).toBeCloseTo(2 / 6, 4);
    expect(report.targets.met).toBe(false);
  });

  it("has latency per path including batch", () => {
    expect(Object.keys(report.latency).sort()).toEqual(
      ["all-realtime", "batch", "edge", "escalated-llm", "escalated-medium", "refused"].sort(),
    );
    expect(report.latency["batch"]?.p50Ms).toBe(2000);
  });

  it("renders markdown with the stand-in note and the CC BY attribution, and an SVG", () => {
    const md = renderMarkdown(report, "plot.svg");
    expect(md).toContain(STANDIN_NOTE);
    expect(md).toContain("CC BY 3.0");
    const svg = renderSvg(report, [...realtime, ...batch]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("escalated-llm");
    expect(svg.match(/<rect/g)?.length ?? 0).toBeGreaterThan(8);
  });
});

describe("degraded edge answers", () => {
  it("are counted apart from confident edge answers, with their own precision", () => {
    const r = buildReport(
      [
        outcome({ id: "1" }),
        outcome({ id: "2", path: "edge-degraded", degraded: true, label: "weather" }),
        outcome({ id: "3", path: "edge-degraded", degraded: true }),
        outcome({ id: "4", path: "edge-cache", tier: "llm", gold: "oos", label: "oos" }),
      ],
      [],
      RUN,
    );
    expect(r.edge).toMatchObject({ answered: 1, precision: 1 });
    expect(r.edgeDegraded).toEqual({ answered: 2, share: 0.5, precision: 0.5 });
    expect(r.tierMix["edge cache"]?.count).toBe(1);
    expect(r.tierMix["nano (degraded)"]?.count).toBe(2);
  });
});

describe("outcomeFromHttp", () => {
  it("reads a typed error body as refused with its code, and garbage as an error", () => {
    const base = { id: "x", gold: "balance", via: "edge-a", latencyMs: 1 };
    const refused = outcomeFromHttp(base, 400, { error: { code: "VALIDATION_FAILED", message: "bad" } });
    expect([refused.path, refused.errorCode]).toEqual(["refused", "VALIDATION_FAILED"]);
    const garbage = outcomeFromHttp(base, 502, "<html>");
    expect([garbage.path, garbage.errorCode]).toEqual(["error", "HTTP_502_UNPARSED"]);
  });

  it("reads an answered result and names the escalation path by the cloud tier", () => {
    const body = {
      id: "x",
      task: "intent",
      status: "answered",
      label: "balance",
      servedBy: { tier: "medium", where: "cloud", kind: "model" },
      degraded: false,
      cached: false,
      attempts: [],
      costUsd: 0.00001,
      timings: { totalMs: 3, steps: [] },
    };
    const o = outcomeFromHttp({ id: "x", gold: "balance", via: "edge-a", latencyMs: 3 }, 200, body);
    expect([o.path, o.tier, o.label]).toEqual(["escalated-medium", "medium", "balance"]);
  });
});

describe("histogram bins", () => {
  it("puts latencies into log bins within range", () => {
    expect(binOf(0)).toBe(0);
    expect(binOf(1)).toBe(5);
    expect(binOf(100)).toBe(15);
    expect(binOf(1e9)).toBe(BIN_COUNT - 1);
  });
});

describe("CLINC150 loading", () => {
  it("reads test + oos_test (5,500 rows) in a fixed order", async () => {
    const rows = await loadClinc150();
    expect(rows).toHaveLength(5500);
    expect(rows.filter((r) => r.gold === "oos")).toHaveLength(1000);
    expect((await loadClinc150({ limit: 10 })).map((r) => r.id)).toEqual(rows.slice(0, 10).map((r) => r.id));
  });

  it("refuses a file without the splits, and shuffles deterministically", () => {
    expect(() => parseClinc150(JSON.stringify({ test: [] }))).toThrow();
    expect(shuffled([1, 2, 3, 4, 5], 7)).toEqual(shuffled([1, 2, 3, 4, 5], 7));
  });
});
