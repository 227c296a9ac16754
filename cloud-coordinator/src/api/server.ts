// The cloud HTTP API for apps (fastify 5): /v1/infer (same contract as the edge, cloud tiers),
// /v1/batches, an OpenAI-compatible /v1/chat/completions, and /healthz, /readyz, /metrics.
// /v1/* needs an API key (Bearer, constant-time compare) and is rate limited per key in Redis.
// Every error leaves through one handler as a typed error body with the code's HTTP status.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { z } from "zod";
import {
  BatchSubmissionSchema,
  CallbackUrlSchema,
  ErrorCode,
  IdSchema,
  InferRequestSchema,
  InputTextSchema,
  MAX_BATCH_ITEMS,
  TaskNameSchema,
  TiergateError,
  errorBody,
  getTask,
  toTiergateError,
  validate,
  type BatchSubmission,
  type InferResult,
  type LoadedPolicy,
  type Logger,
  drainRequestBody,
} from "@tiergate/shared";
import type { BatchScheduler } from "../batch/scheduler.ts";
import type { BatchStore } from "../batch/store.ts";
import type { Cascade } from "../escalation/cascade.ts";
import { systemClock, type Clock } from "../escalation/types.ts";
import type { CoordinatorMetrics } from "../metrics/metrics.ts";
import { bearerToken, type ApiKeyVerifier } from "./auth.ts";
import type { ChatForwarder } from "./chat.ts";
import type { RedisRateLimiter } from "./rate-limit.ts";

/** Largest request body (bytes); larger ones get 413 INPUT_TOO_LARGE. */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;
/** Deadline of a chat completion forwarded to the LLM tier. */
export const DEFAULT_CHAT_DEADLINE_MS = 60_000;

export const ApiBatchItemSchema = z.strictObject({
  id: IdSchema.optional(),
  task: TaskNameSchema,
  input: InputTextSchema,
});
export const ApiBatchRequestSchema = z.strictObject({
  batchId: IdSchema.optional(),
  items: z.array(ApiBatchItemSchema).min(1).max(MAX_BATCH_ITEMS),
  callbackUrl: CallbackUrlSchema.optional(),
});
export type ApiBatchRequest = z.infer<typeof ApiBatchRequestSchema>;

export type ApiServerOptions = {
  cascade: Cascade;
  policy: () => LoadedPolicy;
  verifier: ApiKeyVerifier;
  rateLimiter?: RedisRateLimiter | undefined;
  scheduler?: BatchScheduler | undefined;
  store?: BatchStore | undefined;
  chat?: ChatForwarder | undefined;
  metrics?: CoordinatorMetrics | undefined;
  logger: Logger;
  /** Batch submission times (off-peak placement); request deadlines are real time. */
  clock?: Clock;
  bodyLimitBytes?: number;
  /** Whether dependencies (NATS, Redis, models) are ready, for /readyz. */
  ready: () => Promise<boolean> | boolean;
};

declare module "fastify" {
  interface FastifyRequest {
    apiKeyId?: string;
    startedAt?: number;
  }
}

