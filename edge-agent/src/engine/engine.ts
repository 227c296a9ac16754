// The edge cascade for one request: parse → (batch: outbox) → cache → edge tiers in policy order →
// acceptance rule → the label's action; otherwise escalation within the deadline, or a degraded
// answer / refusal as the task's policy says. Every step's time and every tier's confidence is
// recorded in the result. Nothing leaves the device unredacted, and neverEscalate labels never leave.
import { randomUUID } from "node:crypto";
import { context as otelContext, type Context, type Tracer } from "@opentelemetry/api";
import {
  ATTR_CACHED,
  ATTR_DEGRADED,
  ATTR_MODE,
  ATTR_REQUEST_ID,
  ATTR_STATUS,
  ATTR_TASK,
  ErrorCode,
  getTask,
  TiergateError,
  toTiergateError,
  traceIdOf,
  withSpan,
  type InferRequest,
  type InferResult,
  type Logger,
  type Task,
  type TierAttempt,
} from "@tiergate/shared";
import type { ResultCache } from "../cache/result-cache.ts";
import { decideEscalation } from "../escalation/rtt.ts";
import type { EdgeMetrics } from "../metrics/metrics.ts";
import type { PolicyState } from "./policy-state.ts";
import { parseInferRequest } from "./request.ts";
import { answerFromAttempt, bestAttempt, runEdgeTiers, type EdgeOutcome } from "./tiers.ts";
import { systemClock, type Clock, type DeferredSink, type Escalator, type ResultsSink } from "./types.ts";

export const RESULTS_PATH = "/v1/results/";

export type CachedAnswer = Pick<
  InferResult,
  "status" | "label" | "answer" | "confidence" | "servedBy" | "costUsd" | "error"
>;

export type EdgeEngineOptions = {
  deviceId: string;
  state: () => PolicyState;
  cache: ResultCache<CachedAnswer>;
  escalator: Escalator;
  deferred: DeferredSink;
  results: ResultsSink;
  metrics: EdgeMetrics;
  tracer: Tracer;
  logger: Logger;
  clock?: Clock;
  newId?: () => string;
};

type Ctx = {
  req: InferRequest;
  id: string;
  task: Task;
  state: PolicyState;
  startedAt: number;
  deadlineAt: number;
  steps: { step: string; durationMs: number }[];
  /** The request span's context: passed explicitly, since no context manager may be registered. */
  trace: Context;
};

export class EdgeEngine {
  readonly #o: EdgeEngineOptions;
  readonly #clock: Clock;
  readonly #newId: () => string;

  constructor(options: EdgeEngineOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#newId = options.newId ?? (() => randomUUID());
  }

  /** Validates a request body; throws typed errors (VALIDATION_FAILED, UNKNOWN_TASK, INPUT_TOO_LARGE). */
  parse(body: unknown): { req: InferRequest; task: Task; state: PolicyState } {
    const req = parseInferRequest(body);
    const state = this.#o.state();
    const task = getTask(state.policy, req.task);
    if (task === undefined) {
      const known = Object.keys(state.policy.tasks).join(", ");
      throw new TiergateError(
        ErrorCode.UNKNOWN_TASK,
        `unknown task "${req.task}"; this policy declares: ${known}`,
      );
    }
    const bytes = Buffer.byteLength(req.input, "utf8");
    if (bytes > task.maxInputBytes) {
      throw new TiergateError(
        ErrorCode.INPUT_TOO_LARGE,
        `input is ${bytes} bytes; task "${req.task}" accepts at most ${task.maxInputBytes}`,
      );
    }
    return { req, task, state };
  }

