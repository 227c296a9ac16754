// report.md from a DemoReport: the figures a reader checks, with the dataset attribution and the
// note that LLM answers came from the offline stand-in.
import type { DemoReport, Latency } from "./report.ts";

const pct = (share: number): string => `${(share * 100).toFixed(1)}%`;
const ms = (value: number | undefined): string =>
  value === undefined ? "–" : `${value.toFixed(value < 10 ? 2 : 1)}`;
const usd = (value: number | undefined): string => (value === undefined ? "–" : `$${value.toFixed(6)}`);

function latencyRow(path: string, l: Latency): string {
  return `| ${path} | ${l.count} | ${ms(l.p50Ms)} | ${ms(l.p90Ms)} | ${ms(l.p99Ms)} | ${ms(l.maxMs)} |`;
}

export function renderMarkdown(r: DemoReport, plotFile: string): string {
  const mix = Object.entries(r.tierMix).map(([tier, v]) => `| ${tier} | ${v.count} | ${pct(v.share)} |`);
  const errors = Object.entries(r.errors).map(([code, n]) => `\`${code}\` ×${n}`);
  const batch = r.run.batch;
  const lines = [
    "# tiergate demo report",
    "",
    `> ${r.llmNote}`,
    "",
    `Data: ${r.dataset}`,
    "",
    `Run: ${r.run.startedAt}, ${r.totals.realtime} realtime requests (${r.totals.inScope} in scope, ${r.totals.outOfScope} out of scope) ` +
      `at ${r.run.ratePerSecond}/s with at most ${r.run.concurrency} in flight through edge agents ${r.run.edgeDevices.join(", ")}` +
      (batch === undefined
        ? ""
        : `, then a batch of ${batch.items} (${batch.status} after ${(batch.waitMs / 1000).toFixed(1)} s)`) +
      `; wall time ${(r.run.wallMs / 1000).toFixed(1)} s.`,
    "",
    "## Headline",
    "",
    `| figure | value | target |`,
    `|---|---|---|`,
    `| answered at the edge | ${pct(r.edge.share)} (${r.edge.answered}) | ≥ ${pct(r.targets.edgeShareAtLeast)} |`,
    `| precision of edge answers (oos at the edge = wrong) | ${pct(r.edge.precision)} (${r.edge.correct}/${r.edge.answered}) | ≥ ${pct(r.targets.edgePrecisionAtLeast)} |`,
    ...Object.entries(r.edgeByTier).map(
      ([tier, t]) =>
        `| · ${tier}: precision (oos answered) | ${pct(t.precision)} of ${t.answered} (${t.oosAnswered}) | |`,
    ),
    `| answered at the edge degraded (cloud not reachable in time), precision | ${pct(r.edgeDegraded.share)} (${r.edgeDegraded.answered}), ${pct(r.edgeDegraded.precision)} | |`,
    `| escalated to the cloud | ${pct(r.escalatedShare)} | |`,
    `| overall accuracy (realtime) | ${pct(r.accuracy.overall)} | |`,
    `| in-scope accuracy / out-of-scope recall | ${pct(r.accuracy.inScope)} / ${pct(r.accuracy.outOfScopeRecall)} | |`,
    ...(r.accuracy.batch === undefined ? [] : [`| batch accuracy | ${pct(r.accuracy.batch)} | |`]),
    `| cost of this run | ${usd(r.cost.totalUsd)} | |`,
    `| all-LLM baseline (${r.totals.requests} × ${usd(r.cost.llmPerCallUsd)} per LLM call, from ${r.cost.llmCalls} calls in this run) | ${usd(r.cost.allLlmBaselineUsd)} | |`,
    `| cost ratio to all-LLM | ${r.cost.ratioToAllLlm === undefined ? "–" : `${r.cost.ratioToAllLlm.toFixed(4)}×`} | |`,
    `| targets met | ${r.targets.met ? "yes" : "**no**"} | |`,
    "",
    "## Who answered (realtime)",
    "",
    "| tier / outcome | requests | share |",
    "|---|---|---|",
    ...mix,
    "",
    "## Latency per path (client side, ms)",
    "",
    "| path | n | p50 | p90 | p99 | max |",
    "|---|---|---|---|---|---|",
    ...Object.entries(r.latency).map(([path, l]) => latencyRow(path, l)),
    "",
    `Degraded answers: ${r.degraded}. Typed errors: ${errors.length === 0 ? "none" : errors.join(", ")}.`,
    "",
    `![tier mix and latency](${plotFile})`,
    "",
  ];
  return lines.join("\n");
}
