// The whole tiergate cascade on one machine: nats-server (JetStream), redis-server (append-only),
// the LLM stand-in, coordinators and edge agents, each a real process started through the test
// harness's process plumbing, in one temp directory. `Stack.start()` waits until every part is ready;
// `stop()` (or `await using`) stops them in reverse order of start and removes the temp dir. Logs
// stream to files in a separate folder that is kept on failure (or with `keepLogs`).
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDirs, type Policy } from "@tiergate/shared";
import { startNatsServer, type NatsServerHandle } from "../../test/src/harness/nats-server.ts";
import { startProcess, type ProcessHandle } from "../../test/src/harness/process.ts";
import { startRedisServer, type RedisServerHandle } from "../../test/src/harness/redis-server.ts";
import { freePort, LOOPBACK_HOST, makeTempDir, type TempDir } from "../../test/src/harness/util.ts";
import { writeStackPolicy } from "./stack-policy.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const DEFAULT_POLICY_FILE = join(REPO_ROOT, "deploy/policies/example.yaml");
export const DEFAULT_DEVICE_IDS = ["edge-a", "edge-b"] as const;
export const DEFAULT_COORDINATORS = 1;
/** Model loading and NATS/Redis connections on a busy 2-core machine can take a while. */
export const DEFAULT_SERVICE_READY_TIMEOUT_MS = 90_000;
export const DEFAULT_STOP_TIMEOUT_MS = 15_000;
export const READY_PROBE_TIMEOUT_MS = 1_000;
export const READY_PROBE_INTERVAL_MS = 200;
export const STANDIN_API_KEY = "tiergate-local-standin";
/** The cloud API key of a local stack (the coordinator reads its keys from API_KEYS_ENV). */
export const LOCAL_API_KEY = "tiergate-local-key-0123456789";
export const API_KEYS_ENV = "TIERGATE_API_KEYS";
/** The stand-in's unauthenticated admin endpoint (its /v1 routes want a bearer key). */
export const STANDIN_READY_PATH = "/_standin/stats";
/** Coordinator flag that makes "now" count as inside the policy's off-peak window. */
export const OFF_PEAK_NOW_FLAG = "--now-off-peak";
export const COORDINATOR_BIN = "cloud-coordinator/bin/tiergate-coordinator.mjs";
export const EDGE_BIN = "edge-agent/bin/tiergate-edge.mjs";

export type StackOptions = {
  /** Policy to copy (default: deploy/policies/example.yaml). */
  policyFile?: string;
  /** Where the trained models are (default: the policy's own model paths, i.e. <repo>/models). */
  modelsDir?: string;
  deviceIds?: readonly string[];
  coordinators?: number;
  /** Treat now as off-peak, so batches run at once. */
  offPeakNow?: boolean;
  /** Start only nats-server and redis-server (tests of the stack itself). */
  infraOnly?: boolean;
  /** Extra arguments for `tiergate-coordinator standin`. */
  standinArgs?: readonly string[];
  /** The key apps present to the coordinator's HTTP API (default LOCAL_API_KEY). */
  apiKey?: string;
  /** Extra environment for every service. */
  env?: Readonly<Record<string, string>>;
  /** Last changes to the policy copy. */
  patchPolicy?: (policy: Policy) => void;
  /** Keep the log folder after a clean stop too. */
  keepLogs?: boolean;
  readyTimeoutMs?: number;
  /** Progress messages ("starting nats-server…"); default: none. */
  log?: (message: string) => void;
};

export type HttpService = ProcessHandle & {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
};

export type EdgeService = HttpService & { readonly deviceId: string; readonly dataDir: string };

type Stoppable = { name: string; dispose: () => Promise<void> };

export class Stack implements AsyncDisposable {
  readonly dir: string;
  readonly logDir: string;
  policyFile = "";
  nats: NatsServerHandle | undefined;
  redis: RedisServerHandle | undefined;
  standin: HttpService | undefined;
  readonly coordinators: HttpService[] = [];
  readonly edges: EdgeService[] = [];
  readonly #temp: TempDir;
  readonly #options: StackOptions;
  readonly #started: Stoppable[] = [];
  readonly #logStreams: WriteStream[] = [];
  #stopped = false;

  private constructor(temp: TempDir, logDir: string, options: StackOptions) {
    this.#temp = temp;
    this.dir = temp.path;
    this.logDir = logDir;
    this.#options = options;
  }

