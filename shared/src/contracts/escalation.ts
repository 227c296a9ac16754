// Edge → cloud escalation over NATS request–reply on `tg.v1.escalate.<task>`.
// A successful reply's body is an EscalationReply. A failed one carries the error in headers
// (`errorHeaders`) and an ErrorBody as its body; `decodeReply` turns it back into a TiergateError.
import { z } from "zod";
import {
  EpochMsSchema,
  IdSchema,
  InputTextSchema,
  RedactionCountsSchema,
  TaskNameSchema,
  TierAttemptSchema,
} from "./common.ts";
import { InferResultSchema } from "./infer.ts";

export const EscalationRequestSchema = z.strictObject({
  /** The request id; the reply carries the same id. */
  id: IdSchema,
  task: TaskNameSchema,
  /** Already redacted by the edge's privacy rules. */
  input: InputTextSchema,
  deviceId: IdSchema,
  /** When the app stops waiting (epoch ms); the coordinator gives up past it. */
  deadlineAt: EpochMsSchema,
  /** The edge tiers tried before escalating, with their confidences. */
  edgeAttempts: z.array(TierAttemptSchema),
  policyVersion: z.string().min(1).optional(),
  /** How many spans of each PII kind were redacted from `input`. */
  redactions: RedactionCountsSchema.optional(),
});
export type EscalationRequest = z.infer<typeof EscalationRequestSchema>;

export const EscalationReplySchema = z
  .strictObject({
    id: IdSchema,
    result: InferResultSchema,
  })
  .superRefine((reply, ctx) => {
    if (reply.result.id !== reply.id) {
      ctx.addIssue({
        code: "custom",
        path: ["result", "id"],
        message: "result id differs from the reply id",
      });
    }
  });
export type EscalationReply = z.infer<typeof EscalationReplySchema>;
