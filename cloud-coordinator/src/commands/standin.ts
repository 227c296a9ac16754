// `tiergate-coordinator standin`: runs the tiergate LLM stand-in (offline, not a real LLM) until
// SIGTERM or SIGINT.
import { parseArgs } from "node:util";
import { createConsoleLogger, loadModel } from "@tiergate/shared";
import { DEFAULT_HOLD_MS, DEFAULT_RETRY_AFTER_S, FaultConfigSchema } from "../standin/faults.ts";
import type { FaultConfigInput } from "../standin/faults.ts";
import { STANDIN_NAME } from "../standin/protocol.ts";
import { DEFAULT_STANDIN_HOST, DEFAULT_STANDIN_PORT, startStandin } from "../standin/server.ts";
import {
  DEFAULT_CLINC150_PATH,
  DEFAULT_TEACHER_ERROR_RATE,
  DEFAULT_TEACHER_SEED,
  GoldTeacher,
  ModelTeacher,
  loadClincGold,
} from "../standin/teacher.ts";
import type { Teacher } from "../standin/teacher.ts";

const USAGE = `Usage: tiergate-coordinator standin [options]

Starts the ${STANDIN_NAME}: an OpenAI-compatible server
(POST /v1/chat/completions, GET /v1/models) for tests, the demo and offline use. It answers
classification prompts (json_schema response format with a "label" enum) from a local teacher:
CLINC150 gold labels with a configurable error rate, or a local model directory. Every other chat
gets a canned reply saying it is a stand-in. Faults can be scripted at run time with
POST /_standin/faults; GET /_standin/stats counts what was served. Stops on SIGTERM / SIGINT.

Options:
  --port N                 port (default ${DEFAULT_STANDIN_PORT}; 0 picks a free one)
  --host HOST              address to bind (default ${DEFAULT_STANDIN_HOST}; the admin endpoints
                           are unauthenticated, so keep it on loopback)
  --latency-ms N           fixed delay before every chat answer (default 0)
  --jitter-ms N            extra uniform random delay, 0..N ms (default 0)
  --data PATH              CLINC150 data_full.json for gold labels
                           (default ${DEFAULT_CLINC150_PATH})
  --error-rate X           share of deliberately wrong gold answers, 0..1 (default ${DEFAULT_TEACHER_ERROR_RATE})
  --seed N                 seed of the error choice and of the fault dice (default ${DEFAULT_TEACHER_SEED})
  --model DIR              answer from a local ONNX model directory instead of gold labels
  --require-key KEY        accept only "Authorization: Bearer KEY" (default: any bearer token)
  --faults LIST            fault script served first, comma-separated: ok, 429, 429:<s>, 429:<n>ms,
                           500, 503, timeout, malformed, malformed-body, reset
  --fail-rate429 X         share of requests answered 429 (default 0)
  --fail-rate500 X         share answered 500 (default 0)
  --fail-rate-timeout X    share held until the client gives up (default 0)
  --fail-rate-malformed X  share answered with malformed JSON (default 0)
  --retry-after-s N        Retry-After of random 429s (default ${DEFAULT_RETRY_AFTER_S})
  --hold-ms N              longest hold of a "timeout" fault (default ${DEFAULT_HOLD_MS})
  -h, --help               show this help

Exit status: 0 after a clean stop, 1 if it cannot start, 2 usage error.
`;

/** What the command uses of the CLI's io (structurally the CliIo of cli.ts). */
export type StandinCommandIo = { stdout: (text: string) => void; stderr: (text: string) => void };

const OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  "latency-ms": { type: "string" },
  "jitter-ms": { type: "string" },
  data: { type: "string" },
  "error-rate": { type: "string" },
  seed: { type: "string" },
  model: { type: "string" },
  "require-key": { type: "string" },
  faults: { type: "string" },
  "fail-rate429": { type: "string" },
  "fail-rate500": { type: "string" },
  "fail-rate-timeout": { type: "string" },
  "fail-rate-malformed": { type: "string" },
  "retry-after-s": { type: "string" },
  "hold-ms": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

