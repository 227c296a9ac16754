// The aggregated benchmark report: every ratio found in the benchmarks' JSON, and its Markdown.
export type BenchStatus = "ok" | "missing" | "failed" | "timeout";

export type BenchEntry = {
  name: string;
  command: string;
  timeoutMs: number;
  status: BenchStatus;
  reason?: string;
  durationMs?: number;
  /** Files (or "stdout") the results came from. */
  sources?: string[];
  /** JSON path → value, for every numeric field whose name says it is a ratio. */
  ratios: Record<string, number>;
  /** JSON path → value for the aims and the absolute figures behind the ratios (req/s, p99, RSS, …). */
  figures?: Record<string, number>;
  data?: Record<string, unknown>;
  outputTail?: string;
};

export type BenchReport = {
  generatedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  totalMs: number;
  benches: BenchEntry[];
};

/**
 * Field names that hold a ratio against a baseline: `ratio`, `vsRawRatio`, `vs_raw_ratio`, `speedup`,
 * `speedupVsOneByOne` — but not words that merely contain the letters (`durationMs`).
 */
export const RATIO_KEY = /Ratio|(^|[_-])ratio|speedup|Speedup/;
/** Field names that hold the aim a ratio is compared with (reported next to it, not as a ratio). */
export const AIM_KEY = /aim|target|goal|limit|threshold/i;
export const MAX_RATIO_DEPTH = 8;
/** Absolute figures worth showing beside the ratios, and the load the machine was under. */
export const FIGURE_KEY = /aim|Aim|PerSec|[pP]\d\dMs|Mean(Ms|Us)|Us$|rss|Rss|ToReadyMs|loadAvg|MiB|Mb$/;

/** Walks JSON and returns `path → number` for numeric fields whose key matches `pattern` (ratios excluded). */
export function collectFigures(
  value: unknown,
  path = "",
  depth = 0,
  out: Record<string, number> = {},
): Record<string, number> {
  if (depth > MAX_RATIO_DEPTH || value === null || typeof value !== "object") return out;
  const entries = Array.isArray(value) ? [] : Object.entries(value);
  for (const [key, child] of entries) {
    const childPath = path === "" ? key : `${path}.${key}`;
    if (typeof child === "number" && Number.isFinite(child)) {
      if (FIGURE_KEY.test(key) && (!RATIO_KEY.test(key) || AIM_KEY.test(key))) out[childPath] = child;
    } else {
      collectFigures(child, childPath, depth + 1, out);
    }
  }
  return out;
}

/** Walks JSON and returns `path → number` for numeric fields whose key names a ratio. */
export function collectRatios(
  value: unknown,
  path = "",
  depth = 0,
  out: Record<string, number> = {},
): Record<string, number> {
  if (depth > MAX_RATIO_DEPTH || value === null || typeof value !== "object") return out;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [key, child] of entries) {
    const childPath = path === "" ? key : `${path}.${key}`;
    if (typeof child === "number" && Number.isFinite(child) && RATIO_KEY.test(key) && !AIM_KEY.test(key)) {
      out[childPath] = child;
    } else {
      collectRatios(child, childPath, depth + 1, out);
    }
  }
  return out;
}

const fmt = (n: number): string =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);

export function renderBenchMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    "# tiergate benchmarks",
    "",
    `Generated ${report.generatedAt} by \`npm run bench\` on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}; ` +
      `${(report.totalMs / 1000).toFixed(0)} s in all. Every ratio is against a baseline measured in the same run.`,
    "",
    "| benchmark | status | time | ratios |",
    "|---|---|---|---|",
    ...report.benches.map(
      (b) =>
        `| ${b.name} | ${b.status}${b.reason === undefined ? "" : ` (${b.reason})`} | ${b.durationMs === undefined ? "–" : `${(b.durationMs / 1000).toFixed(0)} s`} | ${Object.keys(b.ratios).length} |`,
    ),
    "",
  ];
  for (const b of report.benches) {
    lines.push(`## ${b.name} — \`${b.command}\``, "");
    if (b.status === "missing") {
      lines.push(`**Missing**: ${b.reason ?? "not run"}.`, "");
      continue;
    }
    if (b.status !== "ok")
      lines.push(`**${b.status}**: ${b.reason ?? ""}. Figures below are whatever it wrote before that.`, "");
    const ratios = Object.entries(b.ratios);
    if (ratios.length === 0) lines.push("No ratio found in its output.", "");
    else
      lines.push("| ratio | value |", "|---|---|", ...ratios.map(([k, v]) => `| \`${k}\` | ${fmt(v)} |`), "");
    const figures = Object.entries(b.figures ?? {});
    if (figures.length > 0) {
      lines.push(
        "<details><summary>aims and absolute figures</summary>",
        "",
        "| figure | value |",
        "|---|---|",
      );
      lines.push(...figures.map(([k, v]) => `| \`${k}\` | ${fmt(v)} |`), "", "</details>", "");
    }
    if (b.sources !== undefined && b.sources.length > 0)
      lines.push(`Source: ${b.sources.map((s) => `\`${s}\``).join(", ")}.`, "");
  }
  return lines.join("\n");
}