  /** Runs one request; `parent` is the caller's trace context (from its `traceparent` header). */
  infer(body: unknown, parent?: Context): Promise<InferResult> {
    let ctx: Ctx;
    try {
      ctx = this.#begin(body, parent);
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- parse throws TiergateErrors
      return Promise.reject(err);
    }
    const { req } = ctx;
    const attributes = { [ATTR_TASK]: req.task, [ATTR_REQUEST_ID]: ctx.id, [ATTR_MODE]: req.mode };
    const options = { parent: ctx.trace, attributes };
    return withSpan(
      this.#o.tracer,
      "tiergate.edge.infer",
      (span, spanContext) => {
        ctx.trace = spanContext;
        const run = req.mode === "batch" ? this.#defer(ctx) : this.#realtime(ctx);
        if (!span.isRecording()) return run;
        return run.then((result) => {
          span.setAttributes({
            [ATTR_STATUS]: result.status,
            [ATTR_DEGRADED]: result.degraded,
            [ATTR_CACHED]: result.cached,
          });
          return result;
        });
      },
      options,
    );
  }

  /** The parsed request and its state; throws parse's typed errors. */
  #begin(body: unknown, parent: Context | undefined): Ctx {
    const startedAt = this.#clock.now();
    const { req, task, state } = this.parse(body);
    return {
      req,
      id: req.id ?? this.#newId(),
      task,
      state,
      startedAt,
      deadlineAt: startedAt + (req.deadlineMs ?? task.defaultDeadlineMs),
      steps: [{ step: "parse", durationMs: this.#clock.now() - startedAt }],
      trace: parent ?? otelContext.active(),
    };
  }

  /** Cache, then the edge tiers; what they leave undecided goes to #afterEdge. Not async: see runEdgeTiers. */
  #realtime(ctx: Ctx): Promise<InferResult> {
    const { state, req } = ctx;
    const cacheOn = state.policy.cache.enabled;
    const keyParts: CacheKeyParts = cacheOn ? cacheKeyParts(ctx) : NO_CACHE_KEY;
    if (cacheOn) {
      const t = this.#clock.now();
      const hit = this.#o.cache.get(keyParts);
      const durationMs = this.#clock.now() - t;
      ctx.steps.push({ step: "cache", durationMs });
      this.#o.metrics.cacheLookup(hit !== undefined);
      if (hit !== undefined) {
        this.#o.metrics.totals.cacheHits++;
        const attempt: TierAttempt = {
          tier: "cache",
          where: "edge",
          kind: "cache",
          accepted: true,
          durationMs,
        };
        if (hit.label !== undefined) attempt.label = hit.label;
        if (hit.confidence !== undefined) attempt.confidence = hit.confidence;
        return Promise.resolve(
          this.#finish(ctx, hit, { degraded: false, cached: true, attempts: [attempt] }, "cache"),
        );
      }
    }

    const edge = runEdgeTiers(ctx.state.tiers.get(req.task) ?? [], req.input, {
      task: ctx.task,
      taskId: req.task,
      tracer: this.#o.tracer,
      metrics: this.#o.metrics,
      clock: this.#clock,
      steps: ctx.steps,
      parent: ctx.trace,
    });
    return edge.then((outcome) => this.#afterEdge(ctx, outcome, keyParts));
  }

  /** An accepted edge answer (maybe upgraded later), else escalation or the fallback. */
  #afterEdge(ctx: Ctx, edge: EdgeOutcome, keyParts: CacheKeyParts): InferResult | Promise<InferResult> {
    const { state, req } = ctx;
    if (edge.accepted !== undefined) {
      const answer = answerFromAttempt(ctx.task, req.task, edge.accepted, state.policy);
      const upgrade =
        answer.status === "answered" &&
        edge.accepted.label !== undefined &&
        ctx.task.upgradeLabels.includes(edge.accepted.label);
      if (upgrade && !this.#neverEscalate(ctx, edge)) {
        const result = this.#finish(ctx, answer, fromEdge(edge), edge.accepted.tier);
        result.resultUrl = `${RESULTS_PATH}${ctx.id}`;
        return this.#enqueue(ctx, result, edge.attempts).then(() => result);
      }
      if (state.policy.cache.enabled) this.#o.cache.set(keyParts, answer);
      return this.#finish(ctx, answer, fromEdge(edge), edge.accepted.tier);
    }

    if (this.#neverEscalate(ctx, edge)) {
      return this.#fallback(
        ctx,
        edge,
        new TiergateError(ErrorCode.PRIVACY_BLOCKED, "this request may not leave the device"),
      );
    }
    const decision = decideEscalation({
      connected: this.#o.escalator.connected,
      remainingMs: ctx.deadlineAt - this.#clock.now(),
      rttEstimateMs: this.#o.escalator.rttEstimateMs,
    });
    if (decision.type === "skip") {
      const err =
        decision.reason === "disconnected"
          ? new TiergateError(ErrorCode.UNAVAILABLE, "the cloud is unreachable (NATS disconnected)")
          : new TiergateError(ErrorCode.DEADLINE_EXCEEDED, "too little time left for a cloud answer");
      this.#o.metrics.degraded.inc({ task: req.task, reason: decision.reason });
      return this.#fallback(ctx, edge, err);
    }
    return this.#escalate(ctx, edge, keyParts);
  }

  async #escalate(ctx: Ctx, edge: EdgeOutcome, keyParts: CacheKeyParts): Promise<InferResult> {
    const { req } = ctx;
    const redacted = ctx.state.redactor.redact(req.input);
    const started = this.#clock.now();
    let cloud: InferResult;
    try {
      cloud = await this.#o.escalator.escalate(
        {
          id: ctx.id,
          task: req.task,
          input: redacted.text,
          deviceId: this.#o.deviceId,
          deadlineAt: Math.floor(ctx.deadlineAt),
          edgeAttempts: edge.attempts,
          policyVersion: ctx.state.policyVersion,
          ...(redacted.total > 0 ? { redactions: redacted.counts } : {}),
        },
        { deadlineAt: ctx.deadlineAt, trace: ctx.trace },
      );
      this.#o.metrics.egress("escalation", redacted.counts);
    } catch (thrown) {
      const err = toTiergateError(thrown, ErrorCode.UNAVAILABLE);
      ctx.steps.push({ step: "escalate", durationMs: this.#clock.now() - started });
      this.#o.metrics.escalations.inc({ task: req.task, result: err.code });
      if (err.retryable) {
        this.#o.metrics.degraded.inc({
          task: req.task,
          reason: err.code === ErrorCode.DEADLINE_EXCEEDED ? "deadline" : "unavailable",
        });
        return this.#fallback(ctx, edge, err);
      }
      return this.#finish(ctx, refusal(err), fromEdge(edge), "none");
    }
    ctx.steps.push({ step: "escalate", durationMs: this.#clock.now() - started });
    this.#o.metrics.escalations.inc({ task: req.task, result: "answered" });
    const attempts = [...edge.attempts, ...cloud.attempts.filter((a) => a.where !== "edge")];
    if (cloud.status === "answered" && !cloud.degraded && ctx.state.policy.cache.enabled) {
      const cached: CachedAnswer = { status: cloud.status, costUsd: 0 };
      for (const key of ["label", "answer", "confidence", "servedBy"] as const) {
        if (cloud[key] !== undefined) Object.assign(cached, { [key]: cloud[key] });
      }
      this.#o.cache.set(keyParts, cached);
    }
    const provenance = { degraded: cloud.degraded, cached: false, attempts };
    return this.#finish(ctx, cloud, provenance, cloud.servedBy?.tier ?? "cloud", "escalated");
  }

  /** Best edge answer marked degraded, or a refusal carrying `err`, as `onCloudUnavailable` says. */
  #fallback(ctx: Ctx, edge: EdgeOutcome, err: TiergateError): InferResult {
    const best = bestAttempt(edge.attempts);
    if (ctx.task.onCloudUnavailable === "degrade" && best?.label !== undefined) {
      const answer = answerFromAttempt(ctx.task, ctx.req.task, best, ctx.state.policy);
      const provenance = { degraded: true, cached: false, attempts: edge.attempts };
      return this.#finish(ctx, answer, provenance, best.tier, "degraded");
    }
    return this.#finish(ctx, refusal(err), fromEdge(edge), "none");
  }

  #neverEscalate(ctx: Ctx, edge: EdgeOutcome): boolean {
    const labels = ctx.state.policy.privacy.neverEscalate[ctx.req.task];
    if (labels === undefined || labels.length === 0) return false;
    return edge.attempts.some((a) => a.label !== undefined && labels.includes(a.label));
  }

  async #defer(ctx: Ctx): Promise<InferResult> {
    const provenance = { degraded: false, cached: false, attempts: [] };
    const result = this.#finish(ctx, { status: "deferred", costUsd: 0 }, provenance, "outbox");
    result.resultUrl = `${RESULTS_PATH}${ctx.id}`;
    await this.#enqueue(ctx, result, []);
    return result;
  }

  /** Durably queues the (redacted) request for a cloud answer and stores `result` for GET /v1/results. */
  async #enqueue(ctx: Ctx, result: InferResult, edgeAttempts: TierAttempt[]): Promise<void> {
    const started = this.#clock.now();
    const redacted = ctx.state.redactor.redact(ctx.req.input);
    const item = { id: ctx.id, task: ctx.req.task, input: redacted.text, edgeAttempts };
    const stored =
      ctx.req.callbackUrl === undefined ? { result } : { result, callbackUrl: ctx.req.callbackUrl };
    await Promise.all([
      this.#o.deferred.enqueue(redacted.total > 0 ? { ...item, redactions: redacted.counts } : item),
      this.#o.results.put(ctx.id, stored),
    ]);
    this.#o.metrics.egress("batch", redacted.counts);
    const durationMs = this.#clock.now() - started;
    ctx.steps.push({ step: "outbox", durationMs }); // the same array as result.timings.steps
    result.timings.totalMs += durationMs;
  }

  /**
   * The result, built once: the answer's fields (a cloud result's `resultUrl` too) and its
   * provenance. Records the request's outcome metrics.
   */
  #finish(
    ctx: Ctx,
    answer: ResultAnswer,
    provenance: Provenance,
    tier: string,
    outcome?: "escalated" | "degraded",
  ): InferResult {
    const totalMs = this.#clock.now() - ctx.startedAt;
    const result: InferResult = {
      id: ctx.id,
      task: ctx.req.task,
      status: answer.status,
      degraded: provenance.degraded,
      cached: provenance.cached,
      attempts: provenance.attempts,
      costUsd: answer.costUsd,
      timings: { totalMs, steps: ctx.steps },
      policyVersion: ctx.state.policyVersion,
    };
    if (answer.label !== undefined) result.label = answer.label;
    if (answer.answer !== undefined) result.answer = answer.answer;
    if (answer.confidence !== undefined) result.confidence = answer.confidence;
    if (answer.servedBy !== undefined) result.servedBy = answer.servedBy;
    if (answer.error !== undefined) result.error = answer.error;
    if (answer.resultUrl !== undefined) result.resultUrl = answer.resultUrl;
    const traceId = traceIdOf(ctx.trace);
    if (traceId !== undefined) result.traceId = traceId;
    const kind =
      outcome ??
      (answer.status === "refused" ? "refused" : answer.status === "deferred" ? "deferred" : "served");
    this.#o.metrics.outcome(ctx.req.task, kind, tier, totalMs);
    return result;
  }
}

/** What a result answers (a cached answer's fields, or a cloud result's). */
type ResultAnswer = CachedAnswer & Pick<InferResult, "resultUrl">;
/** Where a result came from, apart from who answered. */
type Provenance = Pick<InferResult, "degraded" | "cached" | "attempts">;

/** Provenance of an answer made at the edge now. */
function fromEdge(edge: EdgeOutcome): Provenance {
  return { degraded: false, cached: false, attempts: edge.attempts };
}

type CacheKeyParts = Parameters<ResultCache<CachedAnswer>["set"]>[0];
/** Stands in for the key when the policy turns the cache off (nothing reads it then). */
const NO_CACHE_KEY: CacheKeyParts = { task: "", policyVersion: "", modelVersion: "", input: "" };

function cacheKeyParts(ctx: Ctx): CacheKeyParts {
  return {
    task: ctx.req.task,
    policyVersion: ctx.state.policyVersion,
    modelVersion: ctx.state.modelVersions.get(ctx.req.task) ?? "none",
    input: ctx.req.input,
  };
}

function refusal(err: TiergateError): ResultAnswer {
  return { status: "refused", costUsd: 0, error: { code: err.code, message: err.message } };
}