function num(
  values: Record<string, unknown>,
  key: string,
  min: number,
  max = Number.POSITIVE_INFINITY,
): number | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${key} must be a number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A cli.ts Command (kept structural so this file does not import the dispatcher). */
export const standinCommand = {
  name: "standin",
  summary: "run the offline LLM stand-in (OpenAI-compatible, not a real LLM) for tests and the demo",
  usage: USAGE,
  async run(argv: string[], io: StandinCommandIo): Promise<number> {
    let values;
    let port: number | undefined;
    let faults: FaultConfigInput;
    let latencyMs: number | undefined;
    let jitterMs: number | undefined;
    let errorRate: number | undefined;
    let seed: number | undefined;
    try {
      values = parseArgs({ args: argv, allowPositionals: false, options: OPTIONS }).values;
      if (values.help === true) {
        io.stdout(USAGE);
        return 0;
      }
      port = num(values, "port", 0, 65_535);
      latencyMs = num(values, "latency-ms", 0);
      jitterMs = num(values, "jitter-ms", 0);
      errorRate = num(values, "error-rate", 0, 1);
      seed = num(values, "seed", 0);
      const f: Record<string, unknown> = {};
      if (values.faults !== undefined) f.sequence = values.faults.split(",").filter((t) => t.trim() !== "");
      const rates = [
        ["fail-rate429", "rate429"],
        ["fail-rate500", "rate500"],
        ["fail-rate-timeout", "rateTimeout"],
        ["fail-rate-malformed", "rateMalformed"],
      ] as const;
      for (const [flag, key] of rates) f[key] = num(values, flag, 0, 1);
      f.retryAfterS = num(values, "retry-after-s", 0);
      f.holdMs = num(values, "hold-ms", 1);
      if (seed !== undefined) f.seed = Math.floor(seed);
      for (const k of Object.keys(f)) if (f[k] === undefined) delete f[k];
      const parsed = FaultConfigSchema.safeParse(f);
      if (!parsed.success)
        throw new UsageError(`invalid faults: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
      faults = parsed.data;
    } catch (err) {
      io.stderr(`standin: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return 2;
    }

    const logger = createConsoleLogger({ write: io.stderr, fields: { component: "llm-standin" } });
    let teacher: Teacher;
    let closeTeacher: () => Promise<void> = () => Promise.resolve();
    try {
      if (values.model !== undefined) {
        const runtime = await loadModel(values.model);
        teacher = new ModelTeacher(runtime, `model:${runtime.dir}@${runtime.version}`);
        closeTeacher = () => runtime.close();
      } else {
        const gold = await loadClincGold(values.data ?? DEFAULT_CLINC150_PATH);
        const options = {
          gold,
          ...(errorRate === undefined ? {} : { errorRate }),
          ...(seed === undefined ? {} : { seed }),
        };
        teacher = new GoldTeacher(options);
      }
    } catch (err) {
      io.stderr(`standin: cannot load the teacher: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }

    let standin;
    try {
      standin = await startStandin({
        teacher,
        host: values.host ?? DEFAULT_STANDIN_HOST,
        port: port ?? DEFAULT_STANDIN_PORT,
        faults,
        logger,
        ...(latencyMs === undefined ? {} : { latencyMs }),
        ...(jitterMs === undefined ? {} : { jitterMs }),
        ...(values["require-key"] === undefined ? {} : { requireApiKey: values["require-key"] }),
        ...(seed === undefined ? {} : { seed: Math.floor(seed) }),
      });
    } catch (err) {
      await closeTeacher();
      io.stderr(`standin: cannot listen: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    io.stdout(`${STANDIN_NAME} listening on ${standin.url} (teacher: ${teacher.name})\n`);

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const stop = (sig: NodeJS.Signals): void => {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
        resolve(sig);
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
    await standin.close();
    await closeTeacher();
    io.stdout(`${STANDIN_NAME} stopped (${signal})\n`);
    return 0;
  },
};