export function buildApiServer(options: ApiServerOptions): FastifyInstance {
  const clock = options.clock ?? systemClock;
  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES, logger: false });

  app.addHook("onRequest", async (req) => {
    req.startedAt = performance.now();
    if (!req.url.startsWith("/v1/")) return;
    const token = bearerToken(req.headers.authorization);
    const keyId = token === undefined ? undefined : options.verifier.verify(token);
    if (keyId === undefined)
      throw new TiergateError(
        ErrorCode.UNAUTHORIZED,
        token === undefined ? "missing API key: send Authorization: Bearer <key>" : "unknown API key",
      );
    req.apiKeyId = keyId;
    const decision = await options.rateLimiter?.consume(keyId);
    if (decision?.type === "limited")
      throw new TiergateError(ErrorCode.RATE_LIMITED, "over this API key's request rate", {
        retryAfterMs: decision.retryAfterMs,
      });
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    options.metrics?.http(
      route,
      reply.statusCode,
      (performance.now() - (req.startedAt ?? performance.now())) / 1000,
    );
  });

  app.setErrorHandler(async (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const e = fromFastifyError(err);
    // Read what is left of a refused body, so a client still sending it reads the 413.
    if (e.code === ErrorCode.INPUT_TOO_LARGE) await drainRequestBody(req.raw);
    if (e.code === ErrorCode.INTERNAL) options.logger.error("http request failed", { err, url: req.url });
    if (e.code === ErrorCode.UNAUTHORIZED) void reply.header("www-authenticate", 'Bearer realm="tiergate"');
    if (e.retryAfterMs !== undefined)
      void reply.header("retry-after", String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
    return await reply.code(e.httpStatus).send(errorBody(e));
  });

  app.setNotFoundHandler(async (req, reply) => {
    const e = new TiergateError(ErrorCode.NOT_FOUND, `no route ${req.method} ${req.url.split("?")[0] ?? ""}`);
    return await reply.code(e.httpStatus).send(errorBody(e));
  });

  app.get("/healthz", () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    if (await options.ready()) return { status: "ready" };
    const e = new TiergateError(ErrorCode.UNAVAILABLE, "not ready: a dependency is not connected");
    return await reply.code(e.httpStatus).send(errorBody(e));
  });
  app.get("/metrics", async (_req, reply) => {
    if (options.metrics === undefined)
      return await reply.code(404).send(errorBody(new TiergateError(ErrorCode.NOT_FOUND, "metrics are off")));
    return await reply.header("content-type", options.metrics.contentType).send(await options.metrics.text());
  });

  app.post("/v1/infer", async (req, reply) => {
    const request = validate(InferRequestSchema, req.body, "infer request");
    const id = request.id ?? randomUUID();
    const task = getTask(options.policy().policy, request.task);
    if (task === undefined)
      throw new TiergateError(ErrorCode.UNKNOWN_TASK, `task "${request.task}" is not in the policy`, {
        details: [{ path: ["task"], message: "unknown task" }],
      });
    if (request.mode === "batch") {
      const outcome = await submitBatch({
        batchId: id,
        items: [{ id, task: request.task, input: request.input }],
      });
      const deferred: InferResult = {
        id,
        task: request.task,
        status: "deferred",
        degraded: false,
        cached: false,
        attempts: [],
        costUsd: 0,
        timings: { totalMs: 0, steps: [] },
        resultUrl: `/v1/batches/${outcome.batchId}`,
      };
      return await reply.code(202).send(deferred);
    }
    return await options.cascade.run({
      id,
      task: request.task,
      input: request.input,
      deadlineAt: Date.now() + (request.deadlineMs ?? task.defaultDeadlineMs),
    });
  });

  async function submitBatch(body: ApiBatchRequest): Promise<{
    batchId: string;
    status: string;
    scheduledFor: number;
    duplicate: boolean;
    itemCount: number;
  }> {
    const { scheduler } = options;
    if (scheduler === undefined)
      throw new TiergateError(ErrorCode.UNAVAILABLE, "batches are not enabled on this coordinator");
    const submission: BatchSubmission = validate(
      BatchSubmissionSchema,
      {
        batchId: body.batchId ?? randomUUID(),
        source: "api",
        items: body.items.map((i) => ({ id: i.id ?? randomUUID(), task: i.task, input: i.input })),
        submittedAt: clock.now(),
        ...(body.callbackUrl === undefined ? {} : { callbackUrl: body.callbackUrl }),
      },
      "batch",
    );
    const outcome = await scheduler.submit(submission);
    options.metrics?.batch(
      "api",
      outcome.type === "duplicate" ? "duplicate" : outcome.status === "delayed" ? "delayed" : "submitted",
    );
    return {
      batchId: outcome.batchId,
      status: outcome.status,
      scheduledFor: outcome.scheduledFor,
      duplicate: outcome.type === "duplicate",
      itemCount: submission.items.length,
    };
  }

  app.post("/v1/batches", async (req, reply) => {
    const body = validate(ApiBatchRequestSchema, req.body, "batch request");
    return await reply.code(202).send(await submitBatch(body));
  });

  app.get<{ Params: { id: string } }>("/v1/batches/:id", async (req) => {
    const id = validate(IdSchema, req.params.id, "batch id");
    const view = await options.store?.view(id);
    if (view === undefined) throw new TiergateError(ErrorCode.BATCH_NOT_FOUND, `no batch ${id}`);
    return view;
  });

  app.post("/v1/chat/completions", async (req, reply) => {
    if (options.chat === undefined)
      throw new TiergateError(ErrorCode.UNAVAILABLE, "the policy declares no LLM endpoints");
    const out = await options.chat.complete(req.body, Date.now() + DEFAULT_CHAT_DEADLINE_MS);
    void reply.header("x-tiergate-endpoint", out.endpoint);
    void reply.header("x-tiergate-cost-usd", String(out.costUsd));
    void reply.header("x-tiergate-cache", out.cached ? "hit" : "miss");
    return out.completion;
  });

  return app;
}

/** Fastify's own errors (body too large, bad JSON, wrong content type) as typed errors. */
function fromFastifyError(err: FastifyError | Error): TiergateError {
  if (err instanceof TiergateError) return err;
  const code = "code" in err ? err.code : undefined;
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new TiergateError(ErrorCode.INPUT_TOO_LARGE, "request body is over the size limit", {
        cause: err,
      });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new TiergateError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json", {
        cause: err,
      });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new TiergateError(ErrorCode.INVALID_JSON, `request body is not valid JSON: ${err.message}`, {
        cause: err,
      });
    default:
      break;
  }
  if (err instanceof SyntaxError) return toTiergateError(err);
  const status = "statusCode" in err ? err.statusCode : undefined;
  if (status === 400) return new TiergateError(ErrorCode.BAD_REQUEST, err.message, { cause: err });
  if (status === 413) return new TiergateError(ErrorCode.INPUT_TOO_LARGE, err.message, { cause: err });
  return toTiergateError(err);
}
