// `npm run bench:models`: what the model runtime costs and what micro-batching buys, on the CLINC150
// models (Larson et al. 2019, CC BY 3.0) from ensureModels.
//  1. classify(texts) against raw session.run on the same, already featurized input (ratio, aim ≤ 1.5)
//  2. micro-batcher throughput with 1, 16 and 256 concurrent callers against one-by-one classify
//     calls (ratio, aim ≥ 10 at 256)
//  3. resident memory per loaded model
//  4. where a text's time goes in a batch of 256 (CPU µs a text: encode with featurizing, session.run,
//     decode), to read ratio 2 by part; not part of the aims
// Prints a table and writes JSON to $TIERGATE_BENCH_JSON or reports/bench-models.json. Bounded in
// time: each measurement runs for a fixed window. The machine is shared, so the measurements are
// interleaved: ROUNDS rounds of (raw, classify, one-by-one, batched at 1/16/256 callers), and each
// figure is the median over rounds of the value or of the round's ratio (a burst of load then hits
// both sides of a ratio, not one). Each window records wall time and the process's CPU time
// (process.cpuUsage: every thread, ORT's and the GC's included). The aims are judged on CPU time:
// with one intra-op thread the work is single-threaded, so on an idle machine the two agree, and on
// a loaded one CPU time still measures the work while wall time mostly measures the scheduler.
// Wall-time figures are printed beside them.
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

export const WINDOW_MS = 300;
export const ROUNDS = 7;
export const WARMUP_CALLS = 200;
export const CONCURRENCY = [1, 16, 256] as const;
export const CLASSIFY_VS_RAW_AIM = 1.5;
export const BATCHING_AT_256_AIM = 10;
const OUT_FILE = process.env["TIERGATE_BENCH_JSON"] ?? join(REPO_ROOT, "reports", "bench-models.json");

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

async function timed(
  fn: () => Promise<unknown>,
): Promise<{ calls: number; perCallUs: number; cpuPerCallUs: number }> {
  let calls = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  while (performance.now() - started < WINDOW_MS) {
    await fn();
    calls++;
  }
  const wallUs = (performance.now() - started) * 1000;
  return { calls, perCallUs: wallUs / calls, cpuPerCallUs: cpuUs(cpu) / calls };
}

interface Batched {
  textsPerSec: number;
  textsPerCpuSec: number;
  meanBatch: number;
}

/** Texts per second (wall and CPU) with `callers` closed-loop callers through the batcher. */
async function batchedThroughput(runtime: ModelRuntime, texts: string[], callers: number): Promise<Batched> {
  const batcher = new MicroBatcher(runtime);
  let next = 0;
  let done = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const loop = async () => {
    while (performance.now() - started < WINDOW_MS) {
      await batcher.classify(texts[next++ % texts.length] ?? "x");
      done++;
    }
  };
  await Promise.all(Array.from({ length: callers }, loop));
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuUs(cpu) / 1e6;
  const meanBatch = done / Math.max(1, batcher.batches);
  await batcher.close();
  return { textsPerSec: done / seconds, textsPerCpuSec: done / cpuSeconds, meanBatch };
}

export const PARTS_BATCH = 256;
export const PARTS_ROUNDS = 3;

/** CPU µs a text for encode, session.run and decode on batches of PARTS_BATCH (median of PARTS_ROUNDS windows). */
async function partsPerText(runtime: ModelRuntime, texts: string[]) {
  const batches = Array.from({ length: 16 }, (_, b) =>
    Array.from({ length: PARTS_BATCH }, (_, i) => texts[(b * PARTS_BATCH + i) % texts.length] ?? "x"),
  );
  const feeds = batches.map((b) => runtime.encode(b).feeds);
  const probs = (await runtime.session.run(feeds[0] ?? {}, ["probs"]))["probs"]?.data;
  let i = 0;
  const parts = {
    encode: () => Promise.resolve(runtime.encode(batches[i++ % batches.length] ?? [])),
    run: () => runtime.session.run(feeds[i++ % feeds.length] ?? {}, ["probs"]),
    decode: () => Promise.resolve(runtime.decode(probs, PARTS_BATCH)),
  };
  const samples: Record<keyof typeof parts, number[]> = { encode: [], run: [], decode: [] };
  for (let r = 0; r < PARTS_ROUNDS; r++)
    for (const [name, fn] of Object.entries(parts) as [keyof typeof parts, () => Promise<unknown>][])
      samples[name].push((await timed(fn)).cpuPerCallUs / PARTS_BATCH);
  return { encodeUs: median(samples.encode), runUs: median(samples.run), decodeUs: median(samples.decode) };
}

