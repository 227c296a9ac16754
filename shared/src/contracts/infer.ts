// The inference request apps send (edge and cloud `POST /v1/infer`) and the result they get back.
import { z } from "zod";
import {
  ConfidenceSchema,
  CostUsdSchema,
  DurationMsSchema,
  ErrorInfoSchema,
  IdSchema,
  InputTextSchema,
  TaskNameSchema,
  TierAttemptSchema,
  TierKindSchema,
  TraceIdSchema,
  WhereSchema,
} from "./common.ts";

/** Longest deadline a request may ask for. */
export const MAX_DEADLINE_MS = 3_600_000;
export const DEFAULT_INFER_MODE = "realtime";

export const InferModeSchema = z.enum(["realtime", "batch"]);
export type InferMode = z.infer<typeof InferModeSchema>;

/** An http(s) URL that results are POSTed to when ready. */
export const CallbackUrlSchema = z.url({ protocol: /^https?$/, error: "callbackUrl must be an http(s) URL" });

export const InferRequestSchema = z.strictObject({
  task: TaskNameSchema,
  input: InputTextSchema,
  mode: InferModeSchema.default(DEFAULT_INFER_MODE),
  /** Caller-chosen request id (idempotency, `GET /v1/results/:id`); generated when absent. */
  id: IdSchema.optional(),
  deadlineMs: z.int().positive().max(MAX_DEADLINE_MS).optional(),
  callbackUrl: CallbackUrlSchema.optional(),
});
/** A parsed request (defaults applied). */
export type InferRequest = z.infer<typeof InferRequestSchema>;
/** What an app may send (`mode` optional). */
export type InferRequestInput = z.input<typeof InferRequestSchema>;

export const InferStatusSchema = z.enum(["answered", "deferred", "refused"]);
export type InferStatus = z.infer<typeof InferStatusSchema>;

/** Who answered: the tier from the policy, where it ran, and the model and its version. */
export const ServedBySchema = z.strictObject({
  tier: z.string().min(1),
  where: WhereSchema,
  kind: TierKindSchema,
  model: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
});
export type ServedBy = z.infer<typeof ServedBySchema>;

/** Time spent in one step of the request's path ("parse", "cache", "tier:nano", "escalate", ...). */
export const StepTimingSchema = z.strictObject({
  step: z.string().min(1),
  durationMs: DurationMsSchema,
});
export type StepTiming = z.infer<typeof StepTimingSchema>;

export const TimingsSchema = z.strictObject({
  totalMs: DurationMsSchema,
  steps: z.array(StepTimingSchema),
});
export type Timings = z.infer<typeof TimingsSchema>;

/**
 * The answer to one request.
 * - `answered`: `label` and/or `answer` (the label's rule-based action) are set, `servedBy` says who.
 *   With `resultUrl` set, a better (cloud) answer will be available there later ("answer now,
 *   upgrade later").
 * - `deferred`: held durably (batch mode, offline); fetch it from `resultUrl` / by `id` later.
 * - `refused`: `error` says why (policy, privacy, deadline, ...).
 */
export const InferResultSchema = z
  .strictObject({
    id: IdSchema,
    task: TaskNameSchema,
    status: InferStatusSchema,
    label: z.string().optional(),
    answer: z.string().optional(),
    confidence: ConfidenceSchema.optional(),
    servedBy: ServedBySchema.optional(),
    /** Answered from a lower tier than the policy wanted (cloud unreachable or deadline too short). */
    degraded: z.boolean(),
    cached: z.boolean(),
    /** Every tier tried, in order, with its confidence and whether it was accepted. */
    attempts: z.array(TierAttemptSchema),
    costUsd: CostUsdSchema,
    timings: TimingsSchema,
    error: ErrorInfoSchema.optional(),
    policyVersion: z.string().min(1).optional(),
    traceId: TraceIdSchema.optional(),
    /** Where the deferred (or upgraded) result can be fetched, e.g. "/v1/results/<id>". */
    resultUrl: z.string().min(1).optional(),
  })
  .superRefine((result, ctx) => {
    if (result.status === "answered" && result.label === undefined && result.answer === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["label"],
        message: "an answered result needs a label or an answer",
      });
    }
    if (result.status === "refused" && result.error === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["error"],
        message: "a refused result needs an error saying why",
      });
    }
  });
export type InferResult = z.infer<typeof InferResultSchema>;
