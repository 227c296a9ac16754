// `npm run bench:models`: what the model runtime costs and what micro-batching buys, on the CLINC150
// models (Larson et al. 2019, CC BY 3.0) from ensureModels.
//  1. classify(texts) against raw session.run on the same, already featurized input (ratio, aim ≤ 1.5)
//  2. micro-batcher throughput with 1, 16 and 256 concurrent callers against one-by-one classify
//     calls (ratio, aim ≥ 10 at 256)
//  3. resident memory per loaded model
// Prints a table and writes JSON to $TIERGATE_BENCH_JSON or reports/bench-models.json. Bounded in
// time: each measurement runs for a fixed window.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { MicroBatcher, loadModel } from "@tiergate/shared";
import type { ModelRuntime } from "@tiergate/shared";
import { CLINC150_DATA_FILE, DEFAULT_MODELS_DIR, REPO_ROOT, ensureModels } from "../models/ensure-models.ts";

export const WINDOW_MS = 1_500;
export const WARMUP_CALLS = 200;
export const CONCURRENCY = [1, 16, 256] as const;
export const CLASSIFY_VS_RAW_AIM = 1.5;
export const BATCHING_AT_256_AIM = 10;
const OUT_FILE = process.env["TIERGATE_BENCH_JSON"] ?? join(REPO_ROOT, "reports", "bench-models.json");

async function timed(fn: () => Promise<unknown>): Promise<{ calls: number; perCallUs: number }> {
  for (let i = 0; i < WARMUP_CALLS; i++) await fn();
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < WINDOW_MS) {
    await fn();
    calls++;
  }
  return { calls, perCallUs: ((performance.now() - started) * 1000) / calls };
}

/** Texts per second with `callers` closed-loop callers through the batcher. */
async function batchedThroughput(
  runtime: ModelRuntime,
  texts: string[],
  callers: number,
): Promise<{ textsPerSec: number; meanBatch: number }> {
  const batcher = new MicroBatcher(runtime);
  let next = 0;
  let done = 0;
  const started = performance.now();
  const loop = async () => {
    while (performance.now() - started < WINDOW_MS) {
      await batcher.classify(texts[next++ % texts.length] ?? "x");
      done++;
    }
  };
  await Promise.all(Array.from({ length: callers }, loop));
  const seconds = (performance.now() - started) / 1000;
  const meanBatch = done / Math.max(1, batcher.batches);
  await batcher.close();
  return { textsPerSec: done / seconds, meanBatch };
}

async function benchModel(dir: string, texts: string[]) {
  const runtime = await loadModel(dir);
  try {
    let i = 0;
    const pick = () => texts[i++ % texts.length] ?? "x";
    const encoded = texts.slice(0, 64).map((t) => runtime.encode([t]).feeds);
    let j = 0;
    const raw = await timed(() => runtime.session.run(encoded[j++ % encoded.length] ?? {}, ["probs"]));
    let k = 0;
    const wrapped = await timed(() => runtime.classify([texts[k++ % 64] ?? "x"]));
    const oneByOne = await timed(() => runtime.classify([pick()]));
    const oneByOnePerSec = 1e6 / oneByOne.perCallUs;
    const batching: Record<
      string,
      { callers: number; textsPerSec: number; meanBatch: number; speedupVsOneByOne: number }
    > = {};
    for (const callers of CONCURRENCY) {
      const r = await batchedThroughput(runtime, texts, callers);
      batching[`c${callers}`] = { callers, ...r, speedupVsOneByOne: r.textsPerSec / oneByOnePerSec };
    }
    return {
      model: runtime.version,
      rawRunUs: raw.perCallUs,
      classifyUs: wrapped.perCallUs,
      classifyVsRawRatio: wrapped.perCallUs / raw.perCallUs,
      oneByOnePerSec,
      batching,
    };
  } finally {
    await runtime.close();
  }
}

const execFileAsync = promisify(execFile);

/** RSS a loaded model adds, each measured in a fresh child process (onnxruntime-node already loaded there). */
async function memoryPerModel(dirs: string[]): Promise<Record<string, { rssMiB: number; onnxMiB: number }>> {
  const out: Record<string, { rssMiB: number; onnxMiB: number }> = {};
  const script = join(dirname(fileURLToPath(import.meta.url)), "model-memory.ts");
  for (const dir of dirs) {
    const { stdout } = await execFileAsync(process.execPath, [script, dir], { cwd: REPO_ROOT });
    const r = JSON.parse(stdout.trim()) as { version: string; rssMiB: number };
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as {
      onnx: { bytes: number };
    };
    out[r.version] = { rssMiB: r.rssMiB, onnxMiB: manifest.onnx.bytes / 2 ** 20 };
  }
  return out;
}

const started = performance.now();
const models = await ensureModels({ presets: ["nano", "small"] });
const data = JSON.parse(await readFile(CLINC150_DATA_FILE, "utf8")) as Record<string, [string, string][]>;
const texts = (data["test"] ?? []).map(([t]) => t);
const memoryDirs = ["nano", "nano-int8", "small", "small-int8", "medium", "medium-int8"]
  .map((p) => join(DEFAULT_MODELS_DIR, p))
  .filter((d) => existsSync(join(d, "manifest.json")));
const memory = await memoryPerModel(memoryDirs);
const results: Record<string, Awaited<ReturnType<typeof benchModel>>> = {};
for (const m of models) results[m.preset] = await benchModel(m.dir, texts);

const report = {
  generatedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "?", node: process.version },
  windowMs: WINDOW_MS,
  aims: { classifyVsRawRatioAim: CLASSIFY_VS_RAW_AIM, batchingAt256Aim: BATCHING_AT_256_AIM },
  models: results,
  memory,
  durationMs: Math.round(performance.now() - started),
};

const f = (n: number, d = 1) => n.toFixed(d);
const lines = [
  "model                           raw run µs  classify µs  ratio   1-by-1/s   c1 ×    c16 ×   c256 ×  (mean batch @256)",
];
for (const r of Object.values(results)) {
  const b = r.batching;
  lines.push(
    `${r.model.padEnd(32)}${f(r.rawRunUs).padStart(10)}${f(r.classifyUs).padStart(13)}${f(r.classifyVsRawRatio, 2).padStart(7)}` +
      `${f(r.oneByOnePerSec, 0).padStart(11)}${f(b["c1"]?.speedupVsOneByOne ?? 0, 2).padStart(7)}${f(b["c16"]?.speedupVsOneByOne ?? 0, 2).padStart(8)}` +
      `${f(b["c256"]?.speedupVsOneByOne ?? 0, 2).padStart(8)}  (${f(b["c256"]?.meanBatch ?? 0)})`,
  );
}
lines.push("", "memory per loaded model (RSS growth in a fresh process after load + one classify):");
for (const [v, m] of Object.entries(memory))
  lines.push(`  ${v.padEnd(34)} ${f(m.rssMiB).padStart(7)} MiB  (model.onnx ${f(m.onnxMiB, 2)} MiB)`);
lines.push(
  `aims: classify/raw ≤ ${CLASSIFY_VS_RAW_AIM}, micro-batching at 256 callers ≥ ${BATCHING_AT_256_AIM}×; ${(report.durationMs / 1000).toFixed(1)} s`,
);
process.stdout.write(`${lines.join("\n")}\n`);
await mkdir(dirname(OUT_FILE), { recursive: true });
await writeFile(OUT_FILE, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`wrote ${OUT_FILE}\n`);
