// A real nats-server with JetStream for tests: free port, temp store dir, ready when it greets with
// an INFO line that says JetStream is on. `restart()` keeps the port and the store, so streams survive.
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { startProcess, withServerFields, type ProcessHandle, type StartProcessOptions } from "./process.ts";
import { findBinary, freePort, INSTALL_HINT, LOOPBACK_HOST, makeTempDir, probeLine } from "./util.ts";

export const NATS_BINARY = "nats-server";
export const NATS_APT_PACKAGE = "nats-server";
/** How many fresh ports to try when another process grabbed the one we picked. */
export const PORT_RETRY_ATTEMPTS = 5;
const ADDRESS_IN_USE = /address already in use/i;

export type NatsServerOptions = {
  /** Path or name of the binary; default: `nats-server` on PATH, /usr/sbin, /usr/local/bin. */
  binary?: string;
  /** Default: a free port. */
  port?: number;
  /** `true` picks a free port for the HTTP monitoring endpoint; a number uses that port. */
  monitoringPort?: number | true;
  /** A nats-server config file (`-c`); command-line flags still set port, host and store dir. */
  configFile?: string;
  /** Default true. */
  jetstream?: boolean;
  /** Extra command-line arguments. */
  args?: readonly string[];
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
} & Pick<StartProcessOptions, "onLine">;

export type NatsServerHandle = ProcessHandle & {
  /** `nats://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** The JetStream store dir (`-sd`), removed on dispose. */
  readonly storeDir: string;
  /** `http://127.0.0.1:PORT` when a monitoring port was asked for. */
  readonly monitoringUrl: string | undefined;
  /** The process underneath (for its pid, logs and signals). */
  readonly process: ProcessHandle;
};

async function isNatsReady(port: number, jetstream: boolean): Promise<boolean> {
  const line = await probeLine(port);
  if (!line.startsWith("INFO ")) return false;
  return !jetstream || /"jetstream"\s*:\s*true/.test(line);
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = await findBinary(NATS_BINARY, NATS_APT_PACKAGE, options.binary);
  const jetstream = options.jetstream ?? true;
  const store = await makeTempDir("nats");
  try {
    for (let attempt = 1; ; attempt += 1) {
      const port = options.port ?? (await freePort());
      const monitoringPort = options.monitoringPort === true ? await freePort() : options.monitoringPort;
      const args = [
        ...(options.configFile === undefined ? [] : ["-c", options.configFile]),
        ...["-a", LOOPBACK_HOST, "-p", String(port), "-n", `tiergate-test-${port}`],
        ...(jetstream ? ["-js", "-sd", store.path] : []),
        ...(monitoringPort === undefined ? [] : ["-m", String(monitoringPort)]),
        ...(options.args ?? []),
      ];
      try {
        const proc = await startProcess({
          command: binary,
          args,
          name: `nats-server :${port}`,
          readiness: async () => await isNatsReady(port, jetstream),
          installHint: INSTALL_HINT.replace("PKG", NATS_APT_PACKAGE),
          onDispose: async () => await store.remove(),
          ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
          ...(options.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: options.stopTimeoutMs }),
          ...(options.onLine === undefined ? {} : { onLine: options.onLine }),
        });
        return withServerFields(proc, {
          url: `nats://${LOOPBACK_HOST}:${port}`,
          port,
          storeDir: store.path,
          monitoringUrl:
            monitoringPort === undefined ? undefined : `http://${LOOPBACK_HOST}:${monitoringPort}`,
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
    await store.remove();
    throw err;
  }
}
