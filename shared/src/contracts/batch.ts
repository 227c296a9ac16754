// Batches: submitted by apps (`POST /v1/batches`) or flushed from an edge outbox to
// `tg.v1.batch.<deviceId>`; results come back over HTTP or on `tg.v1.results.<deviceId>`.
import { z } from "zod";
import {
  CountSchema,
  EpochMsSchema,
  ErrorInfoSchema,
  IdSchema,
  InputTextSchema,
  RedactionCountsSchema,
  TaskNameSchema,
  TierAttemptSchema,
} from "./common.ts";
import { CallbackUrlSchema, InferResultSchema } from "./infer.ts";

/** Most items in one batch. */
export const MAX_BATCH_ITEMS = 1000;

export const BatchItemSchema = z.strictObject({
  id: IdSchema,
  task: TaskNameSchema,
  input: InputTextSchema,
  /** From an edge: the tiers it tried already (for "answer now, upgrade later"). */
  edgeAttempts: z.array(TierAttemptSchema).optional(),
  /** From an edge: what was redacted from `input`. */
  redactions: RedactionCountsSchema.optional(),
});
export type BatchItem = z.infer<typeof BatchItemSchema>;

export const BatchSourceSchema = z.enum(["edge", "api"]);
export type BatchSource = z.infer<typeof BatchSourceSchema>;

export const BatchSubmissionSchema = z
  .strictObject({
    /** Also the JetStream message id and BullMQ job id, so a replay is deduplicated. */
    batchId: IdSchema,
    /** Required when `source` is "edge": results go to `tg.v1.results.<deviceId>`. */
    deviceId: IdSchema.optional(),
    source: BatchSourceSchema,
    items: z.array(BatchItemSchema).min(1).max(MAX_BATCH_ITEMS),
    submittedAt: EpochMsSchema,
    callbackUrl: CallbackUrlSchema.optional(),
    policyVersion: z.string().min(1).optional(),
  })
  .superRefine((batch, ctx) => {
    if (batch.source === "edge" && batch.deviceId === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["deviceId"],
        message: "a batch from an edge needs its deviceId",
      });
    }
    const seen = new Set<string>();
    batch.items.forEach((item, index) => {
      if (seen.has(item.id)) {
        ctx.addIssue({
          code: "custom",
          path: ["items", index, "id"],
          message: `duplicate item id ${item.id}`,
        });
      }
      seen.add(item.id);
    });
  });
export type BatchSubmission = z.infer<typeof BatchSubmissionSchema>;

export const BatchStatusSchema = z.enum(["queued", "delayed", "running", "completed", "failed"]);
export type BatchStatus = z.infer<typeof BatchStatusSchema>;

export const BatchResultSchema = z.strictObject({
  batchId: IdSchema,
  status: BatchStatusSchema,
  itemCount: CountSchema,
  /** Results so far (all of them once `completed`). */
  results: z.array(InferResultSchema),
  /** When a delayed batch will run (start of the next off-peak window). */
  scheduledFor: EpochMsSchema.optional(),
  startedAt: EpochMsSchema.optional(),
  completedAt: EpochMsSchema.optional(),
  error: ErrorInfoSchema.optional(),
});
export type BatchResult = z.infer<typeof BatchResultSchema>;

/** One result on `tg.v1.results.<deviceId>` (JetStream message id: `requestId`). */
export const DeviceResultSchema = z
  .strictObject({
    deviceId: IdSchema,
    batchId: IdSchema.optional(),
    requestId: IdSchema,
    result: InferResultSchema,
  })
  .superRefine((msg, ctx) => {
    if (msg.result.id !== msg.requestId) {
      ctx.addIssue({ code: "custom", path: ["result", "id"], message: "result id differs from requestId" });
    }
  });
export type DeviceResult = z.infer<typeof DeviceResultSchema>;
