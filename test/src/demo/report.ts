// The demo's final report: tier mix, edge precision, accuracy, cost against an all-LLM baseline and
// latency percentiles per path, computed from the outcomes of one run. Pure functions.
import { CLINC150_ATTRIBUTION, OUT_OF_SCOPE } from "./dataset.ts";
import {
  isCorrect,
  isCorrectAtEdge,
  PATH_EDGE,
  PATH_EDGE_CACHE,
  PATH_EDGE_DEGRADED,
  type Outcome,
} from "./outcome.ts";

export const TARGET_EDGE_SHARE = 0.5;
export const TARGET_EDGE_PRECISION = 0.96;
/** Share of deliberately wrong stand-in answers, so the "LLM" is not an oracle. */
export const DEMO_STANDIN_ERROR_RATE = 0.05;
export const STANDIN_NOTE =
  "LLM answers in this run came from the offline tiergate LLM stand-in (`tiergate-coordinator standin`), " +
  `not from a real LLM: it answers from CLINC150 gold labels with ${DEMO_STANDIN_ERROR_RATE * 100}% deliberately wrong answers. ` +
  "Its costs are its token counts priced with the policy's per-token prices.";

/** Nearest-rank percentile of an ascending array; undefined when empty. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export type Latency = { count: number; p50Ms?: number; p90Ms?: number; p99Ms?: number; maxMs?: number };

export function latencySummary(valuesMs: readonly number[]): Latency {
  const sorted = [...valuesMs].sort((a, b) => a - b);
  const out: Latency = { count: sorted.length };
  const put = (key: "p50Ms" | "p90Ms" | "p99Ms" | "maxMs", value: number | undefined): void => {
    if (value !== undefined) out[key] = round(value, 3);
  };
  put("p50Ms", percentile(sorted, 50));
  put("p90Ms", percentile(sorted, 90));
  put("p99Ms", percentile(sorted, 99));
  put("maxMs", sorted.at(-1));
  return out;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const ratio = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole);

export type DemoRunInfo = {
  startedAt: string;
  wallMs: number;
  ratePerSecond: number;
  concurrency: number;
  limit: number | undefined;
  edgeDevices: string[];
  batch: { id: string; items: number; status: string; waitMs: number } | undefined;
};

export type DemoReport = {
  dataset: string;
  llmNote: string;
  run: DemoRunInfo;
  totals: { requests: number; realtime: number; batch: number; inScope: number; outOfScope: number };
  /** Share of all realtime requests by who answered them (tier name) or how they ended. */
  tierMix: Record<string, { count: number; share: number }>;
  paths: Record<string, { count: number; share: number }>;
  /** Confident edge answers (the cascade's claim); degraded ones are counted apart. */
  edge: { answered: number; share: number; correct: number; precision: number; oosAnsweredAtEdge: number };
  /** The same per edge tier, to tell which threshold lets the wrong answers through. */
  edgeByTier: Record<string, { answered: number; precision: number; oosAnswered: number }>;
  /** Answered at the edge below its threshold because the cloud could not answer in time. */
  edgeDegraded: { answered: number; share: number; precision: number };
  escalatedShare: number;
  accuracy: { overall: number; inScope: number; outOfScopeRecall: number; batch: number | undefined };
  degraded: number;
  errors: Record<string, number>;
  cost: {
    totalUsd: number;
    llmCalls: number;
    llmPerCallUsd: number | undefined;
    allLlmBaselineUsd: number | undefined;
    /** totalUsd / allLlmBaselineUsd */
    ratioToAllLlm: number | undefined;
  };
  latency: Record<string, Latency>;
  targets: { edgeShareAtLeast: number; edgePrecisionAtLeast: number; met: boolean };
};

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function withShares(
  counts: Record<string, number>,
  total: number,
): Record<string, { count: number; share: number }> {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(
    entries.map(([k, count]) => [k, { count, share: round(ratio(count, total), 4) }]),
  );
}

