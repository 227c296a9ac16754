// The LLM tier: the last and measured resort. Endpoints are tried in the policy's order; on each,
// 429 waits for Retry-After, 5xx / connection errors / timeouts back off with full jitter up to
// `maxRetries`, then the next endpoint is tried. A circuit breaker per endpoint skips endpoints
// that keep failing (one probe after `resetMs`), a semaphore caps requests in flight per endpoint,
// and every answer carries its token usage and its cost from the endpoint's prices.
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { AttemptError, ErrorCode, TiergateError } from "./errors.ts";
import type { AttemptFailure } from "./errors.ts";
import { fullJitterMs, realSleep } from "./backoff.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import { OpenAiCompatibleProvider } from "./openai-provider.ts";
import type { LlmProvider, ProviderCall } from "./provider.ts";
import { Semaphore } from "./semaphore.ts";
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_MAX_QUEUE_PER_ENDPOINT,
  DEFAULT_MAX_RETRY_AFTER_MS,
  MALFORMED_RETRIES,
  NOOP_LOGGER,
} from "./types.ts";
import type {
  BreakerState,
  ChatBody,
  ChatOptions,
  ChatResult,
  ClassifyRequest,
  ClassifyResult,
  Clock,
  LlmEndpointOptions,
  LlmMetricsHooks,
  Logger,
  Sleep,
  Usage,
} from "./types.ts";

export const ATTR_LLM_ENDPOINT = "tiergate.llm.endpoint";
export const ATTR_LLM_ATTEMPTS = "tiergate.llm.attempts";
export const ATTR_LLM_COST_USD = "tiergate.llm.cost_usd";
const TRACER_NAME = "@tiergate/cloud-coordinator/llm";

export type LlmTierOptions = {
  /** In fallback order; at least one. */
  endpoints: readonly LlmEndpointOptions[];
  clock?: Clock;
  sleep?: Sleep;
  /** Uniform [0, 1) for jitter; injectable for tests. */
  random?: () => number;
  logger?: Logger;
  metrics?: LlmMetricsHooks;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this (or past the deadline) makes the tier fall back instead. */
  maxRetryAfterMs?: number;
  maxQueuePerEndpoint?: number;
  /** Builds the adapter for an endpoint; defaults to the OpenAI-compatible one. */
  providerFactory?: (endpoint: LlmEndpointOptions, clock: Clock) => LlmProvider;
};

export type EndpointStatus = { name: string; breaker: BreakerState; inFlight: number; queued: number };

type Slot = {
  options: LlmEndpointOptions;
  provider: LlmProvider;
  breaker: CircuitBreaker;
  semaphore: Semaphore;
};
type Reply = { model: string; usage: Usage };
type Outcome<T> = {
  reply: T;
  endpoint: LlmEndpointOptions;
  attempts: number;
  latencyMs: number;
  costUsd: number;
};

export function costUsd(usage: Usage, pricing: LlmEndpointOptions["pricing"]): number {
  return (
    (usage.promptTokens * pricing.inputPerMTokUsd + usage.completionTokens * pricing.outputPerMTokUsd) /
    1_000_000
  );
}

export class LlmTier {
  readonly #slots: Slot[];
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #metrics: LlmMetricsHooks;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #maxRetryAfterMs: number;
  #closed = false;

