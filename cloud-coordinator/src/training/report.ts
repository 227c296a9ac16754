// Eval report: text table for the terminal, JSON for machines, and a hand-written SVG
// coverage–precision plot (one curve per acceptance rule).
import { ACCEPT_RULES } from "@tiergate/shared";
import type { AcceptRule, ModelManifest, SplitMetrics } from "@tiergate/shared";
import type { Confusion } from "./evaluate.ts";

export interface CurvePoint {
  threshold: number;
  coverage: number;
  precision: number;
}

export interface EvalReport {
  model: { dir: string; version: string; preset: string; precision: string };
  data: { file: string; format: string; rows: number };
  metrics: SplitMetrics;
  confusions: Confusion[];
  curves: Record<AcceptRule, CurvePoint[]>;
}

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? "    -" : `${(x * 100).toFixed(1).padStart(5)}%`;

export function formatReport(report: EvalReport, manifest: ModelManifest): string {
  const m = report.metrics;
  const lines = [
    `model ${report.model.version} (${report.model.preset}, ${report.model.precision}) on ${report.data.file}: ${m.rows} rows, ${m.oosRows} out-of-scope`,
    `accuracy ${pct(m.accuracy)}   in-scope accuracy ${pct(m.inScopeAccuracy)}   oos recall ${pct(m.oosRecall)}`,
    "",
    `coverage at precision (thresholds from ${manifest.calibration.split}, oos share ${manifest.calibration.oosShare}):`,
    `  target  ${ACCEPT_RULES.map((r) => `${r.padEnd(8)} thr   cov     prec  `).join(" ")}`,
  ];
  for (const t of [...new Set(m.atThresholds.map((r) => r.targetPrecision))]) {
    const cells = ACCEPT_RULES.map((rule) => {
      const r = m.atThresholds.find((x) => x.targetPrecision === t && x.rule === rule);
      const thr = r?.threshold === null || r === undefined ? "   -  " : r.threshold.toFixed(4);
      return `${" ".repeat(8)} ${thr} ${pct(r?.coverage)} ${pct(r?.precision)}`;
    });
    lines.push(`  ${pct(t)} ${cells.join(" ")}`);
  }
  lines.push("", "most frequent confusions (gold → predicted):");
  for (const c of report.confusions)
    lines.push(`  ${String(c.count).padStart(4)}  ${c.gold} → ${c.predicted}`);
  return `${lines.join("\n")}\n`;
}

const COLORS: Record<AcceptRule, string> = { "max-prob": "#1f77b4", margin: "#d62728", entropy: "#2ca02c" };

/** Coverage (x) against precision (y) as the threshold falls, one polyline per rule. */
export function coveragePrecisionSvg(report: EvalReport): string {
  const W = 640;
  const H = 420;
  const L = 60;
  const B = 50;
  const yMin = 0.8;
  const x = (c: number) => L + c * (W - L - 20);
  const y = (p: number) => H - B - ((Math.max(yMin, p) - yMin) / (1 - yMin)) * (H - B - 30);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(report.model.version)}: coverage vs precision</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const c = i / 10;
    parts.push(`<line x1="${x(c)}" y1="${y(yMin)}" x2="${x(c)}" y2="${y(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(c)}" y="${H - B + 16}" text-anchor="middle">${(c * 100).toFixed(0)}%</text>`);
  }
  for (let p = yMin; p <= 1.0001; p += 0.02) {
    parts.push(`<line x1="${x(0)}" y1="${y(p)}" x2="${x(1)}" y2="${y(p)}" stroke="#eee"/>`);
    parts.push(`<text x="${L - 6}" y="${y(p) + 4}" text-anchor="end">${(p * 100).toFixed(0)}%</text>`);
  }
  parts.push(
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">coverage (share of all queries answered)</text>`,
  );
  parts.push(
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">precision</text>`,
  );
  ACCEPT_RULES.forEach((rule, i) => {
    const pts = report.curves[rule].map((p) => `${x(p.coverage).toFixed(1)},${y(p.precision).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${COLORS[rule]}" stroke-width="1.5" points="${pts.join(" ")}"/>`,
    );
    parts.push(`<text x="${L + 10}" y="${y(yMin) - 10 - 16 * i}" fill="${COLORS[rule]}">${rule}</text>`);
  });
  parts.push("</svg>\n");
  return parts.join("\n");
}

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
