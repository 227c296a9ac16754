// `npm run bench`: runs the models, edge and coordinator benchmarks one after the other as child
// processes, each bounded in time (the whole well under 5 minutes), collects their JSON and writes
// reports/bench.json and reports/bench.md with every ratio they report. A benchmark that is not
// there, fails, or runs out of time is reported as such, never left out.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../../deploy/local/stack.ts";
import {
  collectFigures,
  collectRatios,
  renderBenchMarkdown,
  type BenchEntry,
  type BenchReport,
} from "./bench-report.ts";

export const BENCHES = [
  { name: "models", script: "bench:models", timeoutMs: 90_000 },
  { name: "edge", script: "bench:edge", timeoutMs: 100_000 },
  { name: "coordinator", script: "bench:coordinator", timeoutMs: 90_000 },
] as const;
/** Where a benchmark may write its JSON; also passed as TIERGATE_BENCH_JSON. */
export const BENCH_JSON_ENV = "TIERGATE_BENCH_JSON";
export const KILL_GRACE_MS = 5_000;
export const OUTPUT_TAIL_CHARS = 4_000;
export const DEFAULT_OUT_DIR = join(REPO_ROOT, "reports");

const HELP = `usage: npm run bench [-- --out DIR] [--only NAME,...]

Runs ${BENCHES.map((b) => `npm run ${b.script} (≤ ${b.timeoutMs / 1000} s)`).join(", ")} one after the
other, then writes bench.json and bench.md (default folder: reports/) with every ratio each benchmark
reported against its baseline measured in the same run. Each benchmark gets ${BENCH_JSON_ENV}=<file>
to write its JSON to; when it does not, the JSON files it wrote under reports/ are taken, and
failing those a JSON object printed as its last output line.`;

type RunResult = { exitCode: number | null; timedOut: boolean; durationMs: number; output: string };

/** Runs `npm run <script>` in its own process group, killed as a group when it overruns. */
async function runScript(script: string, timeoutMs: number, env: Record<string, string>): Promise<RunResult> {
  const started = performance.now();
  const child = spawn("npm", ["run", "--silent", script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer): void => {
    process.stderr.write(chunk);
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS * 4);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS).unref();
  }, timeoutMs);
  const onExit = (): void => killGroup("SIGKILL");
  process.once("exit", onExit);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once("error", () => resolve(null));
    child.once("close", (code) => resolve(code));
  });
  clearTimeout(timer);
  killGroup("SIGKILL"); // anything the benchmark left behind in its group
  process.removeListener("exit", onExit);
  return { exitCode, timedOut, durationMs: Math.round(performance.now() - started), output };
}

async function jsonFilesSince(dir: string, sinceMs: number, exclude: ReadonlySet<string>): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".json")) continue;
    const file = join(entry.parentPath, entry.name);
    if (exclude.has(file) || file.includes(`${join("reports", "demo")}`)) continue;
    if ((await stat(file)).mtimeMs >= sinceMs) found.push(file);
  }
  return found.sort();
}

function lastJsonLine(output: string): unknown {
  const lines = output.trim().split("\n").reverse();
  for (const line of lines) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      return JSON.parse(t) as unknown;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

function scripts(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  return pkg.scripts ?? {};
}

async function runBench(
  bench: (typeof BENCHES)[number],
  out: string,
  exclude: Set<string>,
): Promise<BenchEntry> {
  const base = { name: bench.name, command: `npm run ${bench.script}`, timeoutMs: bench.timeoutMs };
  if (scripts()[bench.script] === undefined) {
    return { ...base, status: "missing", reason: `no "${bench.script}" script in package.json`, ratios: {} };
  }
  process.stderr.write(`\n[bench] ${base.command} (at most ${bench.timeoutMs / 1000} s)\n`);
  const jsonFile = join(out, "raw", `${bench.name}.json`);
  await mkdir(join(out, "raw"), { recursive: true });
  exclude.add(jsonFile);
  const since = Date.now() - 1;
  const run = await runScript(bench.script, bench.timeoutMs, { [BENCH_JSON_ENV]: jsonFile });
  const data: Record<string, unknown> = {};
  const sources: string[] = [];
  if (existsSync(jsonFile) && (await stat(jsonFile)).mtimeMs >= since) {
    data["result"] = JSON.parse(await readFile(jsonFile, "utf8")) as unknown;
    sources.push(relative(REPO_ROOT, jsonFile));
  }
  // Without the file asked for, take the JSON files it wrote under reports/ instead.
  const written = sources.length > 0 ? [] : await jsonFilesSince(join(REPO_ROOT, "reports"), since, exclude);
  for (const file of written) {
    try {
      data[relative(REPO_ROOT, file)] = JSON.parse(await readFile(file, "utf8")) as unknown;
      sources.push(relative(REPO_ROOT, file));
      exclude.add(file);
    } catch {
      // a half-written or non-JSON file is not a result
    }
  }
  const printed = lastJsonLine(run.output);
  if (sources.length === 0 && printed !== undefined) {
    data["stdout"] = printed;
    sources.push("stdout");
  }
  const status = run.timedOut ? "timeout" : run.exitCode === 0 ? "ok" : "failed";
  return {
    ...base,
    status,
    ...(status === "ok"
      ? {}
      : {
          reason: run.timedOut ? `killed after ${bench.timeoutMs} ms` : `exit code ${String(run.exitCode)}`,
        }),
    durationMs: run.durationMs,
    sources,
    ratios: collectRatios(data),
    figures: collectFigures(data),
    data,
    ...(status === "ok" ? {} : { outputTail: run.output.slice(-OUTPUT_TAIL_CHARS) }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    strict: true,
    options: { out: { type: "string" }, only: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const only = values.only?.split(",");
  const out = values.out ?? DEFAULT_OUT_DIR;
  await mkdir(out, { recursive: true });
  const started = performance.now();
  const exclude = new Set([join(out, "bench.json")]);
  const entries: BenchEntry[] = [];
  for (const bench of BENCHES) {
    if (only !== undefined && !only.includes(bench.name)) continue;
    entries.push(await runBench(bench, out, exclude));
  }
  const cpu = cpus();
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? "unknown",
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    totalMs: Math.round(performance.now() - started),
    benches: entries,
  };
  await writeFile(join(out, "bench.json"), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, "bench.md"), renderBenchMarkdown(report));
  const summary = entries
    .map((e) => `${e.name}: ${e.status} (${Object.keys(e.ratios).length} ratios)`)
    .join(", ");
  process.stdout.write(
    `\n[bench] ${summary}; ${(report.totalMs / 1000).toFixed(0)} s; wrote ${join(out, "bench.json")} and bench.md\n`,
  );
  if (entries.some((e) => e.status !== "ok")) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
