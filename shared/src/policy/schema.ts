// The operators' policy file: one zod schema, the only source of its types and of the JSON Schema
// published in shared/policy.schema.json. Rules that span fields (tier order, references between
// sections) live in `checkPolicy` below so that every problem is reported with its field path.
import { z } from "zod";
import { crossCheck, TEMPLATE_PLACEHOLDERS } from "./cross-check.ts";

export { TEMPLATE_PLACEHOLDERS };

// ── defaults and bounds (named, so code and docs can refer to them) ──
export const SUPPORTED_POLICY_MAJORS = [1] as const;
export const DEFAULT_MAX_INPUT_BYTES = 4096;
export const MAX_MAX_INPUT_BYTES = 1_048_576;
export const DEFAULT_DEADLINE_MS = 1500;
export const MAX_DEADLINE_MS = 600_000;
export const DEFAULT_ON_CLOUD_UNAVAILABLE = "degrade";
export const DEFAULT_REDACT_KINDS = ["email", "phone", "card", "iban", "ip"] as const;
export const DEFAULT_REGEX_FLAGS = "gu";
export const DEFAULT_CACHE_ENABLED = true;
export const DEFAULT_CACHE_TTL_MS = 600_000;
export const DEFAULT_CACHE_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_BATCH_MAX_ITEMS = 256;
export const MAX_BATCH_MAX_ITEMS = 10_000;
export const DEFAULT_BATCH_MAX_AGE_MS = 2000;
export const DEFAULT_BATCH_CONCURRENCY = 2;
export const DEFAULT_BATCH_RATE_PER_SECOND = 50;
export const DEFAULT_BATCH_ATTEMPTS = 5;
export const DEFAULT_BATCH_BACKOFF_MS = 1000;
export const DEFAULT_OFF_PEAK_TIME_ZONE = "UTC";
export const DEFAULT_LLM_TIMEOUT_MS = 10_000;
export const DEFAULT_LLM_MAX_RETRIES = 2;
export const DEFAULT_LLM_MAX_CONCURRENCY = 8;
export const DEFAULT_BREAKER_FAILURE_THRESHOLD = 5;
export const DEFAULT_BREAKER_RESET_MS = 30_000;
export const MIN_TARGET_PRECISION = 0.5;
export const MAX_TARGET_PRECISION = 0.999;

// ── building blocks ──
const ID_PATTERN = /^[a-z0-9_-]{1,64}$/;
const ID_MESSAGE = "must be 1–64 characters of a-z, 0-9, _ or -";
export const IdSchema = z.string().regex(ID_PATTERN, ID_MESSAGE);
export const LabelSchema = z.string().min(1).max(128);

const VERSION_PATTERN = /^(\d+)\.(\d+)$/;
export const VersionSchema = z
  .string()
  .regex(VERSION_PATTERN, 'must be "MAJOR.MINOR", e.g. "1.0"')
  .refine((v) => (SUPPORTED_POLICY_MAJORS as readonly number[]).includes(policyMajor(v) ?? -1), {
    message: `unsupported major version; supported: ${SUPPORTED_POLICY_MAJORS.join(", ")}`,
  });

/** The major number of a "MAJOR.MINOR" version string, or undefined when it has another shape. */
export function policyMajor(version: string): number | undefined {
  const m = VERSION_PATTERN.exec(version);
  return m ? Number(m[1]) : undefined;
}

const SECRET_REF_PATTERN = /^env:[A-Za-z_][A-Za-z0-9_]*$/;
/** A secret is only ever a reference to an environment variable, `env:NAME`; never the value. */
export const SecretRefSchema = z
  .string()
  .regex(
    SECRET_REF_PATTERN,
    "secrets are not written inline: put the value in an environment variable and write env:NAME (e.g. env:OPENAI_API_KEY)",
  );

const HHMM_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$/;
const HhmmSchema = z.string().regex(HHMM_PATTERN, 'must be a 24-hour time "HH:MM", e.g. "22:00"');

/** Whether `Intl.DateTimeFormat` takes the zone: the definition of a known time zone here. */
export function dateTimeFormatAcceptsTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Names every ECMAScript engine takes for UTC; ICU's list of canonical zones leaves them out. */
const UTC_NAMES: ReadonlySet<string> = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT"]);
let canonicalZones: ReadonlySet<string> | undefined;

