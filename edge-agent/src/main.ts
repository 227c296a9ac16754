// The only place that creates real resources: the NATS connection, ONNX Runtime sessions (through
// loadModel), the OpenTelemetry SDK, the logger, and the process signal handlers.
import { trace } from "@opentelemetry/api";
import { createConsoleLogger, createSubjects, loadModel, type Logger } from "@tiergate/shared";
import { AGENT_VERSION, EdgeAgent } from "./agent.ts";
import type { EdgeConfig } from "./config.ts";

export const TRACER_NAME = "@tiergate/edge-agent";
/** Between reconnect attempts to NATS. */
export const NATS_RECONNECT_WAIT_MS = 1_000;
/** The OTel SDK starts only when one of these says where to send telemetry. */
export const OTEL_ENV_SWITCHES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_TRACES_EXPORTER",
];

type Sdk = { shutdown(): Promise<void> };

async function startTelemetry(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<Sdk | undefined> {
  if (!OTEL_ENV_SWITCHES.some((k) => (env[k] ?? "") !== "")) return undefined;
  try {
    // Loaded only when asked for: the SDK is large, and start-to-ready time matters on a device.
    const { NodeSDK } = await import("@opentelemetry/sdk-node");
    const sdk = new NodeSDK({ serviceName: "tiergate-edge" });
    sdk.start();
    return sdk;
  } catch (err) {
    logger.warn("OpenTelemetry SDK not started", { err: String(err) });
    return undefined;
  }
}

/** Runs the daemon until SIGTERM/SIGINT; resolves with the exit code. */
export async function runDaemon(
  config: EdgeConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const logger = createConsoleLogger({
    level: config.logLevel,
    fields: { service: "tiergate-edge", deviceId: config.deviceId },
  });
  const sdk = await startTelemetry(env, logger);
  let agent: EdgeAgent;
  try {
    agent = await EdgeAgent.start({
      deviceId: config.deviceId,
      policyFile: config.policyFile,
      dataDir: config.dataDir,
      listen: config.listen,
      subjects: createSubjects(config.subjectPrefix === "" ? {} : { prefix: config.subjectPrefix }),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      // Imported on the first attempt, which the link makes after the agent is ready.
      connect: async () => {
        const { connect } = await import("@nats-io/transport-node");
        return connect({
          servers: config.natsUrl.split(",").map((s) => s.trim()),
          name: `tiergate-edge-${config.deviceId}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
        });
      },
      loadModel: (dir) =>
        loadModel(dir, config.modelCacheDir === undefined ? {} : { cacheDir: config.modelCacheDir }),
      logger,
      tracer: trace.getTracer(TRACER_NAME, AGENT_VERSION),
    });
  } catch (err) {
    logger.error("edge agent failed to start", { err: err instanceof Error ? err.message : String(err) });
    await sdk?.shutdown().catch(() => undefined);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info("shutting down", { signal });
      void agent
        .close()
        .then(() => 0)
        .catch((err: unknown) => {
          logger.error("shutdown failed", { err: String(err) });
          return 1;
        })
        .then(async (code) => {
          await sdk?.shutdown().catch(() => undefined);
          process.off("SIGHUP", hup);
          resolve(code);
        });
    };
    const hup = (): void => {
      logger.info("SIGHUP: reloading the policy");
      void agent.reloadPolicy();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    process.on("SIGHUP", hup);
  });
}
