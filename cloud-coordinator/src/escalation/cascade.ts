// The cloud cascade: Redis result cache → cloud model tiers (each with its acceptance rule; reject
// labels such as `oos` are never accepted) → LLM tiers (last resort, their answer is final). Pure of
// transport: the NATS escalation service and the HTTP API call `run`, the batch worker `runMany`.
// Both go through one path: a group of requests of one task takes each step together — one cache
// MGET, one model call per tier (the model's MicroBatcher makes it one `session.run`), the LLM for
// the requests still unanswered (bounded concurrency), one pipelined cache write — and every request
// gets the answer, tiers, confidences and costs it would get on its own.
import { performance } from "node:perf_hooks";
import type { Tracer } from "@opentelemetry/api";
import type { InferResultSchema } from "@tiergate/shared";
import {
  ATTR_BATCH_SIZE,
  ATTR_CACHED,
  ATTR_COST_USD,
  ATTR_STATUS,
  ATTR_TASK,
  ErrorCode,
  TiergateError,
  cloudTiers,
  getTask,
  isLlmTier,
  withSpan,
  type InferResult,
  type LlmTier,
  type LoadedPolicy,
  type ModelTier,
  type Task,
} from "@tiergate/shared";
import type { ResultCache } from "../cache/result-cache.ts";
import type { CascadeMetrics } from "../metrics/metrics.ts";
import {
  answerOf,
  cachedAttempt,
  finishResult,
  llmTierOutcome,
  modelTierOutcomes,
  type CascadeItem,
  type CascadeRequest,
  type TierCall,
} from "./tier-outcome.ts";
import { systemClock, type Clock, type CloudModel, type LlmClassifier, type ModelSource } from "./types.ts";

export type { CascadeRequest } from "./tier-outcome.ts";

/** LLM calls one `runMany` keeps in flight (each endpoint's own limit applies as well). */
export const DEFAULT_CASCADE_LLM_CONCURRENCY = 8;

export type CascadeOptions = {
  /** The policy in force (read per request, so a reload applies to the next one). */
  policy: () => LoadedPolicy;
  models: ModelSource;
  /** The LLM tier for a policy LLM tier (one per endpoint list). */
  llmFor: (tier: LlmTier) => LlmClassifier;
  cache?: ResultCache<typeof InferResultSchema> | undefined;
  clock?: Clock;
  tracer: Tracer;
  metrics?: CascadeMetrics | undefined;
  /** LLM calls in flight per `runMany` call. */
  llmConcurrency?: number;
};

/** One request's outcome in `runMany`: its answer, or what `run` would have thrown. */
export type CascadeOutcome = { type: "answered"; result: InferResult } | { type: "failed"; error: unknown };
/** Told each request's outcome (by its index in `runMany`'s requests) as soon as it is final. */
export type OnOutcome = (index: number, outcome: CascadeOutcome) => void;

export class Cascade {
  readonly #o: CascadeOptions;
  readonly #clock: Clock;