/**
 * Same answer as `dateTimeFormatAcceptsTimeZone`, but a canonical IANA name (or UTC) is looked up in
 * ICU's list first: building the first `Intl.DateTimeFormat` of a process loads locale data (~20-30 ms,
 * on the edge agent's way to ready), listing the zones ~2 ms. Aliases, other spellings and unknown
 * names still go to `Intl.DateTimeFormat`.
 */
export function isKnownTimeZone(timeZone: string): boolean {
  canonicalZones ??= new Set(Intl.supportedValuesOf("timeZone"));
  return canonicalZones.has(timeZone) || UTC_NAMES.has(timeZone) || dateTimeFormatAcceptsTimeZone(timeZone);
}
export const TimeZoneSchema = z
  .string()
  .min(1)
  .refine(isKnownTimeZone, { message: "unknown IANA time zone (e.g. Europe/Berlin, UTC)" });

const HttpUrlSchema = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).refine(
  (u) => {
    const url = new URL(u);
    return url.username === "" && url.password === "";
  },
  { message: "must not carry credentials; use apiKey: env:NAME" },
);

// ── acceptance rule ──
export const ACCEPT_RULES = ["max-prob", "margin", "entropy"] as const;
/**
 * When a model tier's answer is accepted. `rule` picks the confidence score (all in [0,1], higher is
 * surer: max probability, top-1 minus top-2 probability, or 1 − entropy / ln(labels)). Give either a
 * fixed `threshold` on that score or a `targetPrecision`, which the runtime turns into a threshold with
 * the model manifest's calibration table.
 */
export const AcceptSchema = z
  .strictObject({
    rule: z
      .enum(ACCEPT_RULES)
      .describe("confidence score: max probability, top-1 minus top-2, or 1 − normalised entropy"),
    threshold: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("fixed bound on the score; not with targetPrecision"),
    targetPrecision: z
      .number()
      .min(MIN_TARGET_PRECISION)
      .max(MAX_TARGET_PRECISION)
      .optional()
      .describe(
        "precision to reach, turned into a threshold by the model's calibration table; not with threshold",
      ),
  })
  .check((ctx) => {
    const { threshold, targetPrecision } = ctx.value;
    if ((threshold === undefined) === (targetPrecision === undefined)) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        message: "give exactly one of threshold or targetPrecision",
      });
    }
  });

// ── tiers ──
export const WHERE = ["edge", "cloud"] as const;
export const TierLlmSchema = z.strictObject({
  /** Endpoint names from `llm.endpoints`, tried in this order (fallback). */
  endpoints: z.array(IdSchema).min(1),
});
/** A tier is either a model directory (`model`, with `accept`) or an LLM (`llm`, cloud only). */
export const TierSchema = z.strictObject({
  name: IdSchema,
  where: z
    .enum(WHERE)
    .describe("edge tiers run on the device, cloud tiers in the coordinator; edge tiers first"),
  /** Model directory; relative paths are resolved against the policy file's directory by the loader. */
  model: z
    .string()
    .min(1)
    .optional()
    .describe(
      "model directory (model.onnx + row-map.bin + token-rows.txt + manifest.json), relative to the policy file; not with llm",
    ),
  accept: AcceptSchema.optional().describe("acceptance rule; required for model tiers, absent for llm tiers"),
  llm: TierLlmSchema.optional().describe(
    "an LLM tier (cloud only): endpoint names from llm.endpoints, tried in order",
  ),
});

// ── actions ──
export const TemplateActionSchema = z.strictObject({
  type: z.literal("template"),
  template: z.string().min(1).max(4096),
});
export const RefuseActionSchema = z.strictObject({
  type: z.literal("refuse"),
  reason: z.string().min(1).max(1024),
});
export const ActionSchema = z.discriminatedUnion("type", [TemplateActionSchema, RefuseActionSchema]);

