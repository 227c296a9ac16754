// `tiergate-coordinator start`: runs the coordinator until SIGTERM or SIGINT.
import { parseArgs } from "node:util";
import { LOG_LEVELS } from "@tiergate/shared";
import type { CliIo, Command } from "../cli.ts";
import {
  DEFAULT_API_KEYS_REF,
  DEFAULT_LISTEN,
  StartSettingsSchema,
  settingsInput,
} from "../config/settings.ts";
import { DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_SECOND } from "../api/rate-limit.ts";

const USAGE = `Usage: tiergate-coordinator start --policy FILE --nats URL --redis URL [options]

Runs the cloud coordinator: answers escalations on tg.v1.escalate.<task> in the coordinators'
queue group (start more processes to share the load), runs edge and API batches on BullMQ in the
policy's off-peak windows, and serves the HTTP API for apps (/v1/infer, /v1/batches,
/v1/chat/completions, /healthz, /readyz, /metrics). Stops gracefully on SIGTERM / SIGINT;
SIGHUP reloads the policy (a bad file is refused and the last good policy kept).

Options:
  --policy FILE               policy file (YAML or JSON), required
  --nats URL                  NATS server, e.g. nats://127.0.0.1:4222, required
  --redis URL                 Redis server, e.g. redis://127.0.0.1:6379, required
  --listen HOST:PORT          HTTP API address (default ${DEFAULT_LISTEN})
  --no-http                   serve no HTTP API (escalations and batches only)
  --api-keys env:NAME         environment variable holding the API keys, comma-separated
                              (default ${DEFAULT_API_KEYS_REF}); each at least 16 characters
  --rate-limit-per-second N   sustained requests per second per API key (default ${DEFAULT_RATE_LIMIT_PER_SECOND})
  --rate-limit-burst N        requests a key may send at once (default ${DEFAULT_RATE_LIMIT_BURST})
  --now-off-peak              run every batch at once, ignoring the off-peak windows (demo)
  --subject-prefix P          put every NATS subject and stream under P (test isolation)
  --instance-id ID            name of this coordinator in logs and Redis (default: random)
  --log-level LEVEL           ${LOG_LEVELS.join(", ")} (default info)
  -h, --help                  show this help

Telemetry: set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER) to export traces.
Exit status: 0 after a clean stop, 1 if it cannot start, 2 usage error.
`;

const OPTIONS = {
  policy: { type: "string" },
  nats: { type: "string" },
  redis: { type: "string" },
  listen: { type: "string" },
  "no-http": { type: "boolean" },
  "api-keys": { type: "string" },
  "rate-limit-per-second": { type: "string" },
  "rate-limit-burst": { type: "string" },
  "now-off-peak": { type: "boolean" },
  "subject-prefix": { type: "string" },
  "instance-id": { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const startCommand: Command = {
  name: "start",
  summary: "run the coordinator (escalations, batches, HTTP API) until SIGTERM",
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    let values;
    try {
      values = parseArgs({ args: argv, allowPositionals: false, options: OPTIONS }).values;
    } catch (err) {
      io.stderr(`start: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return 2;
    }
    if (values.help === true) {
      io.stdout(USAGE);
      return 0;
    }
    const parsed = StartSettingsSchema.safeParse(settingsInput(values));
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => {
        const flag = String(i.path[0] ?? "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
        return `  --${flag}: ${i.message}`;
      });
      io.stderr(
        `start: invalid options:\n${lines.join("\n")}\n\nRun \`tiergate-coordinator start --help\`.\n`,
      );
      return 2;
    }
    // Loaded only now, so `--help` and usage errors do not pay for NATS, Redis and ONNX imports.
    const { runCoordinator } = await import("../main.ts");
    return await runCoordinator(parsed.data, io);
  },
};
