// The coordinator process: the only place that creates real resources (telemetry SDK, policy
// watcher, NATS connection, Redis clients, ONNX sessions via loadModel, LLM tiers with their OpenAI
// clients). Starts them in order and, on SIGTERM/SIGINT, stops in reverse: HTTP and the coordinator's
// parts (HTTP, edge intake, BullMQ worker, escalation subscription), then NATS drain, Redis, telemetry.
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { PolicyWatcher, createConsoleLogger, loadModel, type Logger } from "@tiergate/shared";
import { resolveApiKeys, type StartSettings } from "./config/settings.ts";
import { endpointsFromPolicy } from "./llm/from-policy.ts";
import { LlmTier } from "./llm/tier.ts";
import { CoordinatorMetrics } from "./metrics/metrics.ts";
import { Coordinator } from "./service/coordinator.ts";
import { startTelemetry } from "./telemetry/sdk.ts";

export const SERVICE_NAME = "tiergate-coordinator";
/** Longest a graceful stop may take before the process exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 20_000;

export type MainIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
};

/** Runs until SIGTERM or SIGINT; resolves with the exit code. */
export async function runCoordinator(settings: StartSettings, io: MainIo): Promise<number> {
  const logger = createConsoleLogger({
    level: settings.logLevel,
    write: io.stderr,
    fields: { service: SERVICE_NAME },
  });
  const stack: { name: string; close: () => Promise<void> | void }[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stack.reverse()) {
      try {
        await s.close();
      } catch (err) {
        logger.error(`stopping ${s.name} failed`, { err });
      }
    }
  };
  try {
    const apiKeys = settings.noHttp ? [] : resolveApiKeys(settings.apiKeys, io.env);
    const telemetry = startTelemetry(SERVICE_NAME, io.env);
    stack.push({ name: "telemetry", close: () => telemetry.shutdown() });

    const watcher = await PolicyWatcher.open({
      file: settings.policy,
      onChange: (p) => logger.info("policy reloaded", { version: p.versionTag }),
      onError: (err) =>
        logger.error("policy reload refused; keeping the last good policy", { err: err.message }),
    });
    stack.push({ name: "policy watcher", close: () => watcher.close() });
    const onHup = (): void => void watcher.reload();
    process.on("SIGHUP", onHup);
    stack.push({ name: "SIGHUP handler", close: () => void process.off("SIGHUP", onHup) });

    const redis = new Redis(settings.redis, { lazyConnect: true, maxRetriesPerRequest: 3 });
    const bullRedis = new Redis(settings.redis, { lazyConnect: true, maxRetriesPerRequest: null });
    for (const client of [redis, bullRedis]) {
      // ioredis reconnects by itself; errors are logged, not thrown (an unhandled 'error' event would be).
      client.on("error", (err: Error) => logger.warn("redis connection error", { err: err.message }));
    }
    await redis.connect();
    await bullRedis.connect();
    stack.push({
      name: "redis",
      close: async () => void (await Promise.allSettled([redis.quit(), bullRedis.quit()])),
    });

    const nc = await connect({ servers: settings.nats, name: SERVICE_NAME, maxReconnectAttempts: -1 });
    stack.push({ name: "nats", close: () => nc.drain() });

    const metrics = new CoordinatorMetrics({ defaultMetrics: true });
    const coordinator = await Coordinator.start(
      {
        nc,
        redis,
        bullRedis,
        loadModel: (dir) => loadModel(dir),
        llm: (names) =>
          new LlmTier({
            endpoints: endpointsFromPolicy(watcher.current.policy, names, io.env),
            logger,
            metrics: metrics.llmHooks(),
          }),
        logger,
        metrics,
      },
      {
        policy: () => watcher.current,
        listen: settings.noHttp ? undefined : (settings.listen ?? { host: "127.0.0.1", port: 8790 }),
        apiKeys,
        rateLimit: { perSecond: settings.rateLimitPerSecond, burst: settings.rateLimitBurst },
        forceOffPeak: settings.nowOffPeak,
        ...(settings.subjectPrefix === undefined ? {} : { subjectPrefix: settings.subjectPrefix }),
        ...(settings.instanceId === undefined ? {} : { instanceId: settings.instanceId }),
      },
    );
    stack.push({ name: "coordinator", close: () => coordinator.close() });
    io.stdout(
      `${SERVICE_NAME} ready${coordinator.url === undefined ? "" : ` on ${coordinator.url}`} (instance ${coordinator.instanceId})\n`,
    );

    const signal = await waitForStop();
    logger.info("stopping", { signal });
    const timer = setTimeout(() => {
      logger.error("graceful stop took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    await stopAll();
    clearTimeout(timer);
    return 0;
  } catch (err) {
    reportStartFailure(logger, io, err);
    await stopAll();
    return 1;
  }
}

function waitForStop(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(sig);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}

function reportStartFailure(logger: Logger, io: MainIo, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  logger.error("coordinator could not start", { err });
  io.stderr(`${SERVICE_NAME}: ${message}\n`);
}