async function benchModel(dir: string, texts: string[]) {
  const runtime = await loadModel(dir);
  // "raw": onnxruntime-node's own session.run (classify calls the native session directly).
  const stock = await loadModel(dir, { nativeRun: false });
  try {
    let i = 0;
    const pick = () => texts[i++ % texts.length] ?? "x";
    const encoded = texts.slice(0, 64).map((t) => runtime.encode([t]).feeds);
    let j = 0;
    const raw = () => stock.session.run(encoded[j++ % encoded.length] ?? {}, ["probs"]);
    let k = 0;
    const wrapped = () => runtime.classify([texts[k++ % 64] ?? "x"]);
    const oneByOne = () => runtime.classify([pick()]);
    for (let w = 0; w < WARMUP_CALLS; w++) await Promise.all([raw(), wrapped(), oneByOne()]);
    const rounds: {
      raw: Awaited<ReturnType<typeof timed>>;
      classify: Awaited<ReturnType<typeof timed>>;
      oneByOne: Awaited<ReturnType<typeof timed>>;
      batched: Record<string, Batched>;
    }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const rawT = await timed(raw);
      const classifyT = await timed(wrapped);
      const oneByOneT = await timed(oneByOne);
      const batched: Record<string, Batched> = {};
      for (const callers of CONCURRENCY)
        batched[`c${callers}`] = await batchedThroughput(runtime, texts, callers);
      rounds.push({ raw: rawT, classify: classifyT, oneByOne: oneByOneT, batched });
    }
    const perTextAt256 = await partsPerText(stock, texts);
    const batching: Record<
      string,
      {
        callers: number;
        textsPerSec: number;
        textsPerCpuSec: number;
        meanBatch: number;
        speedupVsOneByOne: number;
        wallSpeedupVsOneByOne: number;
      }
    > = {};
    for (const callers of CONCURRENCY) {
      const key = `c${callers}`;
      const of = (f: (b: Batched, oneByOne: Awaited<ReturnType<typeof timed>>) => number) =>
        median(rounds.map((r) => (r.batched[key] ? f(r.batched[key], r.oneByOne) : 0)));
      batching[key] = {
        callers,
        textsPerSec: of((b) => b.textsPerSec),
        textsPerCpuSec: of((b) => b.textsPerCpuSec),
        meanBatch: of((b) => b.meanBatch),
        speedupVsOneByOne: of((b, one) => (b.textsPerCpuSec * one.cpuPerCallUs) / 1e6),
        wallSpeedupVsOneByOne: of((b, one) => (b.textsPerSec * one.perCallUs) / 1e6),
      };
    }
    return {
      model: runtime.version,
      rounds: rounds.length,
      rawRunUs: median(rounds.map((r) => r.raw.perCallUs)),
      classifyUs: median(rounds.map((r) => r.classify.perCallUs)),
      rawRunCpuUs: median(rounds.map((r) => r.raw.cpuPerCallUs)),
      classifyCpuUs: median(rounds.map((r) => r.classify.cpuPerCallUs)),
      classifyVsRawRatio: median(rounds.map((r) => r.classify.cpuPerCallUs / r.raw.cpuPerCallUs)),
      wallClassifyVsRawRatio: median(rounds.map((r) => r.classify.perCallUs / r.raw.perCallUs)),
      oneByOnePerSec: median(rounds.map((r) => 1e6 / r.oneByOne.perCallUs)),
      oneByOnePerCpuSec: median(rounds.map((r) => 1e6 / r.oneByOne.cpuPerCallUs)),
      batching,
      perTextAt256,
    };
  } finally {
    await runtime.close();
    await stock.close();
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
  rounds: ROUNDS,
  aims: { classifyVsRawRatioAim: CLASSIFY_VS_RAW_AIM, batchingAt256Aim: BATCHING_AT_256_AIM },
  models: results,
  memory,
  durationMs: Math.round(performance.now() - started),
};

const f = (n: number, d = 1) => n.toFixed(d);
const lines = [
  `medians over ${ROUNDS} interleaved rounds of ${WINDOW_MS} ms windows; ratios on CPU time (wall time in brackets)`,
  "model                           raw run µs cpu  classify µs cpu  ratio         c1 ×          c16 ×          c256 ×  (mean batch @256)",
];
for (const r of Object.values(results)) {
  const b = r.batching;
  const pair = (cpu: number, wall: number, d: number, w: number) =>
    `${f(cpu, d)} (${f(wall, d)})`.padStart(w);
  const speedup = (k: string, w: number) =>
    pair(b[k]?.speedupVsOneByOne ?? 0, b[k]?.wallSpeedupVsOneByOne ?? 0, 2, w);
  lines.push(
    `${r.model.padEnd(32)}${f(r.rawRunCpuUs).padStart(14)}${f(r.classifyCpuUs).padStart(17)}` +
      `${pair(r.classifyVsRawRatio, r.wallClassifyVsRawRatio, 2, 14)}${speedup("c1", 14)}${speedup("c16", 15)}` +
      `${speedup("c256", 16)}  (${f(b["c256"]?.meanBatch ?? 0)})`,
  );
}
lines.push(
  "",
  `CPU µs a text in batches of ${PARTS_BATCH}: encode (featurizing included) + session.run + decode:`,
);
for (const r of Object.values(results)) {
  const p = r.perTextAt256;
  lines.push(
    `  ${r.model.padEnd(34)} ${f(p.encodeUs, 2)} + ${f(p.runUs, 2)} + ${f(p.decodeUs, 2)} = ${f(p.encodeUs + p.runUs + p.decodeUs, 2)}` +
      `  (one-by-one classify ${f(1e6 / r.oneByOnePerCpuSec)})`,
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