  constructor(options: CascadeOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Answers `req` or throws a TiergateError (UNKNOWN_TASK, INPUT_TOO_LARGE, DEADLINE_EXCEEDED, LLM_*, ...). */
  async run(req: CascadeRequest): Promise<InferResult> {
    const loaded = this.#o.policy();
    const task = checked(req, loaded);
    return await withSpan(
      this.#o.tracer,
      "tiergate.cloud.cascade",
      async (span) => {
        const [outcome] = await this.#runTask([req], task, loaded, false);
        if (outcome === undefined || outcome.type === "failed") throw outcome?.error;
        const result = outcome.result;
        span.setAttributes({
          [ATTR_STATUS]: result.status,
          [ATTR_CACHED]: result.cached,
          [ATTR_COST_USD]: result.costUsd,
        });
        return result;
      },
      { attributes: { [ATTR_TASK]: req.task } },
    );
  }

  /**
   * Answers many requests at once (a batch's items): outcomes in request order, each what `run`
   * would give or throw for it alone. A text repeated among `reqs` is looked up in the cache after
   * its first occurrence is answered, as it would be one request after the other.
   * `onOutcome` hears of each outcome once it is final: an answer of a model tier before later tiers
   * (the LLM) run for the requests the model was unsure of, so a caller that runs several jobs'
   * items together can finish the jobs that need no LLM without waiting for it.
   */
  async runMany(reqs: readonly CascadeRequest[], onOutcome?: OnOutcome): Promise<CascadeOutcome[]> {
    const loaded = this.#o.policy();
    const outcomes = new Array<CascadeOutcome>(reqs.length);
    const byTask = new Map<string, { task: Task; indexes: number[] }>();
    reqs.forEach((req, i) => {
      try {
        const task = checked(req, loaded);
        let group = byTask.get(req.task);
        if (group === undefined) byTask.set(req.task, (group = { task, indexes: [] }));
        group.indexes.push(i);
      } catch (error) {
        outcomes[i] = { type: "failed", error };
        onOutcome?.(i, outcomes[i]);
      }
    });
    await withSpan(
      this.#o.tracer,
      "tiergate.cloud.cascade",
      async () => {
        for (const { task, indexes } of byTask.values()) {
          const out = await this.#runTask(
            indexes.map((i) => reqs[i] as CascadeRequest),
            task,
            loaded,
            true,
            onOutcome === undefined ? undefined : (k, outcome) => onOutcome(indexes[k] ?? -1, outcome),
          );
          indexes.forEach((i, k) => (outcomes[i] = out[k] as CascadeOutcome));
        }
      },
      { attributes: { [ATTR_BATCH_SIZE]: reqs.length } },
    );
    return outcomes;
  }