// ── tasks ──
export const TaskSchema = z.strictObject({
  description: z.string().max(1024).optional(),
  maxInputBytes: z.int().min(1).max(MAX_MAX_INPUT_BYTES).default(DEFAULT_MAX_INPUT_BYTES),
  defaultDeadlineMs: z.int().min(1).max(MAX_DEADLINE_MS).default(DEFAULT_DEADLINE_MS),
  /** Ordered cascade; edge tiers come before cloud tiers. */
  tiers: z.array(TierSchema).min(1).describe("ordered cascade; edge tiers before cloud tiers"),
  /** Labels that are never an answer from a model tier: the request escalates instead. */
  rejectLabels: z
    .array(LabelSchema)
    .default([])
    .describe("labels never answered by a model tier (e.g. oos): the request escalates"),
  /** Rule-based answers per predicted label. */
  actions: z.record(LabelSchema, ActionSchema).default({}),
  /** Used for accepted labels without their own action; without it the label itself is the answer. */
  defaultAction: ActionSchema.optional(),
  /** When the cloud cannot be reached in time: answer from the best edge tier (degraded) or refuse. */
  onCloudUnavailable: z
    .enum(["degrade", "refuse"])
    .default(DEFAULT_ON_CLOUD_UNAVAILABLE)
    .describe("cloud unreachable or deadline too short: answer degraded from the edge, or refuse"),
  /** "Answer now, upgrade later": answered at the edge and also sent through the outbox for a cloud answer. */
  upgradeLabels: z
    .array(LabelSchema)
    .default([])
    .describe("answered at the edge now and also sent through the outbox for a cloud answer"),
});

