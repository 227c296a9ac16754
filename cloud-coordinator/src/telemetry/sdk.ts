// The OpenTelemetry SDK, started by main.ts only when an exporter is configured through the
// standard OTEL_* environment variables; feature code uses @opentelemetry/api alone.
import { NodeSDK } from "@opentelemetry/sdk-node";

export type Telemetry = { enabled: boolean; shutdown(): Promise<void> };

const EXPORTER_VARS = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_TRACES_EXPORTER",
] as const;

export function startTelemetry(
  serviceName: string,
  env: Readonly<Record<string, string | undefined>>,
): Telemetry {
  const configured = EXPORTER_VARS.some((k) => (env[k] ?? "") !== "" && env[k] !== "none");
  if (!configured) return { enabled: false, shutdown: () => Promise.resolve() };
  const sdk = new NodeSDK({ serviceName });
  sdk.start();
  return {
    enabled: true,
    shutdown: async () => {
      try {
        await sdk.shutdown();
      } catch {
        // telemetry never fails a shutdown
      }
    },
  };
}
