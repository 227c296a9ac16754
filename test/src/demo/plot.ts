// A hand-written SVG (no dependency): the tier mix as one stacked bar, and the latency distribution
// as a histogram on log-spaced bins, stacked by path.
import type { Outcome } from "./outcome.ts";
import type { DemoReport } from "./report.ts";

export const PLOT_WIDTH = 760;
export const PLOT_HEIGHT = 420;
const PALETTE = [
  "#2e7d32",
  "#66bb6a",
  "#1565c0",
  "#ef6c00",
  "#8e24aa",
  "#c62828",
  "#6d4c41",
  "#546e7a",
  "#00838f",
];
/** Histogram bins: 100 µs … 100 s (client-side latency over HTTP is never below that), 5 per decade. */
export const BIN_MIN_MS = 0.1;
export const BINS_PER_DECADE = 5;
export const BIN_COUNT = 6 * BINS_PER_DECADE;

const esc = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function binOf(ms: number): number {
  if (!(ms > BIN_MIN_MS)) return 0;
  return Math.min(BIN_COUNT - 1, Math.floor(Math.log10(ms / BIN_MIN_MS) * BINS_PER_DECADE));
}

function binLabel(bin: number): string {
  const ms = BIN_MIN_MS * 10 ** (bin / BINS_PER_DECADE);
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${Math.round(ms / 1000)}s`;
}

export function renderSvg(report: DemoReport, outcomes: readonly Outcome[]): string {
  const parts: string[] = [];
  const colorOf = new Map<string, string>();
  const color = (key: string): string => {
    if (!colorOf.has(key)) colorOf.set(key, PALETTE[colorOf.size % PALETTE.length] ?? "#999");
    return colorOf.get(key) ?? "#999";
  };
  const left = 40;
  const width = PLOT_WIDTH - 2 * left;
  parts.push(
    `<text x="${left}" y="24" font-size="15" font-weight="bold">tiergate demo: who answered (realtime)</text>`,
  );
  let x = left;
  let legendX = left;
  for (const [tier, v] of Object.entries(report.tierMix)) {
    const w = v.share * width;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="36" width="${w.toFixed(1)}" height="34" fill="${color(tier)}"><title>${esc(tier)}: ${v.count} (${(v.share * 100).toFixed(1)}%)</title></rect>`,
    );
    x += w;
    parts.push(`<rect x="${legendX}" y="80" width="10" height="10" fill="${color(tier)}"/>`);
    const label = `${tier} ${(v.share * 100).toFixed(1)}%`;
    parts.push(`<text x="${legendX + 14}" y="89" font-size="11">${esc(label)}</text>`);
    legendX += 22 + label.length * 6.2;
  }

  // Latency histogram, stacked by path.
  const top = 130;
  const chartHeight = PLOT_HEIGHT - top - 60;
  const paths = [...new Set(outcomes.map((o) => o.path))].sort();
  const counts = paths.map(() => new Array<number>(BIN_COUNT).fill(0));
  for (const o of outcomes) {
    const row = counts[paths.indexOf(o.path)];
    if (row !== undefined) row[binOf(o.latencyMs)] = (row[binOf(o.latencyMs)] ?? 0) + 1;
  }
  const totals = Array.from({ length: BIN_COUNT }, (_, b) => counts.reduce((s, row) => s + (row[b] ?? 0), 0));
  const maxTotal = Math.max(1, ...totals);
  const barW = width / BIN_COUNT;
  parts.push(
    `<text x="${left}" y="${top - 12}" font-size="15" font-weight="bold">latency distribution by path (client side, log bins)</text>`,
  );
  for (let b = 0; b < BIN_COUNT; b += 1) {
    let y = top + chartHeight;
    paths.forEach((path, i) => {
      const n = counts[i]?.[b] ?? 0;
      if (n === 0) return;
      const h = (n / maxTotal) * chartHeight;
      y -= h;
      parts.push(
        `<rect x="${(left + b * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color(`path:${path}`)}"><title>${esc(path)} ${binLabel(b)}: ${n}</title></rect>`,
      );
    });
    if (b % BINS_PER_DECADE === 0) {
      parts.push(
        `<text x="${(left + b * barW).toFixed(1)}" y="${top + chartHeight + 14}" font-size="10">${binLabel(b)}</text>`,
      );
    }
  }
  parts.push(
    `<line x1="${left}" y1="${top + chartHeight}" x2="${left + width}" y2="${top + chartHeight}" stroke="#333"/>`,
  );
  legendX = left;
  for (const path of paths) {
    parts.push(
      `<rect x="${legendX}" y="${PLOT_HEIGHT - 24}" width="10" height="10" fill="${color(`path:${path}`)}"/>`,
    );
    parts.push(`<text x="${legendX + 14}" y="${PLOT_HEIGHT - 15}" font-size="11">${esc(path)}</text>`);
    legendX += 24 + path.length * 6.2;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PLOT_WIDTH}" height="${PLOT_HEIGHT}" viewBox="0 0 ${PLOT_WIDTH} ${PLOT_HEIGHT}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}