  /** Starts every part and waits for each to be ready; on any failure stops what started and throws. */
  static async start(options: StackOptions = {}): Promise<Stack> {
    const temp = await makeTempDir("stack");
    const logDir = await mkdtemp(join(tmpdir(), "tiergate-stack-logs-"));
    const stack = new Stack(temp, logDir, options);
    try {
      await stack.#startAll();
      return stack;
    } catch (err) {
      await stack.stop({ failed: true }).catch(() => undefined);
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`the local stack did not start: ${reason}\nlogs kept in ${logDir}`, { cause: err });
    }
  }

  get nodeBinary(): string {
    const local = join(REPO_ROOT, "node_modules/.bin/node");
    return existsSync(local) ? local : process.execPath;
  }

  /** The key for `Authorization: Bearer <key>` on the coordinator's /v1 routes. */
  get apiKey(): string {
    return this.#options.apiKey ?? LOCAL_API_KEY;
  }

  /** Environment every service gets (the stand-in's API key for both LLM endpoints). */
  get serviceEnv(): Record<string, string> {
    return {
      [API_KEYS_ENV]: this.apiKey,
      TIERGATE_LLM_API_KEY: STANDIN_API_KEY,
      TIERGATE_LLM_FALLBACK_API_KEY: STANDIN_API_KEY,
      ...this.#options.env,
    };
  }

  async #startAll(): Promise<void> {
    const say = this.#options.log ?? (() => undefined);
    say(`stack dir ${this.dir}, logs in ${this.logDir}`);
    say("starting nats-server (JetStream)…");
    this.nats = await startNatsServer({ onLine: this.#logTo("nats-server") });
    this.#track(this.nats);
    say("starting redis-server (append-only)…");
    this.redis = await startRedisServer({ appendonly: true, onLine: this.#logTo("redis-server") });
    this.#track(this.redis);
    if (this.#options.infraOnly === true) return;

    const standinPort = await freePort();
    say("starting the LLM stand-in (offline, not a real LLM)…");
    this.standin = await this.#startHttp("llm-standin", standinPort, STANDIN_READY_PATH, [
      COORDINATOR_BIN,
      "standin",
      "--port",
      String(standinPort),
      ...(this.#options.standinArgs ?? []),
    ]);
    const written = await writeStackPolicy({
      source: this.#options.policyFile ?? DEFAULT_POLICY_FILE,
      target: join(this.dir, "policy.json"),
      llmBaseUrl: `${this.standin.url}/v1`,
      ...(this.#options.modelsDir === undefined ? {} : { modelsDir: this.#options.modelsDir }),
      ...(this.#options.patchPolicy === undefined ? {} : { patch: this.#options.patchPolicy }),
    });
    this.policyFile = written.file;

    const count = this.#options.coordinators ?? DEFAULT_COORDINATORS;
    for (let i = 1; i <= count; i += 1) {
      say(`starting coordinator ${i}/${count}…`);
      this.coordinators.push(await this.startCoordinator(`coordinator-${i}`));
    }
    for (const deviceId of this.#options.deviceIds ?? DEFAULT_DEVICE_IDS) {
      say(`starting edge agent ${deviceId}…`);
      this.edges.push(await this.startEdge(deviceId));
    }
  }

  /** Starts one more coordinator against this stack's NATS, Redis and policy. */
  async startCoordinator(name: string): Promise<HttpService> {
    const port = await freePort();
    return await this.#startHttp(name, port, "/readyz", [
      COORDINATOR_BIN,
      "start",
      ...[
        "--policy",
        this.policyFile,
        "--nats",
        this.#need(this.nats).url,
        "--redis",
        this.#need(this.redis).url,
      ],
      ...["--listen", `${LOOPBACK_HOST}:${port}`],
      ...(this.#options.offPeakNow === true ? [OFF_PEAK_NOW_FLAG] : []),
    ]);
  }

  /** Starts one more edge agent with its own data dir under the stack dir. */
  async startEdge(deviceId: string): Promise<EdgeService> {
    const port = await freePort();
    const dataDir = join(this.dir, "edge", deviceId);
    await makeDirs(dataDir);
    const service = await this.#startHttp(`edge-${deviceId}`, port, "/readyz", [
      EDGE_BIN,
      "start",
      ...["--policy", this.policyFile, "--device-id", deviceId, "--nats", this.#need(this.nats).url],
      ...["--listen", `${LOOPBACK_HOST}:${port}`, "--data-dir", dataDir],
    ]);
    return Object.assign(service, { deviceId, dataDir });
  }

  async #startHttp(name: string, port: number, readyPath: string, args: string[]): Promise<HttpService> {
    const url = `http://${LOOPBACK_HOST}:${port}`;
    const proc = await startProcess({
      command: this.nodeBinary,
      args,
      cwd: REPO_ROOT,
      env: this.serviceEnv,
      name,
      readiness: async () =>
        (await fetch(url + readyPath, { signal: AbortSignal.timeout(READY_PROBE_TIMEOUT_MS) })).ok,
      readyTimeoutMs: this.#options.readyTimeoutMs ?? DEFAULT_SERVICE_READY_TIMEOUT_MS,
      readyIntervalMs: READY_PROBE_INTERVAL_MS,
      stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS,
      onLine: this.#logTo(name),
    });
    this.#track(proc);
    return Object.assign(proc, { url, port });
  }

  #track(proc: ProcessHandle): void {
    this.#started.push({ name: proc.name, dispose: async () => await proc[Symbol.asyncDispose]() });
  }

  #need<T>(value: T | undefined): T {
    if (value === undefined) throw new Error("the stack's infrastructure is not started");
    return value;
  }

  #logTo(name: string): (line: string, stream: "stdout" | "stderr") => void {
    const file = createWriteStream(join(this.logDir, `${name}.log`), { flags: "a" });
    file.on("error", () => undefined); // a full disk must not crash the stack
    this.#logStreams.push(file);
    return (line, stream) => {
      if (!file.writableEnded) file.write(stream === "stderr" ? `! ${line}\n` : `${line}\n`);
    };
  }

  /**
   * Stops every part in reverse order of start, removes the temp dir, and removes the logs unless the
   * stack failed or `keepLogs` was set. Returns the log folder when it was kept. Idempotent.
   */
  async stop(options: { failed?: boolean } = {}): Promise<string | undefined> {
    if (this.#stopped) return undefined;
    this.#stopped = true;
    const errors: unknown[] = [];
    for (const part of this.#started.reverse()) {
      try {
        await part.dispose();
      } catch (err) {
        errors.push(new Error(`stopping ${part.name} failed`, { cause: err }));
      }
    }
    await Promise.all(this.#logStreams.map((s) => new Promise<void>((done) => s.end(done))));
    await this.#temp.remove();
    const keep = options.failed === true || this.#options.keepLogs === true || errors.length > 0;
    if (!keep) await rm(this.logDir, { recursive: true, force: true });
    if (errors.length > 0)
      throw new AggregateError(errors, `stack stopped with errors; logs kept in ${this.logDir}`);
    return keep ? this.logDir : undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
