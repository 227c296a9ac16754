// Edge agent heartbeat on `tg.v1.hb.<deviceId>`.
import { z } from "zod";
import { CountSchema, DurationMsSchema, EpochMsSchema, IdSchema } from "./common.ts";

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

export const LoadedModelSchema = z.strictObject({
  tier: z.string().min(1),
  model: z.string().min(1),
  version: z.string().min(1),
});
export type LoadedModel = z.infer<typeof LoadedModelSchema>;

export const HeartbeatSchema = z.strictObject({
  deviceId: IdSchema,
  sentAt: EpochMsSchema,
  uptimeMs: DurationMsSchema,
  policyVersion: z.string().min(1),
  models: z.array(LoadedModelSchema),
  /** Monotonic counters since start (served, escalated, degraded, refused, ...). */
  counters: z.record(z.string().min(1), z.number().nonnegative().finite()),
  /** Requests held in the durable outbox, not yet acknowledged by the cloud. */
  outboxDepth: CountSchema,
  /** Current estimate of the escalation round trip; null before the first measurement. */
  rttMs: DurationMsSchema.nullable().optional(),
  agentVersion: z.string().min(1).optional(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
