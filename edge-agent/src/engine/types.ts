// What the engine needs from the outside world, as narrow interfaces (the daemon passes the NATS
// escalation client, the outbox and the results store; tests can pass the same real components).
import { performance } from "node:perf_hooks";
import type { Context } from "@opentelemetry/api";
import { z } from "zod";
import {
  CallbackUrlSchema,
  InferResultSchema,
  type BatchItem,
  type EscalationRequest,
  type InferResult,
} from "@tiergate/shared";

export type Escalator = {
  /** Whether a request could be sent now (NATS connected). */
  readonly connected: boolean;
  /** Expected round trip to a coordinator, ms. */
  readonly rttEstimateMs: number;
  /** The coordinator's result (`trace`: the context whose traceparent goes in the headers); throws a TiergateError (UNAVAILABLE, DEADLINE_EXCEEDED, or the cloud's). */
  escalate(
    request: EscalationRequest,
    options: { deadlineAt: number; trace?: Context },
  ): Promise<InferResult>;
};

/** The durable outbox as the engine sees it: resolves once the item is on disk. */
export type DeferredSink = { enqueue(item: BatchItem): Promise<void> };

/** A stored answer for `GET /v1/results/:id`, with the caller's callback URL when it gave one. */
export const StoredResultSchema = z.strictObject({
  result: InferResultSchema,
  callbackUrl: CallbackUrlSchema.optional(),
});
export type StoredResult = z.infer<typeof StoredResultSchema>;

export type ResultsSink = {
  get(id: string): StoredResult | undefined;
  put(id: string, value: StoredResult): Promise<void>;
};

export type Clock = { now(): number };
/** Read once: `performance.timeOrigin` is a getter behind a getter (the global), on every call. */
const TIME_ORIGIN_MS = performance.timeOrigin;
export const systemClock: Clock = { now: () => TIME_ORIGIN_MS + performance.now() };