  /** Runs requests of one task through its cloud tiers; never throws. */
  async #runTask(
    reqs: readonly CascadeRequest[],
    task: Task,
    loaded: LoadedPolicy,
    together: boolean,
    onOutcome?: OnOutcome,
  ): Promise<CascadeOutcome[]> {
    const started = performance.now();
    const outcomes = new Array<CascadeOutcome>(reqs.length);
    const settle = (index: number, outcome: CascadeOutcome): void => {
      outcomes[index] = outcome;
      onOutcome?.(index, outcome);
    };
    const fail = (error: unknown): CascadeOutcome[] => {
      reqs.forEach((_req, i) => settle(i, { type: "failed", error }));
      return outcomes;
    };
    const taskName = reqs[0]?.task ?? "";
    const tiers = cloudTiers(task);
    if (tiers.length === 0)
      return fail(
        new TiergateError(ErrorCode.REFUSED_BY_POLICY, `task "${taskName}" declares no cloud tiers`),
      );
    let models: Map<string, CloudModel>;
    try {
      models = await this.#modelsOf(tiers);
    } catch (error) {
      return fail(error);
    }
    const cache = loaded.policy.cache.enabled ? this.#o.cache : undefined;
    // Part of the cache key only: not built without a cache.
    const modelVersion =
      cache === undefined
        ? ""
        : tiers
            .map((t) => (isLlmTier(t) ? `llm:${t.llm.endpoints.join("+")}` : models.get(t.name)?.version))
            .join(",");
    const items: CascadeItem[] = reqs.map((req, index) => ({
      index,
      req,
      steps: [],
      attempts: [],
      cacheKey:
        cache?.key({ task: req.task, policyVersion: loaded.versionTag, modelVersion, text: req.input }) ?? "",
    }));
    const ctx: RunContext = { task, tiers, models, loaded, cache, started, settle, together };
    let wave = items;
    while (wave.length > 0) {
      const later: CascadeItem[] = [];
      const now: CascadeItem[] = [];
      const seen = new Set<string>();
      for (const item of wave) {
        if (cache !== undefined && seen.has(item.cacheKey)) later.push(item);
        else {
          seen.add(item.cacheKey);
          now.push(item);
        }
      }
      await this.#wave(now, ctx);
      wave = later;
    }
    return outcomes;
  }

  /**
   * Cache lookup, then tiers in order, for requests with distinct texts. A tier's answers are
   * written to the cache and settled before the next tier runs for the requests still unanswered.
   */
  async #wave(items: CascadeItem[], ctx: RunContext): Promise<void> {
    const { task, tiers, models, loaded, cache, started, settle, together } = ctx;
    const failed = (item: CascadeItem, error: unknown): void => settle(item.index, { type: "failed", error });
    let live = items;
    if (cache !== undefined) {
      const t0 = performance.now();
      let lookups;
      try {
        lookups = await cache.getMany(items.map((i) => i.cacheKey));
      } catch (error) {
        for (const item of items) failed(item, error);
        return;
      }
      const seconds = (performance.now() - t0) / 1000;
      live = [];
      const gated: { item: CascadeItem; gate: () => Promise<unknown>; result: InferResult }[] = [];
      items.forEach((item, i) => {
        const hit = lookups[i] ?? { type: "miss" };
        item.steps.push({ step: "cache", durationMs: seconds * 1000 });
        if (hit.type === "miss") {
          live.push(item);
          return;
        }
        const base: InferResult = { ...hit.value, id: item.req.id, cached: true, costUsd: 0 };
        const attempt = cachedAttempt(performance.now() - t0);
        const result = finishResult(item.req, base, [attempt], item.steps, started);
        if (item.req.gate === undefined) settle(item.index, { type: "answered", result });
        else gated.push({ item, gate: item.req.gate, result });
      });
      // One observation per outcome (the requests are of one task; each waited the lookup).
      const taskName = items[0]?.req.task ?? "";
      const misses = live.length;
      const hits = items.length - misses;
      if (hits > 0)
        this.#o.metrics?.tier({
          task: taskName,
          tier: "cache",
          kind: "cache",
          outcome: "hit",
          seconds,
          count: hits,
        });
      if (misses > 0)
        this.#o.metrics?.tier({
          task: taskName,
          tier: "cache",
          kind: "cache",
          outcome: "miss",
          seconds,
          count: misses,
        });
      // A cached answer passes the request's gate too: a repeat of an id whose first run the LLM
      // answered (and cached) gets that run's stored reply, with what the LLM cost, not a free copy.
      await Promise.all(
        gated.map(async ({ item, gate, result }) => {
          try {
            await gate();
            settle(item.index, { type: "answered", result });
          } catch (error) {
            failed(item, error);
          }
        }),
      );
    }
    for (const tier of tiers) {
      const ready: CascadeItem[] = [];
      const waiting = live;
      live = [];
      for (const item of waiting) {
        if (this.#clock.now() >= item.req.deadlineAt)
          failed(
            item,
            new TiergateError(ErrorCode.DEADLINE_EXCEEDED, `deadline passed before tier "${tier.name}"`),
          );
        else ready.push(item);
      }
      if (ready.length === 0) break;
      const calls = isLlmTier(tier)
        ? await this.#llmMany(ready, tier, labelSet(models))
        : await modelTierOutcomes(ready, task, tier, models.get(tier.name), loaded, {
            tracer: this.#o.tracer,
            metrics: this.#o.metrics,
            together,
          });
      const answered: Answered[] = [];
      ready.forEach((item, i) => {
        const call = calls[i] as TierCall;
        if (call.type === "error") return failed(item, call.error);
        item.steps.push({ step: `tier:${tier.name}`, durationMs: call.durationMs });
        item.attempts.push(call.outcome.attempt);
        if (call.outcome.accepted && call.outcome.label !== undefined)
          answered.push({ item, result: answerOf(item.req, task, call.outcome, item.attempts, loaded) });
        else live.push(item);
      });
      if (answered.length > 0) await this.#answer(answered, ctx);
    }
    for (const item of live)
      failed(
        item,
        new TiergateError(
          ErrorCode.REFUSED_BY_POLICY,
          `no cloud tier of task "${item.req.task}" accepted an answer`,
        ),
      );
  }

  /** A tier's answers: written to the cache (one pipelined write), then settled. */
  async #answer(answered: readonly Answered[], ctx: RunContext): Promise<void> {
    const { cache, loaded, started, settle } = ctx;
    if (cache !== undefined) {
      try {
        await cache.setMany(
          answered.map((a) => ({ key: a.item.cacheKey, value: a.result })),
          loaded.policy.cache.ttlMs,
        );
      } catch (error) {
        for (const a of answered) settle(a.item.index, { type: "failed", error });
        return;
      }
    }
    for (const { item, result } of answered)
      settle(item.index, {
        type: "answered",
        result: finishResult(item.req, result, item.attempts, item.steps, started),
      });
  }

  /** The LLM tier for each request, at most `llmConcurrency` at a time. */
  async #llmMany(
    items: readonly CascadeItem[],
    tier: LlmTier,
    labels: readonly string[],
  ): Promise<TierCall[]> {
    const out = new Array<TierCall>(items.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < items.length; i = next++) {
        const item = items[i] as CascadeItem;
        try {
          await item.req.gate?.();
          const t0 = performance.now();
          const outcome = await llmTierOutcome(item.req, tier, labels, {
            llm: this.#o.llmFor(tier),
            tracer: this.#o.tracer,
            metrics: this.#o.metrics,
          });
          out[i] = { type: "ok", outcome, durationMs: performance.now() - t0 };
        } catch (error) {
          out[i] = { type: "error", error };
        }
      }
    };
    const lanes = Math.max(
      1,
      Math.min(items.length, this.#o.llmConcurrency ?? DEFAULT_CASCADE_LLM_CONCURRENCY),
    );
    await Promise.all(Array.from({ length: lanes }, lane));
    return out;
  }

  async #modelsOf(tiers: readonly (ModelTier | LlmTier)[]): Promise<Map<string, CloudModel>> {
    const out = new Map<string, CloudModel>();
    for (const t of tiers) {
      if (!isLlmTier(t) && t.model !== undefined) out.set(t.name, await this.#o.models.get(t.model));
    }
    return out;
  }
}

