// Building blocks shared by every contract: ids, input text, epoch times, tier attempts.
import { z } from "zod";
import { ErrorCodeSchema } from "../errors.ts";

/** Longest id (request, batch, device, task name), in UTF-16 code units. */
export const MAX_ID_LENGTH = 128;

/**
 * Characters an id may not hold: NATS wildcards and token separator, whitespace, controls, and
 * path separators (ids are JetStream consumer-name parts and URL path segments too).
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_ID_CHARS = /[*>.\s/\\\u0000-\u001f\u007f]/u;

/** Why `id` cannot be used as an id (and as a NATS subject token), or undefined when it can. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return "is empty";
  if (id.length > MAX_ID_LENGTH) return `is longer than ${MAX_ID_LENGTH} characters (${id.length})`;
  const bad = FORBIDDEN_ID_CHARS.exec(id);
  if (bad !== null) return `contains the forbidden character ${JSON.stringify(bad[0])}`;
  return undefined;
}

export function isValidId(id: string): boolean {
  return idProblem(id) === undefined;
}

/** An id usable as one NATS subject token: 1..128 chars; no `*` `>` `.` `/` `\`, whitespace or controls. */
export const IdSchema = z.string().superRefine((value, ctx) => {
  const problem = idProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `id ${problem}` });
});

/** Task names follow the id rules: they become the last token of `tg.v1.escalate.<task>`. */
export const TaskNameSchema = IdSchema;

// Control characters other than tab, LF and CR.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_INPUT_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/u;

/** Index of the first control character (other than \t \n \r) in `text`, or -1. */
export function findControlChar(text: string): number {
  const match = FORBIDDEN_INPUT_CHARS.exec(text);
  return match === null ? -1 : match.index;
}

/** Input text: non-empty, no control characters other than \t \n \r. Size limits are config. */
export const InputTextSchema = z
  .string()
  .min(1, "input is empty")
  .superRefine((value, ctx) => {
    const at = findControlChar(value);
    if (at >= 0) {
      const hex = value.charCodeAt(at).toString(16).padStart(4, "0").toUpperCase();
      ctx.addIssue({
        code: "custom",
        message: `input contains a control character (U+${hex}) at index ${at}`,
      });
    }
    if (!value.isWellFormed()) {
      ctx.addIssue({
        code: "custom",
        message: "input is not valid Unicode (it contains a lone surrogate)",
      });
    }
  });

/** Milliseconds since the Unix epoch. */
export const EpochMsSchema = z.int().nonnegative();
export const DurationMsSchema = z.number().nonnegative().finite();
export const ConfidenceSchema = z.number().min(0).max(1);
export const CostUsdSchema = z.number().nonnegative().finite();
export const CountSchema = z.int().nonnegative();

export const WhereSchema = z.enum(["edge", "cloud"]);
export type Where = z.infer<typeof WhereSchema>;

export const TierKindSchema = z.enum(["cache", "model", "llm", "rule"]);
export type TierKind = z.infer<typeof TierKindSchema>;

/** A W3C trace id: 32 lowercase hex digits. */
export const TraceIdSchema = z.string().regex(/^[0-9a-f]{32}$/, "trace id must be 32 lowercase hex digits");

/** An error as a field of a contract (results, attempts, batch results). */
export const ErrorInfoSchema = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string(),
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const TokenUsageSchema = z.strictObject({
  promptTokens: CountSchema,
  completionTokens: CountSchema,
});
export type TokenUsage = z.infer<typeof TokenUsageSchema>;

/** One tier tried for a request, whether or not it was accepted. */
export const TierAttemptSchema = z.strictObject({
  /** Tier name from the policy (e.g. "nano", "small", "medium", "llm"). */
  tier: z.string().min(1),
  where: WhereSchema,
  kind: TierKindSchema,
  model: z.string().min(1).optional(),
  modelVersion: z.string().min(1).optional(),
  label: z.string().optional(),
  confidence: ConfidenceSchema.optional(),
  /** The acceptance threshold this tier's confidence was compared with. */
  threshold: ConfidenceSchema.optional(),
  accepted: z.boolean(),
  durationMs: DurationMsSchema,
  costUsd: CostUsdSchema.optional(),
  usage: TokenUsageSchema.optional(),
  error: ErrorInfoSchema.optional(),
});
export type TierAttempt = z.infer<typeof TierAttemptSchema>;

/** Counts of redacted spans by PII kind (e.g. {email: 1, phone: 2}). */
export const RedactionCountsSchema = z.record(z.string().min(1), CountSchema);
export type RedactionCounts = z.infer<typeof RedactionCountsSchema>;