// ── privacy ──
export const REDACT_KINDS = ["email", "phone", "card", "iban", "ip"] as const;
export const CustomPatternSchema = z
  .strictObject({
    name: IdSchema,
    pattern: z.string().min(1).max(1024),
    flags: z
      .string()
      .regex(/^[gimsuvy]*$/, "regex flags may only be g, i, m, s, u, v, y")
      .default(DEFAULT_REGEX_FLAGS),
  })
  .check((ctx) => {
    try {
      new RegExp(ctx.value.pattern, ctx.value.flags);
    } catch (err) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value.pattern,
        path: ["pattern"],
        message: `invalid regular expression: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  });
export const PrivacySchema = z.strictObject({
  /** Built-in PII kinds redacted before anything leaves the device. */
  redact: z.array(z.enum(REDACT_KINDS)).default([...DEFAULT_REDACT_KINDS]),
  customPatterns: z.array(CustomPatternSchema).default([]),
  /** Per task id: predicted labels whose requests never leave the device (answered locally or refused). */
  neverEscalate: z
    .record(IdSchema, z.array(LabelSchema))
    .default({})
    .describe("per task id: predicted labels whose requests never leave the device"),
});

// ── cache ──
export const CacheSchema = z.strictObject({
  enabled: z.boolean().default(DEFAULT_CACHE_ENABLED),
  ttlMs: z.int().min(1).default(DEFAULT_CACHE_TTL_MS),
  maxBytes: z.int().min(1).default(DEFAULT_CACHE_MAX_BYTES),
});

// ── batch ──
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
/** A daily window; `end` before `start` crosses midnight. `days` (all when absent) are the days it starts on. */
export const WindowSchema = z
  .strictObject({
    start: HhmmSchema,
    end: HhmmSchema,
    days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
  })
  .check((ctx) => {
    if (ctx.value.start === ctx.value.end) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value.end,
        path: ["end"],
        message: "must differ from start",
      });
    }
  });
export const OffPeakSchema = z.strictObject({
  timeZone: TimeZoneSchema.default(DEFAULT_OFF_PEAK_TIME_ZONE),
  /** No windows: deferred work runs at once. */
  windows: z
    .array(WindowSchema)
    .default([])
    .describe('daily windows {start: "HH:MM", end: "HH:MM", days?}; end before start crosses midnight'),
});
export const BatchSchema = z.strictObject({
  maxItems: z.int().min(1).max(MAX_BATCH_MAX_ITEMS).default(DEFAULT_BATCH_MAX_ITEMS),
  maxAgeMs: z.int().min(1).default(DEFAULT_BATCH_MAX_AGE_MS),
  offPeak: OffPeakSchema.prefault({}),
  concurrency: z.int().min(1).max(1024).default(DEFAULT_BATCH_CONCURRENCY),
  ratePerSecond: z.number().positive().default(DEFAULT_BATCH_RATE_PER_SECOND),
  attempts: z.int().min(1).max(100).default(DEFAULT_BATCH_ATTEMPTS),
  backoffMs: z.int().min(0).default(DEFAULT_BATCH_BACKOFF_MS),
});

// ── costs ──
export const TierCostSchema = z.strictObject({ perRequestUsd: z.number().min(0) });

// ── LLM endpoints ──
export const LlmPricingSchema = z.strictObject({
  inputPerMTokUsd: z.number().min(0),
  outputPerMTokUsd: z.number().min(0),
});
export const CircuitBreakerSchema = z.strictObject({
  failureThreshold: z.int().min(1).default(DEFAULT_BREAKER_FAILURE_THRESHOLD),
  resetMs: z.int().min(1).default(DEFAULT_BREAKER_RESET_MS),
});
export const LlmEndpointSchema = z.strictObject({
  /** OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp, the tiergate stand-in). */
  baseURL: HttpUrlSchema,
  apiKey: SecretRefSchema.describe(
    "env:NAME — the environment variable holding the key; never the key itself",
  ),
  model: z.string().min(1),
  timeoutMs: z.int().min(1).default(DEFAULT_LLM_TIMEOUT_MS),
  maxRetries: z.int().min(0).max(10).default(DEFAULT_LLM_MAX_RETRIES),
  maxConcurrency: z.int().min(1).default(DEFAULT_LLM_MAX_CONCURRENCY),
  circuitBreaker: CircuitBreakerSchema.prefault({}),
  pricing: LlmPricingSchema,
});
export const LlmSchema = z.strictObject({
  endpoints: z.record(IdSchema, LlmEndpointSchema).default({}),
});

// ── policy ──
export const PolicyObjectSchema = z.strictObject({
  /** Editors' JSON Schema reference; ignored. */
  $schema: z.string().optional(),
  version: VersionSchema.describe('policy format version "MAJOR.MINOR"; supported major: 1'),
  tasks: z.record(IdSchema, TaskSchema).refine((t) => Object.keys(t).length > 0, {
    message: "declare at least one task",
  }),
  privacy: PrivacySchema.prefault({}),
  cache: CacheSchema.prefault({}),
  batch: BatchSchema.prefault({}),
  /** Per tier name (across tasks): cost of one request. LLM tiers are priced by their endpoints. */
  costs: z.record(IdSchema, TierCostSchema).default({}),
  llm: LlmSchema.prefault({}),
});

export const PolicySchema = PolicyObjectSchema.check((ctx) => {
  for (const problem of crossCheck(ctx.value)) {
    ctx.issues.push({ code: "custom", input: ctx.value, path: problem.path, message: problem.message });
  }
});

// ── types ──
export type Policy = z.infer<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type Task = z.infer<typeof TaskSchema>;
export type Tier = z.infer<typeof TierSchema>;
export type ModelTier = Tier & { model: string; accept: Accept };
export type LlmTier = Tier & { where: "cloud"; llm: z.infer<typeof TierLlmSchema> };
export type Accept = z.infer<typeof AcceptSchema>;
export type AcceptRule = Accept["rule"];
export type Action = z.infer<typeof ActionSchema>;
export type Privacy = z.infer<typeof PrivacySchema>;
export type RedactKind = (typeof REDACT_KINDS)[number];
export type CustomPattern = z.infer<typeof CustomPatternSchema>;
export type CacheSettings = z.infer<typeof CacheSchema>;
export type BatchSettings = z.infer<typeof BatchSchema>;
export type OffPeak = z.infer<typeof OffPeakSchema>;
export type OffPeakWindow = z.infer<typeof WindowSchema>;
export type Weekday = (typeof WEEKDAYS)[number];
export type LlmEndpoint = z.infer<typeof LlmEndpointSchema>;
export type LlmPricing = z.infer<typeof LlmPricingSchema>;

export function isModelTier(tier: Tier): tier is ModelTier {
  return tier.model !== undefined && tier.accept !== undefined;
}
export function isLlmTier(tier: Tier): tier is LlmTier {
  return tier.llm !== undefined && tier.where === "cloud";
}
