// Daemon settings: flags over TIERGATE_* environment variables over defaults, parsed once by a zod
// schema so that every bad value is reported with the flag or variable it came from.
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  idProblem,
  LOG_LEVELS,
  ONE_SHOT_PARSE,
  type LogLevel,
} from "@tiergate/shared";
import type { ListenAddress } from "./agent.ts";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
export const DEFAULT_LISTEN = "127.0.0.1:8787";
export const DEFAULT_DATA_DIR_ROOT = "tiergate-edge-data";
export const MIN_HEARTBEAT_INTERVAL_MS = 100;
/** `--model-cache-dir` value that turns the model cache off. */
export const MODEL_CACHE_OFF = "off";
/** Under the user's cache directory ($XDG_CACHE_HOME, else ~/.cache). */
export const MODEL_CACHE_SUBDIR = "tiergate/models";

/**
 * Where the agent keeps ONNX Runtime's optimized copy of each model by default (see `loadModel`'s
 * `cacheDir`): shared by every agent of the user and kept across restarts and reboots. Made once per
 * model version, it makes later starts build their sessions several times faster and keeps the
 * weights in mapped files instead of private memory.
 */
export function defaultModelCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env["XDG_CACHE_HOME"] ?? "";
  return join(xdg !== "" ? xdg : join(env["HOME"] ?? homedir(), ".cache"), MODEL_CACHE_SUBDIR);
}

/** Flag name → environment variable. */
export const ENV_VARS = {
  policy: "TIERGATE_POLICY",
  "device-id": "TIERGATE_DEVICE_ID",
  nats: "TIERGATE_NATS_URL",
  listen: "TIERGATE_LISTEN",
  socket: "TIERGATE_SOCKET",
  "data-dir": "TIERGATE_DATA_DIR",
  "log-level": "TIERGATE_LOG_LEVEL",
  "subject-prefix": "TIERGATE_SUBJECT_PREFIX",
  "heartbeat-interval-ms": "TIERGATE_HEARTBEAT_INTERVAL_MS",
  "model-cache-dir": "TIERGATE_MODEL_CACHE_DIR",
} as const;
export type SettingName = keyof typeof ENV_VARS;

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

const DeviceIdSchema = z.string().superRefine((v, ctx) => {
  const problem = idProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `device id ${problem}` });
});

const ListenSchema = z.string().transform((v, ctx): ListenAddress => {
  const m = HOST_PORT.exec(v);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port > 65_535) {
    ctx.addIssue({ code: "custom", message: `expected HOST:PORT (e.g. ${DEFAULT_LISTEN}), got "${v}"` });
    return z.NEVER;
  }
  return { type: "tcp", host: (m[1] ?? "").replace(/^\[|\]$/g, ""), port };
});

export const EdgeConfigSchema = z.strictObject({
  policyFile: z.string().min(1, "give --policy FILE"),
  deviceId: DeviceIdSchema,
  natsUrl: z
    .string()
    .refine((v) => v.split(",").every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u.trim())), {
      message: "expected nats://HOST:PORT (several separated by commas)",
    }),
  listen: z.custom<ListenAddress>(),
  dataDir: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS),
  subjectPrefix: z.string(),
  heartbeatIntervalMs: z.coerce.number().int().min(MIN_HEARTBEAT_INTERVAL_MS),
  /** Absent when the cache is off. */
  modelCacheDir: z.string().min(1).optional(),
});
export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;

export type RawSettings = Partial<Record<SettingName, string>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Flags win over environment variables, which win over defaults. Throws ConfigError naming each bad setting. */
export function resolveConfig(
  flags: RawSettings,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): EdgeConfig {
  const pick = (name: SettingName): string | undefined => {
    const v = flags[name] ?? env[ENV_VARS[name]];
    return v === undefined || v === "" ? undefined : v;
  };
  const problems: string[] = [];
  const socket = pick("socket");
  const listenRaw = pick("listen");
  if (socket !== undefined && flags.listen !== undefined)
    problems.push("--listen and --socket: give one, not both");
  let listen: ListenAddress | undefined;
  if (socket !== undefined && flags.listen === undefined)
    listen = { type: "socket", path: resolve(cwd, socket) };
  else {
    const parsed = ListenSchema.safeParse(listenRaw ?? DEFAULT_LISTEN, ONE_SHOT_PARSE);
    if (parsed.success) listen = parsed.data;
    else problems.push(`--listen (${ENV_VARS.listen}): ${parsed.error.issues[0]?.message ?? "invalid"}`);
  }
  const deviceId = pick("device-id") ?? "";
  const modelCache = pick("model-cache-dir");
  const raw = {
    policyFile: resolve(cwd, pick("policy") ?? ""),
    deviceId,
    natsUrl: pick("nats") ?? DEFAULT_NATS_URL,
    listen,
    dataDir: resolve(cwd, pick("data-dir") ?? `${DEFAULT_DATA_DIR_ROOT}/${deviceId || "device"}`),
    logLevel: (pick("log-level") ?? "info") as LogLevel,
    subjectPrefix: pick("subject-prefix") ?? "",
    heartbeatIntervalMs: pick("heartbeat-interval-ms") ?? String(DEFAULT_HEARTBEAT_INTERVAL_MS),
    modelCacheDir:
      modelCache === MODEL_CACHE_OFF
        ? undefined
        : modelCache === undefined
          ? defaultModelCacheDir(env)
          : resolve(cwd, modelCache),
  };
  if (pick("policy") === undefined) problems.push(`--policy FILE is required (or ${ENV_VARS.policy})`);
  if (deviceId === "") problems.push(`--device-id ID is required (or ${ENV_VARS["device-id"]})`);
  const parsed = EdgeConfigSchema.safeParse(raw, ONE_SHOT_PARSE);
  if (!parsed.success) {
    const flagOf: Record<string, SettingName> = {
      policyFile: "policy",
      deviceId: "device-id",
      natsUrl: "nats",
      dataDir: "data-dir",
      logLevel: "log-level",
      subjectPrefix: "subject-prefix",
      heartbeatIntervalMs: "heartbeat-interval-ms",
      modelCacheDir: "model-cache-dir",
    };
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? "");
      const flag = flagOf[key];
      if (flag === "policy" || (flag === "device-id" && deviceId === "")) continue; // already reported
      problems.push(flag === undefined ? issue.message : `--${flag} (${ENV_VARS[flag]}): ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems.join("\n"));
  return parsed.data;
}
