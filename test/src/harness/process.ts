// General process plumbing: spawn, a bounded log, readiness, stop with SIGTERM → SIGKILL escalation,
// restart with the same command line. nats-server, redis-server, the edge agent and the coordinator
// in e2e tests are all started through `startProcess`.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { registerChild } from "./registry.ts";

export const DEFAULT_READY_TIMEOUT_MS = 15_000;
export const DEFAULT_READY_INTERVAL_MS = 25;
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
export const DEFAULT_LOG_MAX_LINES = 1_000;
/** How long an early-exit error waits for the rest of the process's output. */
export const EXIT_LOG_GRACE_MS = 500;

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

/** Ready when a log line matches the regex, or when the function resolves true (it is polled; a throw means "not yet"). */
export type Readiness = RegExp | ((handle: ProcessHandle) => boolean | Promise<boolean>);

export type StartProcessOptions = {
  command: string;
  args?: readonly string[];
  /** Added over the parent's environment. */
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Names the process in errors; defaults to the command. */
  name?: string;
  readiness?: Readiness;
  readyTimeoutMs?: number;
  readyIntervalMs?: number;
  stopTimeoutMs?: number;
  logMaxLines?: number;
  /** Appended to the error when the command cannot be found. */
  installHint?: string;
  /** Sees every output line as it arrives (e.g. to echo logs while debugging). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Runs after the process stopped on dispose (e.g. to remove its temp dirs). */
  onDispose?: () => Promise<void>;
};

export type ProcessHandle = AsyncDisposable & {
  readonly name: string;
  /** Pid of the current run (changes on restart). */
  readonly pid: number;
  readonly running: boolean;
  /** The last lines of stdout and stderr, across restarts. */
  logs(): string;
  /** Sends a signal without waiting (fault tests: SIGKILL, SIGSTOP, SIGCONT). */
  kill(signal?: NodeJS.Signals): void;
  waitForExit(): Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. No-op when it already is. */
  stop(options?: { timeoutMs?: number }): Promise<ExitStatus>;
  /** Stops (if running) and starts the same command line again, waiting for readiness. */
  restart(): Promise<void>;
};

class LogRing {
  readonly #maxLines: number;
  readonly #lines: string[] = [];
  #dropped = 0;

  constructor(maxLines: number) {
    this.#maxLines = maxLines;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#maxLines) {
      this.#lines.shift();
      this.#dropped += 1;
    }
  }

  text(): string {
    const head = this.#dropped > 0 ? `[${this.#dropped} earlier lines dropped]\n` : "";
    return head + this.#lines.join("\n");
  }
}

type Run = { child: ChildProcess; exited: Promise<ExitStatus>; closed: Promise<void>; status?: ExitStatus };

class ManagedProcess implements ProcessHandle {
  readonly name: string;
  readonly #options: StartProcessOptions;
  readonly #log: LogRing;
  #run: Run | undefined;
  #sawReadyLine = false;

  constructor(options: StartProcessOptions) {
    this.#options = options;
    this.name = options.name ?? options.command;
    this.#log = new LogRing(options.logMaxLines ?? DEFAULT_LOG_MAX_LINES);
  }

  get pid(): number {
    return this.#run?.child.pid ?? -1;
  }

  get running(): boolean {
    return this.#run !== undefined && this.#run.status === undefined;
  }

  logs(): string {
    return this.#log.text();
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.running) this.#run?.child.kill(signal);
  }

  async waitForExit(): Promise<ExitStatus> {
    if (this.#run === undefined) return { code: null, signal: null };
    return await this.#run.exited;
  }

  async stop(options: { timeoutMs?: number } = {}): Promise<ExitStatus> {
    const run = this.#run;
    if (run === undefined) return { code: null, signal: null };
    if (run.status !== undefined) return run.status;
    const timeoutMs = options.timeoutMs ?? this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    run.child.kill("SIGTERM");
    const timer = sleep(timeoutMs, "timeout" as const);
    if ((await Promise.race([run.exited, timer])) === "timeout") run.child.kill("SIGKILL");
    return await run.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.stop();
    } finally {
      await this.#options.onDispose?.();
    }
  }

  async start(): Promise<void> {
    const run = await this.#spawn();
    const readiness = this.#options.readiness;
    if (readiness === undefined) return;
    const timeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const intervalMs = this.#options.readyIntervalMs ?? DEFAULT_READY_INTERVAL_MS;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (run.status !== undefined) {
        await Promise.race([run.closed, sleep(EXIT_LOG_GRACE_MS)]);
        const how = run.status.signal ?? `code ${String(run.status.code)}`;
        throw new HarnessError(
          HarnessErrorCode.EarlyExit,
          `${this.name} exited (${how}) before it was ready. Its log:\n${this.logs()}`,
          { log: this.logs() },
        );
      }
      try {
        if (readiness instanceof RegExp ? this.#sawReadyLine : await readiness(this)) return;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() >= deadline) {
        run.child.kill("SIGKILL");
        await run.exited;
        throw new HarnessError(
          HarnessErrorCode.ReadyTimeout,
          `${this.name} was not ready after ${timeoutMs} ms; killed it. Its log:\n${this.logs()}`,
          { cause: lastError, log: this.logs() },
        );
      }
      await sleep(intervalMs);
    }
  }

  async #spawn(): Promise<Run> {
    const { command, args = [], cwd, env } = this.#options;
    this.#sawReadyLine = false;
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      throw new HarnessError(
        missing ? HarnessErrorCode.BinaryMissing : HarnessErrorCode.EarlyExit,
        `could not start ${this.name} (${command}): ${(err as Error).message}` +
          (missing && this.#options.installHint !== undefined ? `; ${this.#options.installHint}` : ""),
        { cause: err },
      );
    }
    child.on("error", () => {
      // Signals sent to an exited child report here; the exit status already says what happened.
    });
    registerChild(child);
    const run: Run = {
      child,
      exited: new Promise<ExitStatus>((resolve) => {
        child.once("exit", (code, signal) => {
          run.status = { code, signal };
          resolve(run.status);
        });
      }),
      closed: new Promise<void>((resolve) => child.once("close", () => resolve())),
    };
    const readyLine = this.#options.readiness instanceof RegExp ? this.#options.readiness : undefined;
    for (const [stream, source] of [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ] as const) {
      createInterface({ input: source, crlfDelay: Infinity }).on("line", (line) => {
        this.#log.push(line);
        if (readyLine?.test(line) === true) this.#sawReadyLine = true;
        this.#options.onLine?.(line, stream);
      });
    }
    this.#run = run;
    return run;
  }
}

/** Starts a process, waits for its readiness, and returns a handle that `await using` stops. */
export async function startProcess(options: StartProcessOptions): Promise<ProcessHandle> {
  const handle = new ManagedProcess(options);
  await handle.start();
  return handle;
}

/** Adds server fields to a process handle while keeping its live getters (pid changes on restart). */
export function withServerFields<T extends object>(
  proc: ProcessHandle,
  fields: T,
): ProcessHandle & T & { readonly process: ProcessHandle } {
  return {
    ...fields,
    process: proc,
    name: proc.name,
    get pid() {
      return proc.pid;
    },
    get running() {
      return proc.running;
    },
    logs: () => proc.logs(),
    kill: (signal?: NodeJS.Signals) => proc.kill(signal),
    waitForExit: async () => await proc.waitForExit(),
    stop: async (stopOptions?: { timeoutMs?: number }) => await proc.stop(stopOptions),
    restart: async () => await proc.restart(),
    [Symbol.asyncDispose]: async () => await proc[Symbol.asyncDispose](),
  };
}
