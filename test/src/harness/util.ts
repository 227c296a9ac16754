// Small helpers shared by every server the harness starts: free ports, temp dirs, polling, binaries.
import { constants as fsConstants, readFileSync } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { registerTempDir, unregisterTempDir } from "./registry.ts";

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
export const DEFAULT_WAIT_INTERVAL_MS = 50;
export const LOOPBACK_HOST = "127.0.0.1";
/** Folders searched for server binaries besides PATH (sbin is often missing from a user's PATH). */
export const EXTRA_BINARY_DIRS = ["/usr/sbin", "/usr/local/bin", "/usr/bin", "/usr/local/sbin"] as const;
export const INSTALL_HINT =
  "install it with `apt-get update && apt-get install -y PKG` (as root) or run `npm run bootstrap`";

/** A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close). Callers retry on a race. */
export async function freePort(host: string = LOOPBACK_HOST): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error(`could not read the bound port: ${String(address)}`));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

export type TempDir = AsyncDisposable & {
  readonly path: string;
  /** Removes the folder and everything in it; idempotent. */
  remove(): Promise<void>;
};

/** A fresh folder under the OS temp dir, removed on `remove()`, on dispose, or when this process exits. */
export async function makeTempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `tiergate-${prefix}-`));
  registerTempDir(path);
  const remove = async (): Promise<void> => {
    await rm(path, { recursive: true, force: true });
    unregisterTempDir(path);
  };
  return { path, remove, [Symbol.asyncDispose]: remove };
}

export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

export type WaitForOptions = {
  timeoutMs?: number;
  intervalMs?: number;
  /** Says what was awaited; it goes into the timeout error. */
  message?: string;
};

/**
 * Polls `predicate` until it returns a truthy value, which is returned. A throw counts as "not yet"
 * and becomes the timeout error's `cause`.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as Truthy<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new HarnessError(
        HarnessErrorCode.WaitTimeout,
        `timed out after ${timeoutMs} ms waiting for ${options.message ?? "a condition"}`,
        { cause: lastError },
      );
    }
    await sleep(intervalMs);
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds an executable: `explicit` (a path, or a bare name searched like the others) or `name` on PATH
 * plus EXTRA_BINARY_DIRS. Throws HARNESS_BINARY_MISSING naming the apt package to install.
 */
export async function findBinary(name: string, aptPackage: string, explicit?: string): Promise<string> {
  const wanted = explicit ?? name;
  const candidates =
    isAbsolute(wanted) || wanted.includes("/")
      ? [wanted]
      : [...(process.env["PATH"] ?? "").split(delimiter).filter(Boolean), ...EXTRA_BINARY_DIRS].map((dir) =>
          join(dir, wanted),
        );
  for (const candidate of candidates) {
    if (await isExecutable(candidate)) return candidate;
  }
  throw new HarnessError(
    HarnessErrorCode.BinaryMissing,
    `${wanted} was not found (looked in ${candidates.join(", ")}); ${INSTALL_HINT.replace("PKG", aptPackage)}`,
  );
}

export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;

/**
 * Connects over TCP, optionally writes `send`, and resolves the first line the server answers
 * (without the line ending). Rejects on connection errors or after `timeoutMs`.
 */
export async function probeLine(
  port: number,
  options: { host?: string; send?: string; timeoutMs?: number } = {},
): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const socket = connect({ port, host: options.host ?? LOOPBACK_HOST });
    let buffered = "";
    const finish = (err: Error | undefined, line?: string): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve(line ?? "");
    };
    socket.setTimeout(options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, () =>
      finish(new Error(`no answer from ${LOOPBACK_HOST}:${port}`)),
    );
    socket.once("error", (err) => finish(err));
    socket.once("connect", () => {
      if (options.send !== undefined) socket.write(options.send);
    });
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const end = buffered.indexOf("\n");
      if (end >= 0) finish(undefined, buffered.slice(0, end).replace(/\r$/, ""));
    });
  });
}

/** Whether a pid names a live process (a zombie, killed but not yet reaped, counts as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no procfs: trust kill(pid, 0)
  }
}
