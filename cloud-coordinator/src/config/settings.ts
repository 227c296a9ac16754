// Settings of `tiergate-coordinator start`, validated once with zod (errors name the flag), from
// command-line flags and the environment (API keys only ever come from an environment variable).
import { z } from "zod";
import { LOG_LEVELS, DEFAULT_LOG_LEVEL, resolveSecret } from "@tiergate/shared";
import { parseKeyList, MIN_API_KEY_CHARS } from "../api/auth.ts";
import { DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_SECOND } from "../api/rate-limit.ts";

export const DEFAULT_LISTEN = "127.0.0.1:8790";
export const DEFAULT_API_KEYS_REF = "env:TIERGATE_API_KEYS";

const ListenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'must be HOST:PORT, e.g. "0.0.0.0:8790"')
  .transform((s, ctx) => {
    const at = s.lastIndexOf(":");
    const port = Number(s.slice(at + 1));
    if (port > 65_535) ctx.addIssue({ code: "custom", message: "port must be 0–65535" });
    return { host: s.slice(0, at).replace(/^\[|\]$/g, ""), port };
  });

export const StartSettingsSchema = z.strictObject({
  policy: z.string({ error: "required" }).min(1),
  nats: z
    .string({ error: "required" })
    .regex(/^(nats|tls|ws|wss):\/\/\S+$/, "must be a NATS URL, e.g. nats://127.0.0.1:4222"),
  redis: z
    .string({ error: "required" })
    .regex(/^rediss?:\/\/\S+$/, "must be a Redis URL, e.g. redis://127.0.0.1:6379"),
  listen: ListenSchema.optional(),
  noHttp: z.boolean().default(false),
  apiKeys: z
    .string()
    .regex(/^env:[A-Za-z_][A-Za-z0-9_]*$/, "must be env:NAME (keys are never given on the command line)")
    .default(DEFAULT_API_KEYS_REF),
  logLevel: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL),
  nowOffPeak: z.boolean().default(false),
  subjectPrefix: z.string().min(1).optional(),
  instanceId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  rateLimitPerSecond: z.coerce.number().positive().default(DEFAULT_RATE_LIMIT_PER_SECOND),
  rateLimitBurst: z.coerce.number().int().min(1).default(DEFAULT_RATE_LIMIT_BURST),
});
export type StartSettings = z.infer<typeof StartSettingsSchema>;

/** The flags' values (kebab-case names as parseArgs gives them) in the schema's shape. */
export function settingsInput(values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined || flag === "help") continue;
    out[flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] = value;
  }
  return out;
}

/** Resolves the API keys from the environment; listening without any key is refused. */
export function resolveApiKeys(ref: string, env: Readonly<Record<string, string | undefined>>): string[] {
  const keys = parseKeyList(resolveSecret(ref, env));
  const short = keys.filter((k) => k.length < MIN_API_KEY_CHARS);
  if (keys.length === 0)
    throw new Error(`${ref} holds no API key; set it to one or more comma-separated keys`);
  if (short.length > 0)
    throw new Error(`API keys must be at least ${MIN_API_KEY_CHARS} characters (${short.length} shorter)`);
  return keys;
}