/** A request a tier accepted, with its answer before timings are added. */
type Answered = { item: CascadeItem; result: InferResult };

type RunContext = {
  task: Task;
  tiers: readonly (ModelTier | LlmTier)[];
  models: Map<string, CloudModel>;
  loaded: LoadedPolicy;
  cache: ResultCache<typeof InferResultSchema> | undefined;
  started: number;
  /** Records a request's final outcome (and tells `runMany`'s caller). */
  settle: (index: number, outcome: CascadeOutcome) => void;
  /** Model tiers take the requests as one call of their own (`runMany`), not via the micro-batcher. */
  together: boolean;
};

/** The request's task, or the error `run` throws before any tier (unknown task, input too large). */
function checked(req: CascadeRequest, loaded: LoadedPolicy): Task {
  const task = getTask(loaded.policy, req.task);
  if (task === undefined)
    throw new TiergateError(ErrorCode.UNKNOWN_TASK, `task "${req.task}" is not in the policy`);
  const bytes = Buffer.byteLength(req.input, "utf8");
  if (bytes > task.maxInputBytes)
    throw new TiergateError(
      ErrorCode.INPUT_TOO_LARGE,
      `input is ${bytes} bytes, over task "${req.task}"'s maxInputBytes of ${task.maxInputBytes}`,
    );
  return task;
}

/** The labels the LLM chooses from: the first cloud model's label set (all models of a task share it). */
function labelSet(models: Map<string, CloudModel>): readonly string[] {
  for (const m of models.values()) return m.manifest.labels;
  return [];
}
