// `npm run demo`: the whole cascade on one machine. Starts the local stack, replays CLINC150
// test + oos_test through the two edge agents, runs an off-peak batch on the coordinator, and
// writes report.json, report.md and plot.svg. LLM answers come from the offline stand-in.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureStackModels } from "../../../deploy/local/models.ts";
import { onStopSignal } from "../../../deploy/local/signals.ts";
import { DEFAULT_POLICY_FILE, REPO_ROOT, Stack } from "../../../deploy/local/stack.ts";
import { DEFAULT_BATCH_ITEMS, runBatch, type BatchRun } from "./batch.ts";
import { loadClinc150 } from "./dataset.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderSvg } from "./plot.ts";
import { ProgressLine } from "./progress.ts";
import { DEFAULT_CONCURRENCY, DEFAULT_RATE_PER_SECOND, DEMO_TASK, replay } from "./replay.ts";
import { buildReport, DEMO_STANDIN_ERROR_RATE, type DemoReport } from "./report.ts";

export const DEFAULT_OUT_DIR = join(REPO_ROOT, "reports/demo");

const HELP = `usage: npm run demo -- [options]      (node test/src/demo/main.ts [options])

Starts the local stack (nats-server, redis-server, the LLM stand-in, a coordinator, edge agents
edge-a and edge-b), trains missing models, replays CLINC150 test + oos_test (5,500 requests)
through the edge agents' HTTP APIs, submits an off-peak batch to the coordinator and waits for it,
then writes report.json, report.md and plot.svg. LLM answers come from the offline stand-in, not
a real LLM. CLINC150: Larson et al. 2019, CC BY 3.0.

options:
  --limit N         replay only the first N rows of the fixed shuffled order (default: all)
  --rate R          requests per second (default: ${DEFAULT_RATE_PER_SECOND})
  --concurrency C   most requests in flight (default: ${DEFAULT_CONCURRENCY})
  --batch N         items in the off-peak batch, 0 for none (default: ${DEFAULT_BATCH_ITEMS})
  --now-off-peak    treat now as off-peak so the batch runs at once (npm run demo passes it);
                    without it the batch waits for the policy's next off-peak window
  --out DIR         where the reports go (default: reports/demo)
  --keep-logs       keep the services' logs after a clean run
  -h, --help        this text`;

function positiveInt(value: string | undefined, name: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1))
    throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

function parse(): {
  limit: number | undefined;
  rate: number;
  concurrency: number;
  batchItems: number;
  nowOffPeak: boolean;
  out: string;
  keepLogs: boolean;
} | null {
  const { values } = parseArgs({
    strict: true,
    options: {
      limit: { type: "string" },
      rate: { type: "string" },
      concurrency: { type: "string" },
      batch: { type: "string" },
      "now-off-peak": { type: "boolean" },
      out: { type: "string" },
      "keep-logs": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) return null;
  const rate = Number(values.rate ?? DEFAULT_RATE_PER_SECOND);
  if (!(rate > 0)) throw new Error(`--rate must be a positive number, got "${values.rate}"`);
  return {
    limit: values.limit === undefined ? undefined : positiveInt(values.limit, "--limit", 0),
    rate,
    concurrency: positiveInt(values.concurrency, "--concurrency", DEFAULT_CONCURRENCY),
    batchItems: positiveInt(values.batch, "--batch", DEFAULT_BATCH_ITEMS, true),
    nowOffPeak: values["now-off-peak"] === true,
    out: resolve(values.out ?? DEFAULT_OUT_DIR),
    keepLogs: values["keep-logs"] === true,
  };
}

const say = (message: string): void => void process.stderr.write(`[demo] ${message}\n`);

async function writeReports(out: string, report: DemoReport, svg: string): Promise<void> {
  await mkdir(out, { recursive: true });
  await writeFile(join(out, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, "plot.svg"), svg);
  await writeFile(join(out, "report.md"), renderMarkdown(report, "plot.svg"));
}

async function main(): Promise<void> {
  const args = parse();
  if (args === null) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const wallStart = performance.now();
  const startedAt = new Date().toISOString();
  await ensureStackModels({ policyFile: DEFAULT_POLICY_FILE });
  const rows = await loadClinc150(args.limit === undefined ? {} : { limit: args.limit });
  say(`${rows.length} CLINC150 rows (test + oos_test, CC BY 3.0); starting the local stack…`);
  const stack = await Stack.start({
    offPeakNow: args.nowOffPeak,
    keepLogs: args.keepLogs,
    standinArgs: ["--error-rate", String(DEMO_STANDIN_ERROR_RATE)],
    log: say,
  });
  let failed = true;
  onStopSignal(async (signal) => {
    say(`${signal}: stopping the stack…`);
    const kept = await stack.stop({ failed: true });
    if (kept !== undefined) say(`logs kept in ${kept}`);
  });
  try {
    const progress = new ProgressLine(rows.length);
    const realtime = await replay({
      rows,
      targets: stack.edges.map((e) => ({ name: e.deviceId, url: e.url })),
      ratePerSecond: args.rate,
      concurrency: args.concurrency,
      onOutcome: (o) => progress.add(o),
    });
    progress.finish();

    let batch: BatchRun | undefined;
    const coordinator = stack.coordinators[0];
    if (args.batchItems > 0 && coordinator !== undefined) {
      const batchRows = rows.slice(0, args.batchItems).map((r) => ({ ...r, id: `batch-${r.id}` }));
      say(
        `submitting a batch of ${batchRows.length} for the off-peak window${args.nowOffPeak ? " (now counts as off-peak)" : " (waits for the window)"}…`,
      );
      batch = await runBatch({
        coordinatorUrl: coordinator.url,
        apiKey: stack.apiKey,
        rows: batchRows,
        task: DEMO_TASK,
        batchId: `demo-${Date.now()}`,
      });
      say(`batch ${batch.result.batchId} ${batch.result.status} after ${(batch.waitMs / 1000).toFixed(1)} s`);
    }

    const report = buildReport(realtime, batch?.outcomes ?? [], {
      startedAt,
      wallMs: Math.round(performance.now() - wallStart),
      ratePerSecond: args.rate,
      concurrency: args.concurrency,
      limit: args.limit,
      edgeDevices: stack.edges.map((e) => e.deviceId),
      batch:
        batch === undefined
          ? undefined
          : {
              id: batch.result.batchId,
              items: batch.result.itemCount,
              status: batch.result.status,
              waitMs: Math.round(batch.waitMs),
            },
    });
    await writeReports(args.out, report, renderSvg(report, [...realtime, ...(batch?.outcomes ?? [])]));
    process.stdout.write(
      `\nedge ${(report.edge.share * 100).toFixed(1)}% (precision ${(report.edge.precision * 100).toFixed(1)}%), ` +
        `escalated ${(report.escalatedShare * 100).toFixed(1)}%, accuracy ${(report.accuracy.overall * 100).toFixed(1)}%, ` +
        `cost ${report.cost.ratioToAllLlm === undefined ? "–" : `${report.cost.ratioToAllLlm.toFixed(4)}×`} of all-LLM; ` +
        `targets ${report.targets.met ? "met" : "NOT met"}\n${report.llmNote}\nreports in ${args.out}\n`,
    );
    failed = false;
  } finally {
    const kept = await stack.stop({ failed });
    if (kept !== undefined) say(`service logs kept in ${kept}`);
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`[demo] failed: ${err instanceof Error ? err.message : String(err)}\n`);
    const cause: unknown = err instanceof Error ? err.cause : undefined;
    if (cause instanceof Error) process.stderr.write(`  cause: ${cause.message}\n`);
    process.exit(1);
  },
);