export function buildReport(
  realtime: readonly Outcome[],
  batch: readonly Outcome[],
  run: DemoRunInfo,
): DemoReport {
  const all = [...realtime, ...batch];
  const edge = realtime.filter((o) => o.path === PATH_EDGE && o.label !== undefined);
  const edgeCorrect = edge.filter(isCorrectAtEdge).length;
  const degradedAtEdge = realtime.filter((o) => o.path === PATH_EDGE_DEGRADED && o.label !== undefined);
  const inScope = realtime.filter((o) => o.gold !== OUT_OF_SCOPE);
  const oos = realtime.filter((o) => o.gold === OUT_OF_SCOPE);
  const llmCosts = all.flatMap((o) => (o.llmCostUsd === undefined ? [] : [o.llmCostUsd]));
  const llmPerCallUsd =
    llmCosts.length === 0 ? undefined : llmCosts.reduce((a, b) => a + b, 0) / llmCosts.length;
  const totalUsd = all.reduce((sum, o) => sum + o.costUsd, 0);
  const baseline = llmPerCallUsd === undefined ? undefined : llmPerCallUsd * all.length;
  const latencyPaths = countBy(all, (o) => o.path);
  const latency: Record<string, Latency> = {};
  for (const path of Object.keys(latencyPaths).sort()) {
    latency[path] = latencySummary(all.filter((o) => o.path === path).map((o) => o.latencyMs));
  }
  latency["all-realtime"] = latencySummary(realtime.map((o) => o.latencyMs));
  const edgeShare = round(ratio(edge.length, realtime.length), 4);
  const edgePrecision = round(ratio(edgeCorrect, edge.length), 4);
  return {
    dataset: CLINC150_ATTRIBUTION,
    llmNote: STANDIN_NOTE,
    run,
    totals: {
      requests: all.length,
      realtime: realtime.length,
      batch: batch.length,
      inScope: inScope.length,
      outOfScope: oos.length,
    },
    tierMix: withShares(
      countBy(realtime, (o) => {
        if (o.path === PATH_EDGE_DEGRADED) return `${o.tier ?? "edge"} (degraded)`;
        return o.path === PATH_EDGE_CACHE ? "edge cache" : (o.tier ?? o.path);
      }),
      realtime.length,
    ),
    paths: withShares(latencyPaths, all.length),
    edge: {
      answered: edge.length,
      share: edgeShare,
      correct: edgeCorrect,
      precision: edgePrecision,
      oosAnsweredAtEdge: edge.filter((o) => o.gold === OUT_OF_SCOPE).length,
    },
    edgeByTier: Object.fromEntries(
      [...new Set(edge.map((o) => o.tier ?? "edge"))].sort().map((tier) => {
        const mine = edge.filter((o) => (o.tier ?? "edge") === tier);
        const precision = round(ratio(mine.filter(isCorrectAtEdge).length, mine.length), 4);
        return [
          tier,
          {
            answered: mine.length,
            precision,
            oosAnswered: mine.filter((o) => o.gold === OUT_OF_SCOPE).length,
          },
        ];
      }),
    ),
    edgeDegraded: {
      answered: degradedAtEdge.length,
      share: round(ratio(degradedAtEdge.length, realtime.length), 4),
      precision: round(ratio(degradedAtEdge.filter(isCorrectAtEdge).length, degradedAtEdge.length), 4),
    },
    escalatedShare: round(
      ratio(realtime.filter((o) => o.path.startsWith("escalated-")).length, realtime.length),
      4,
    ),
    accuracy: {
      overall: round(ratio(realtime.filter(isCorrect).length, realtime.length), 4),
      inScope: round(ratio(inScope.filter(isCorrect).length, inScope.length), 4),
      outOfScopeRecall: round(ratio(oos.filter(isCorrect).length, oos.length), 4),
      batch: batch.length === 0 ? undefined : round(ratio(batch.filter(isCorrect).length, batch.length), 4),
    },
    degraded: all.filter((o) => o.degraded).length,
    errors: countBy(
      all.filter((o) => o.errorCode !== undefined),
      (o) => o.errorCode ?? "",
    ),
    cost: {
      totalUsd: round(totalUsd, 8),
      llmCalls: llmCosts.length,
      llmPerCallUsd: llmPerCallUsd === undefined ? undefined : round(llmPerCallUsd, 10),
      allLlmBaselineUsd: baseline === undefined ? undefined : round(baseline, 8),
      ratioToAllLlm: baseline === undefined || baseline === 0 ? undefined : round(totalUsd / baseline, 4),
    },
    latency,
    targets: {
      edgeShareAtLeast: TARGET_EDGE_SHARE,
      edgePrecisionAtLeast: TARGET_EDGE_PRECISION,
      met: edgeShare >= TARGET_EDGE_SHARE && edgePrecision >= TARGET_EDGE_PRECISION,
    },
  };
}
