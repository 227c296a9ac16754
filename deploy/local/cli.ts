// `local stack`: starts the whole cascade on this machine and waits for Ctrl-C.
// Usage: node_modules/.bin/node deploy/local/cli.ts stack [options]   (or `npm run stack`)
import { parseArgs } from "node:util";
import { ensureStackModels } from "./models.ts";
import { onStopSignal } from "./signals.ts";
import { DEFAULT_COORDINATORS, DEFAULT_DEVICE_IDS, DEFAULT_POLICY_FILE, Stack } from "./stack.ts";

const HELP = `usage: local stack [options]

Starts, in a temp directory, nats-server (JetStream), redis-server (append-only), the LLM stand-in
(offline, not a real LLM), ${DEFAULT_COORDINATORS} coordinator(s) and edge agents ${DEFAULT_DEVICE_IDS.join(", ")}, waits until
each answers /readyz, prints their URLs and runs until Ctrl-C (SIGINT) or SIGTERM, then stops them in
reverse order and removes the temp dir. Models are trained into <repo>/models when missing.

options:
  --policy FILE        policy to run (default: ${DEFAULT_POLICY_FILE})
  --models DIR         trained models folder (default: the policy's model paths)
  --devices A,B        edge agent device ids (default: ${DEFAULT_DEVICE_IDS.join(",")})
  --coordinators N     number of coordinators (default: ${DEFAULT_COORDINATORS})
  --now-off-peak       treat now as inside the off-peak window (batches run at once)
  --keep-logs          keep the log folder after a clean stop
  -h, --help           this text`;

type Args = {
  policy?: string;
  models?: string;
  devices?: string;
  coordinators?: string;
  "now-off-peak"?: boolean;
  "keep-logs"?: boolean;
  help?: boolean;
};

function parse(argv: string[]): { command: string | undefined; values: Args } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      policy: { type: "string" },
      models: { type: "string" },
      devices: { type: "string" },
      coordinators: { type: "string" },
      "now-off-peak": { type: "boolean" },
      "keep-logs": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  return { command: positionals[0], values };
}

async function runStack(values: Args): Promise<void> {
  const coordinators = Number(values.coordinators ?? DEFAULT_COORDINATORS);
  if (!Number.isInteger(coordinators) || coordinators < 1)
    throw new Error("--coordinators must be a positive integer");
  const deviceIds = values.devices?.split(",").filter((d) => d.length > 0) ?? [...DEFAULT_DEVICE_IDS];
  const policyFile = values.policy ?? DEFAULT_POLICY_FILE;
  await ensureStackModels({
    policyFile,
    ...(values.models === undefined ? {} : { modelsDir: values.models }),
  });
  const say = (message: string): void => void process.stderr.write(`[stack] ${message}\n`);
  const stack = await Stack.start({
    policyFile,
    deviceIds,
    coordinators,
    offPeakNow: values["now-off-peak"] === true,
    keepLogs: values["keep-logs"] === true,
    log: say,
    ...(values.models === undefined ? {} : { modelsDir: values.models }),
  });
  onStopSignal(async (signal) => {
    say(`${signal}: stopping in reverse order…`);
    const kept = await stack.stop();
    say(kept === undefined ? "stopped; temp dir and logs removed" : `stopped; logs kept in ${kept}`);
  });
  const lines = [
    `nats         ${stack.nats?.url ?? "-"}`,
    `redis        ${stack.redis?.url ?? "-"}`,
    `llm stand-in ${stack.standin?.url ?? "-"}/v1  (offline stand-in, not a real LLM)`,
    ...stack.coordinators.map(
      (c) => `${c.name.padEnd(12)} ${c.url}  (Authorization: Bearer ${stack.apiKey})`,
    ),
    ...stack.edges.map((e) => `${e.name.padEnd(12)} ${e.url}`),
    `policy       ${stack.policyFile}`,
    `logs         ${stack.logDir}`,
  ];
  process.stdout.write(`tiergate local stack is ready:\n  ${lines.join("\n  ")}\npress Ctrl-C to stop\n`);
  await new Promise<never>(() => {
    // wait for a signal; the handler exits the process
    setInterval(() => undefined, 1 << 30);
  });
}

async function main(): Promise<void> {
  const { command, values } = parse(process.argv.slice(2));
  if (values.help === true || command === undefined) {
    process.stdout.write(`${HELP}\n`);
    process.exitCode = command === undefined && values.help !== true ? 1 : 0;
    return;
  }
  if (command !== "stack") throw new Error(`unknown command "${command}"; try --help`);
  await runStack(values);
}

main().catch((err: unknown) => {
  process.stderr.write(`local: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