  constructor(options: LlmTierOptions) {
    if (options.endpoints.length === 0) {
      throw new TiergateError(ErrorCode.BAD_REQUEST, "the LLM tier needs at least one endpoint");
    }
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    this.#log = options.logger ?? NOOP_LOGGER;
    this.#metrics = options.metrics ?? {};
    this.#backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.#backoffMaxMs = options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    const maxQueue = options.maxQueuePerEndpoint ?? DEFAULT_MAX_QUEUE_PER_ENDPOINT;
    const factory =
      options.providerFactory ?? ((endpoint, clock) => new OpenAiCompatibleProvider({ endpoint, clock }));
    this.#slots = options.endpoints.map((ep) => ({
      options: ep,
      provider: factory(ep, this.#clock),
      semaphore: new Semaphore(ep.maxConcurrency, maxQueue),
      breaker: new CircuitBreaker({
        failureThreshold: ep.circuitBreaker.failureThreshold,
        resetMs: ep.circuitBreaker.resetMs,
        clock: this.#clock,
        onChange: (state) => {
          this.#log.warn("llm circuit breaker changed", { endpoint: ep.name, state });
          this.#hook(() => this.#metrics.breaker?.({ endpoint: ep.name, state }));
        },
      }),
    }));
  }

  /** Classifies `text` into one of `labels` with structured output; see prompt.ts for the template. */
  async classify(req: ClassifyRequest): Promise<ClassifyResult> {
    if (req.labels.length === 0)
      throw new TiergateError(ErrorCode.BAD_REQUEST, "classify needs at least one label");
    const out = await this.#run("classify", req.deadlineAt, req.signal, (p, call) =>
      p.classify({ task: req.task, text: req.text, labels: req.labels }, call),
    );
    return {
      label: out.reply.label,
      endpoint: out.endpoint.name,
      model: out.reply.model,
      usage: out.reply.usage,
      costUsd: out.costUsd,
      attempts: out.attempts,
      latencyMs: out.latencyMs,
    };
  }

  /** OpenAI-compatible chat passthrough; `model` is replaced by the answering endpoint's model. */
  async chat(body: ChatBody, options: ChatOptions = {}): Promise<ChatResult> {
    if ((body as { stream?: unknown }).stream === true) {
      throw new TiergateError(ErrorCode.BAD_REQUEST, "stream: true is not supported by the LLM tier");
    }
    const out = await this.#run("chat", options.deadlineAt, options.signal, (p, call) => p.chat(body, call));
    return {
      completion: out.reply.completion,
      endpoint: out.endpoint.name,
      model: out.reply.model,
      usage: out.reply.usage,
      costUsd: out.costUsd,
      attempts: out.attempts,
      latencyMs: out.latencyMs,
    };
  }

  status(): EndpointStatus[] {
    return this.#slots.map((s) => ({
      name: s.options.name,
      breaker: s.breaker.state,
      inFlight: s.semaphore.active,
      queued: s.semaphore.queued,
    }));
  }

  /** Refuses new calls (SHUTTING_DOWN); calls already running finish on their own deadlines. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  async #run<T extends Reply>(
    kind: "classify" | "chat",
    deadlineAt: number | undefined,
    callerSignal: AbortSignal | undefined,
    send: (provider: LlmProvider, call: ProviderCall) => Promise<T>,
  ): Promise<Outcome<T>> {
    if (this.#closed) throw new TiergateError(ErrorCode.SHUTTING_DOWN, "the LLM tier is closed");
    const span = trace.getTracer(TRACER_NAME).startSpan(`llm ${kind}`);
    const started = this.#clock.now();
    const signal = callerSignal ?? new AbortController().signal;
    let attempts = 0;
    let malformed = 0;
    let lastFailure: AttemptFailure | undefined;
    let skippedOpen = 0;
    let skippedFull = 0;
    const remaining = (): number =>
      deadlineAt === undefined ? Number.POSITIVE_INFINITY : deadlineAt - this.#clock.now();
    try {
      for (const slot of this.#slots) {
        const ep = slot.options;
        for (let retry = 0; retry <= ep.maxRetries;) {
          if (remaining() <= 0) throw this.#deadline(attempts, lastFailure);
          if (!slot.breaker.tryAcquire()) {
            skippedOpen++;
            this.#hook(() => this.#metrics.skipped?.({ endpoint: ep.name, reason: "circuit_open" }));
            break;
          }
          const release = await this.#acquire(slot, signal);
          if (release === undefined) {
            slot.breaker.release();
            skippedFull++;
            this.#hook(() => this.#metrics.skipped?.({ endpoint: ep.name, reason: "queue_full" }));
            break;
          }
          attempts++;
          const t0 = this.#clock.now();
          let failure: AttemptFailure;
          try {
            const reply = await send(slot.provider, {
              signal,
              timeoutMs: Math.min(ep.timeoutMs, remaining()),
            });
            slot.breaker.success();
            const latencyMs = this.#clock.now() - started;
            const cost = costUsd(reply.usage, ep.pricing);
            this.#hook(() =>
              this.#metrics.attempt?.({
                endpoint: ep.name,
                outcome: "ok",
                latencyMs: this.#clock.now() - t0,
              }),
            );
            this.#hook(() =>
              this.#metrics.result?.({
                endpoint: ep.name,
                kind,
                usage: reply.usage,
                costUsd: cost,
                latencyMs,
              }),
            );
            span.setAttributes({
              [ATTR_LLM_ENDPOINT]: ep.name,
              [ATTR_LLM_ATTEMPTS]: attempts,
              [ATTR_LLM_COST_USD]: cost,
            });
            return { reply, endpoint: ep, attempts, latencyMs, costUsd: cost };
          } catch (err) {
            if (!(err instanceof AttemptError)) {
              slot.breaker.release();
              throw this.#callerGaveUp(err, signal, attempts);
            }
            failure = err.failure;
          } finally {
            release();
          }
          lastFailure = failure;
          this.#hook(() =>
            this.#metrics.attempt?.({
              endpoint: ep.name,
              outcome: failure.outcome,
              latencyMs: this.#clock.now() - t0,
            }),
          );
          this.#log.warn("llm attempt failed", {
            endpoint: ep.name,
            outcome: failure.outcome,
            retry,
            msg: failure.error.message,
          });
          if (failure.outcome === "malformed") malformed++;
          const next = await this.#afterFailure(
            slot,
            failure,
            retry,
            malformed,
            remaining(),
            signal,
            attempts,
          );
          if (next === "fallback") break;
          // "again" (a malformed reply's one extra try) does not use up a retry.
          if (next === "retry") retry++;
        }
      }
      throw this.#exhausted(attempts, lastFailure, skippedOpen, skippedFull);
    } catch (err) {
      const e =
        err instanceof TiergateError
          ? err
          : new TiergateError(ErrorCode.INTERNAL, String(err), { cause: err });
      span.recordException(e);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      throw e;
    } finally {
      span.end();
    }
  }

  /** Decides what follows a failed attempt, sleeping when it retries on the same endpoint. */
  async #afterFailure(
    slot: Slot,
    failure: AttemptFailure,
    retry: number,
    malformedSoFar: number,
    remainingMs: number,
    signal: AbortSignal,
    attempts: number,
  ): Promise<"retry" | "again" | "fallback"> {
    const ep = slot.options;
    switch (failure.outcome) {
      case "malformed":
        slot.breaker.release();
        if (malformedSoFar > MALFORMED_RETRIES) {
          throw new TiergateError(
            ErrorCode.LLM_MALFORMED,
            `malformed LLM answer after ${malformedSoFar} tries (${attempts} attempts): ${failure.error.message}`,
            { cause: failure.error },
          );
        }
        return "again";
      case "rate_limited": {
        slot.breaker.release();
        if (retry >= ep.maxRetries) return "fallback";
        const waitMs =
          failure.retryAfterMs ?? fullJitterMs(retry, this.#backoffBaseMs, this.#backoffMaxMs, this.#random);
        if (waitMs > this.#maxRetryAfterMs || waitMs >= remainingMs) return "fallback";
        await this.#wait(waitMs, signal, attempts);
        return "retry";
      }
      case "rejected":
        slot.breaker.release();
        if (failure.status === 400 || failure.status === 422) {
          throw new TiergateError(ErrorCode.BAD_REQUEST, failure.error.message, { cause: failure.error });
        }
        return "fallback";
      case "server_error":
      case "connection":
      case "timeout": {
        slot.breaker.failure();
        if (retry >= ep.maxRetries || slot.breaker.state.type === "open") return "fallback";
        const jitter = fullJitterMs(retry, this.#backoffBaseMs, this.#backoffMaxMs, this.#random);
        const waitMs = Math.max(jitter, failure.retryAfterMs ?? 0);
        if (waitMs >= remainingMs) return "fallback";
        await this.#wait(waitMs, signal, attempts);
        return "retry";
      }
    }
  }

  async #acquire(slot: Slot, signal: AbortSignal): Promise<(() => void) | undefined> {
    try {
      return await slot.semaphore.acquire(signal);
    } catch (err) {
      slot.breaker.release();
      throw this.#callerGaveUp(err, signal, 0);
    }
  }

  async #wait(ms: number, signal: AbortSignal, attempts: number): Promise<void> {
    try {
      await this.#sleep(ms, signal);
    } catch (err) {
      throw this.#callerGaveUp(err, signal, attempts);
    }
  }

  #callerGaveUp(err: unknown, signal: AbortSignal, attempts: number): TiergateError {
    if (err instanceof TiergateError) return err;
    const reason: unknown = signal.aborted ? signal.reason : err;
    if (reason instanceof TiergateError) return reason;
    return new TiergateError(
      ErrorCode.DEADLINE_EXCEEDED,
      `LLM call abandoned by its caller after ${attempts} attempts`,
      {
        cause: reason,
      },
    );
  }

  #deadline(attempts: number, last: AttemptFailure | undefined): TiergateError {
    const why = last ? `; last: ${last.error.message}` : "";
    return new TiergateError(
      ErrorCode.DEADLINE_EXCEEDED,
      `deadline passed after ${attempts} LLM attempts${why}`,
      {
        cause: last?.error,
      },
    );
  }

  #exhausted(attempts: number, last: AttemptFailure | undefined, open: number, full: number): TiergateError {
    const n = this.#slots.length;
    if (last !== undefined) {
      const options: { cause: unknown; retryAfterMs?: number } = { cause: last.error };
      if (last.retryAfterMs !== undefined) options.retryAfterMs = last.retryAfterMs;
      return new TiergateError(
        last.error.code,
        `all ${n} LLM endpoint(s) failed after ${attempts} attempts; last: ${last.error.message}`,
        options,
      );
    }
    if (open > 0 && full === 0)
      return new TiergateError(ErrorCode.CIRCUIT_OPEN, `all ${n} LLM endpoint(s) have open circuits`);
    return new TiergateError(
      ErrorCode.UNAVAILABLE,
      `all ${n} LLM endpoint(s) are busy or open (${full} full, ${open} open)`,
    );
  }

  #hook(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.warn("llm metrics hook threw", { err: String(err) });
    }
  }
}
