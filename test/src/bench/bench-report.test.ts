import { describe, expect, it } from "vitest";
import { collectFigures, collectRatios, renderBenchMarkdown, type BenchReport } from "./bench-report.ts";

describe("collectRatios", () => {
  it("finds every numeric ratio field by path and skips aims and other numbers", () => {
    const data = {
      result: {
        http: { rps: 12000, ratio: 0.62, aimRatio: 0.5 },
        batching: [{ callers: 256, speedup: 14.2 }],
        classifyVsRawRatio: 1.1,
        note: "ratio",
        durationMs: 1234,
        vs_raw_ratio: 0.9,
      },
    };
    expect(collectRatios(data)).toEqual({
      "result.http.ratio": 0.62,
      "result.batching.0.speedup": 14.2,
      "result.classifyVsRawRatio": 1.1,
      "result.vs_raw_ratio": 0.9,
    });
  });
});

describe("collectFigures", () => {
  it("keeps aims and absolute figures, not ratios", () => {
    const data = {
      http: { reqPerSec: 6751, p99Ms: 68, edgeVsNodeHttpRatio: 0.46, ratioAim: 0.5 },
      memory: { rssAfterLoadMb: 290 },
    };
    expect(collectFigures(data)).toEqual({
      "http.reqPerSec": 6751,
      "http.p99Ms": 68,
      "http.ratioAim": 0.5,
      "memory.rssAfterLoadMb": 290,
    });
  });
});

describe("renderBenchMarkdown", () => {
  it("reports a missing benchmark as missing, not hidden", () => {
    const report: BenchReport = {
      generatedAt: "2025-01-01T00:00:00.000Z",
      machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 8, node: "v24" },
      totalMs: 1000,
      benches: [
        {
          name: "models",
          command: "npm run bench:models",
          timeoutMs: 1,
          status: "ok",
          ratios: { "a.ratio": 2 },
          sources: ["stdout"],
        },
        {
          name: "edge",
          command: "npm run bench:edge",
          timeoutMs: 1,
          status: "missing",
          reason: "no script",
          ratios: {},
        },
      ],
    };
    const md = renderBenchMarkdown(report);
    expect(md).toContain("| edge | missing (no script) |");
    expect(md).toContain("**Missing**: no script.");
    expect(md).toContain("| `a.ratio` | 2.00 |");
  });
});
