// A real redis-server for tests: free port, no RDB snapshots, `noeviction` (BullMQ needs it), a temp
// dir. Ready when PING answers PONG (not LOADING). With `appendonly: true` data survives `restart()`.
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { startProcess, withServerFields, type ProcessHandle, type StartProcessOptions } from "./process.ts";
import { findBinary, freePort, INSTALL_HINT, LOOPBACK_HOST, makeTempDir, probeLine } from "./util.ts";
import { PORT_RETRY_ATTEMPTS } from "./nats-server.ts";

export const REDIS_BINARY = "redis-server";
export const REDIS_APT_PACKAGE = "redis-server";
const ADDRESS_IN_USE = /address already in use/i;

export type RedisServerOptions = {
  /** Path or name of the binary; default: `redis-server` on PATH, /usr/sbin, /usr/local/bin. */
  binary?: string;
  /** Default: a free port. */
  port?: number;
  /** Keep an append-only file in the temp dir so that data survives `restart()`. Default false. */
  appendonly?: boolean;
  /** Extra command-line arguments (`--name value` pairs). */
  args?: readonly string[];
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
} & Pick<StartProcessOptions, "onLine">;

export type RedisServerHandle = ProcessHandle & {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Redis's working dir (`--dir`), removed on dispose. */
  readonly dir: string;
  readonly process: ProcessHandle;
};

async function isRedisReady(port: number): Promise<boolean> {
  return (await probeLine(port, { send: "PING\r\n" })) === "+PONG";
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = await findBinary(REDIS_BINARY, REDIS_APT_PACKAGE, options.binary);
  const dir = await makeTempDir("redis");
  try {
    for (let attempt = 1; ; attempt += 1) {
      const port = options.port ?? (await freePort());
      const args = [
        ...["--port", String(port), "--bind", LOOPBACK_HOST, "--daemonize", "no"],
        ...["--save", "", "--appendonly", options.appendonly === true ? "yes" : "no"],
        ...["--maxmemory-policy", "noeviction", "--dir", dir.path],
        ...(options.args ?? []),
      ];
      try {
        const proc = await startProcess({
          command: binary,
          args,
          name: `redis-server :${port}`,
          readiness: async () => await isRedisReady(port),
          installHint: INSTALL_HINT.replace("PKG", REDIS_APT_PACKAGE),
          onDispose: async () => await dir.remove(),
          ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
          ...(options.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: options.stopTimeoutMs }),
          ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
        });
        return withServerFields(proc, {
          url: `redis://${LOOPBACK_HOST}:${port}`,
          port,
          host: LOOPBACK_HOST,
          dir: dir.path,
        });
      } catch (err) {
        const raced =
          err instanceof HarnessError &&
          err.code === HarnessErrorCode.EarlyExit &&
          ADDRESS_IN_USE.test(err.log ?? "") &&
          options.port === undefined;
        if (!raced || attempt >= PORT_RETRY_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    await dir.remove();
    throw err;
  }
}
