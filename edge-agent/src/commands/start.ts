import module from "node:module";
import { parseArgs } from "node:util";
import type { CliIo, Command } from "../cli.ts";
import {
  ConfigError,
  DEFAULT_DATA_DIR_ROOT,
  DEFAULT_LISTEN,
  DEFAULT_NATS_URL,
  ENV_VARS,
  MODEL_CACHE_OFF,
  MODEL_CACHE_SUBDIR,
  resolveConfig,
  type RawSettings,
} from "../config.ts";
import { setDaemonV8Flags } from "../v8-flags.ts";
import { capYoungGeneration } from "../young-generation.ts";

const USAGE = `Usage: tiergate-edge start --policy FILE --device-id ID [--nats URL]
                          [--listen HOST:PORT | --socket PATH] [--data-dir DIR]
                          [--log-level LEVEL] [--subject-prefix PREFIX]
                          [--heartbeat-interval-ms MS] [--model-cache-dir DIR]

Runs the edge agent: the local HTTP API (POST /v1/infer, GET /v1/results/:id, /healthz,
/readyz, /metrics), the on-device cascade, the durable outbox and the link to the cloud over NATS.
It answers from the edge while NATS is unreachable and keeps reconnecting.

Options (flag > environment variable > default):
  --policy FILE                policy YAML/JSON (${ENV_VARS.policy}); reloaded on change and on SIGHUP
  --device-id ID               this device's id (${ENV_VARS["device-id"]})
  --nats URL                   NATS server(s), comma-separated (${ENV_VARS.nats}; default ${DEFAULT_NATS_URL})
  --listen HOST:PORT           HTTP address (${ENV_VARS.listen}; default ${DEFAULT_LISTEN}; port 0 picks one)
  --socket PATH                listen on a Unix socket instead (${ENV_VARS.socket})
  --data-dir DIR               outbox and results store (${ENV_VARS["data-dir"]}; default ./${DEFAULT_DATA_DIR_ROOT}/<device-id>)
  --log-level LEVEL            debug, info, warn, error or silent (${ENV_VARS["log-level"]}; default info)
  --subject-prefix PREFIX      prefix for every NATS subject and stream (${ENV_VARS["subject-prefix"]}; tests)
  --heartbeat-interval-ms MS   heartbeat period (${ENV_VARS["heartbeat-interval-ms"]}; default 10000)
  --model-cache-dir DIR        ONNX Runtime's optimized copy of each model, made on its first load:
                               later starts build sessions faster and map the weights from it
                               instead of copying them into memory (${ENV_VARS["model-cache-dir"]};
                               default $XDG_CACHE_HOME/${MODEL_CACHE_SUBDIR}, else ~/.cache/${MODEL_CACHE_SUBDIR};
                               "${MODEL_CACHE_OFF}" turns it off)
  -h, --help                   show this help

Memory: the daemon caps V8's new space at 16 MB, turns V8's Maglev compiler off (its freed
compile memory stayed resident) and lets the old generation grow 50% past what a full GC kept
(V8: up to 300%), unless node's own flags size the young generation or name the V8 flag
(e.g. \`node --maglev bin/tiergate-edge.mjs start ...\`).

Signals: SIGTERM/SIGINT stop accepting, finish requests in flight, flush the outbox (what cannot be
sent stays on disk) and drain NATS; SIGHUP reloads the policy (a bad one keeps the old one).
Exit status: 0 after a clean shutdown, 1 when it could not start, 2 for a usage error.
`;

const SETTINGS = Object.keys(ENV_VARS) as (keyof typeof ENV_VARS)[];

export const startCommand: Command = {
  name: "start",
  summary: "run the edge agent daemon (local HTTP API, cascade, outbox, NATS link)",
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    let values: Record<string, string | boolean | undefined>;
    try {
      const options = Object.fromEntries(SETTINGS.map((s) => [s, { type: "string" as const }]));
      values = parseArgs({
        args: argv,
        options: { ...options, help: { type: "boolean", short: "h" } },
      }).values;
    } catch (err) {
      io.stderr(`start: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return 2;
    }
    if (values.help === true) {
      io.stdout(USAGE);
      return 0;
    }
    const flags: RawSettings = {};
    for (const s of SETTINGS) {
      const v = values[s];
      if (typeof v === "string") flags[s] = v;
    }
    let config;
    try {
      config = resolveConfig(flags, io.env, io.cwd);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr(
        `start: invalid settings:\n${err.message.replace(/^/gm, "  ")}\n\nRun \`tiergate-edge start --help\` for the options.\n`,
      );
      return 2;
    }
    // Cache compiled (and type-stripped) modules on disk: start-to-ready time matters on a device.
    module.enableCompileCache?.();
    // Before the daemon's modules load: they and the models are what first grows the new space.
    capYoungGeneration();
    // No Maglev (its compile zones stayed resident), a tighter old generation (see v8-flags.ts).
    setDaemonV8Flags();
    // Loaded here, not at the top: `--help` and usage errors stay fast and need no native modules.
    const { runDaemon } = await import("../main.ts");
    return runDaemon(config, io.env);
  },
};
