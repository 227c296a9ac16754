// The cloud cascade: Redis result cache → cloud model tiers (each with its acceptance rule; reject
// labels such as `oos` are never accepted) → LLM tiers (last resort, their answer is final). Pure of
// transport: the NATS escalation service, the HTTP API and the batch worker all call `run`.
import { performance } from "node:perf_hooks";
import type { Tracer } from "@opentelemetry/api";
import type { InferResultSchema } from "@tiergate/shared";
import {
  ATTR_ACCEPTED,
  ATTR_CACHED,
  ATTR_CONFIDENCE,
  ATTR_COST_USD,
  ATTR_LLM_ENDPOINT,
  ATTR_MODEL_VERSION,
  ATTR_STATUS,
  ATTR_TASK,
  ATTR_TIER,
  ErrorCode,
  TiergateError,
  actionFor,
  cloudTiers,
  confidenceOf,
  getTask,
  isLlmTier,
  isRejectLabel,
  renderTemplate,
  thresholdFor,
  tierCostUsd,
  toTiergateError,
  traceIdOf,
  withSpan,
  type InferResult,
  type LlmTier,
  type LoadedPolicy,
  type ModelTier,
  type ServedBy,
  type StepTiming,
  type Task,
  type TierAttempt,
} from "@tiergate/shared";
import type { ResultCache } from "../cache/result-cache.ts";
import type { CascadeMetrics } from "../metrics/metrics.ts";
import { systemClock, type Clock, type CloudModel, type LlmClassifier, type ModelSource } from "./types.ts";

export type CascadeRequest = {
  id: string;
  task: string;
  input: string;
  /** Epoch ms after which no tier starts. */
  deadlineAt: number;
  /** Edge tiers tried before escalating (kept in the answer's attempts). */
  edgeAttempts?: readonly TierAttempt[];
  /** The trace the request belongs to (from the edge's traceparent); default: the active span's. */
  traceId?: string | undefined;
};

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
};

type TierOutcome = { attempt: TierAttempt; servedBy: ServedBy; accepted: boolean; label?: string };

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
    const task = getTask(loaded.policy, req.task);
    if (task === undefined)
      throw new TiergateError(ErrorCode.UNKNOWN_TASK, `task "${req.task}" is not in the policy`);
    const bytes = Buffer.byteLength(req.input, "utf8");
    if (bytes > task.maxInputBytes)
      throw new TiergateError(
        ErrorCode.INPUT_TOO_LARGE,
        `input is ${bytes} bytes, over task "${req.task}"'s maxInputBytes of ${task.maxInputBytes}`,
      );
    return await withSpan(
      this.#o.tracer,
      "tiergate.cloud.cascade",
      async (span) => {
        const result = await this.#run(req, task, loaded);
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

  async #run(req: CascadeRequest, task: Task, loaded: LoadedPolicy): Promise<InferResult> {
    const started = performance.now();
    const steps: StepTiming[] = [];
    const tiers = cloudTiers(task);
    if (tiers.length === 0)
      throw new TiergateError(ErrorCode.REFUSED_BY_POLICY, `task "${req.task}" declares no cloud tiers`);
    const models = await this.#modelsOf(tiers);
    const cacheParts = {
      task: req.task,
      policyVersion: loaded.versionTag,
      modelVersion: tiers
        .map((t) => (isLlmTier(t) ? `llm:${t.llm.endpoints.join("+")}` : models.get(t.name)?.version))
        .join(","),
      text: req.input,
    };
    const cache = loaded.policy.cache.enabled ? this.#o.cache : undefined;
    if (cache !== undefined) {
      const t0 = performance.now();
      const hit = await cache.get(cacheParts);
      steps.push({ step: "cache", durationMs: performance.now() - t0 });
      this.#o.metrics?.tier({
        task: req.task,
        tier: "cache",
        kind: "cache",
        outcome: hit.type,
        seconds: (performance.now() - t0) / 1000,
      });
      if (hit.type === "hit") {
        const cachedAttempt: TierAttempt = {
          tier: "cache",
          where: "cloud",
          kind: "cache",
          accepted: true,
          durationMs: performance.now() - t0,
        };
        return this.#finish(
          req,
          { ...hit.value, id: req.id, cached: true, costUsd: 0 },
          [cachedAttempt],
          steps,
          started,
        );
      }
    }
    const attempts: TierAttempt[] = [];
    const labels = labelSet(models);
    for (const tier of tiers) {
      if (this.#clock.now() >= req.deadlineAt)
        throw new TiergateError(ErrorCode.DEADLINE_EXCEEDED, `deadline passed before tier "${tier.name}"`);
      const t0 = performance.now();
      const outcome = isLlmTier(tier)
        ? await this.#llm(req, tier, labels)
        : await this.#model(req, task, tier, models.get(tier.name), loaded);
      steps.push({ step: `tier:${tier.name}`, durationMs: performance.now() - t0 });
      attempts.push(outcome.attempt);
      if (outcome.accepted && outcome.label !== undefined) {
        const result = this.#answer(req, task, outcome, attempts, loaded);
        if (cache !== undefined) {
          await cache.set(cacheParts, result, loaded.policy.cache.ttlMs);
        }
        return this.#finish(req, result, attempts, steps, started);
      }
    }
    throw new TiergateError(
      ErrorCode.REFUSED_BY_POLICY,
      `no cloud tier of task "${req.task}" accepted an answer`,
    );
  }

  #finish(
    req: CascadeRequest,
    base: InferResult,
    attempts: TierAttempt[],
    steps: StepTiming[],
    started: number,
  ): InferResult {
    const traceId = req.traceId ?? traceIdOf();
    const result: InferResult = {
      ...base,
      id: req.id,
      attempts: [...(req.edgeAttempts ?? []), ...attempts],
      timings: { totalMs: performance.now() - started, steps },
    };
    if (traceId !== undefined) result.traceId = traceId;
    else delete result.traceId;
    return result;
  }

  #answer(
    req: CascadeRequest,
    task: Task,
    outcome: TierOutcome,
    attempts: TierAttempt[],
    loaded: LoadedPolicy,
  ): InferResult {
    const label = outcome.label ?? "";
    const confidence = outcome.attempt.confidence;
    const result: InferResult = {
      id: req.id,
      task: req.task,
      status: "answered",
      label,
      servedBy: outcome.servedBy,
      degraded: false,
      cached: false,
      attempts,
      costUsd: attempts.reduce((sum, a) => sum + (a.costUsd ?? 0), 0),
      timings: { totalMs: 0, steps: [] },
      policyVersion: loaded.policy.version,
    };
    if (confidence !== undefined) result.confidence = confidence;
    const action = actionFor(task, label);
    if (action?.type === "template") {
      result.answer = renderTemplate(action.template, {
        label,
        task: req.task,
        tier: outcome.servedBy.tier,
        confidence: confidence ?? 1,
      });
    } else if (action?.type === "refuse") {
      result.status = "refused";
      result.error = { code: ErrorCode.REFUSED_BY_POLICY, message: action.reason };
    }
    return result;
  }

  async #model(
    req: CascadeRequest,
    task: Task,
    tier: ModelTier,
    model: CloudModel | undefined,
    loaded: LoadedPolicy,
  ): Promise<TierOutcome> {
    if (model === undefined)
      throw new TiergateError(ErrorCode.MODEL_NOT_FOUND, `model of tier "${tier.name}" is not loaded`);
    const t0 = performance.now();
    return await withSpan(this.#o.tracer, "tiergate.cloud.tier", async (span) => {
      const c = await model.classify(req.input);
      const rule = tier.accept.rule;
      const threshold =
        tier.accept.threshold ?? thresholdFor(model.manifest, rule, tier.accept.targetPrecision ?? 1);
      const confidence = confidenceOf(c, rule);
      const accepted =
        !c.outOfScope && !isRejectLabel(task, c.label) && threshold !== undefined && confidence >= threshold;
      const costUsd = tierCostUsd(loaded.policy, tier.name);
      const durationMs = performance.now() - t0;
      const attempt: TierAttempt = {
        tier: tier.name,
        where: "cloud",
        kind: "model",
        model: model.manifest.preset,
        modelVersion: model.version,
        label: c.label,
        confidence,
        accepted,
        durationMs,
        costUsd,
      };
      if (threshold !== undefined) attempt.threshold = threshold;
      span.setAttributes({
        [ATTR_TIER]: tier.name,
        [ATTR_CONFIDENCE]: confidence,
        [ATTR_ACCEPTED]: accepted,
        [ATTR_MODEL_VERSION]: model.version,
      });
      this.#o.metrics?.tier({
        task: req.task,
        tier: tier.name,
        kind: "model",
        outcome: accepted ? "accepted" : "rejected",
        seconds: durationMs / 1000,
        costUsd,
      });
      return {
        attempt,
        accepted,
        label: c.label,
        servedBy: {
          tier: tier.name,
          where: "cloud",
          kind: "model",
          model: model.manifest.preset,
          version: model.version,
        },
      };
    });
  }

  async #llm(req: CascadeRequest, tier: LlmTier, labels: readonly string[]): Promise<TierOutcome> {
    if (labels.length === 0)
      throw new TiergateError(
        ErrorCode.INTERNAL,
        `task "${req.task}" has no cloud model whose labels the LLM could choose from`,
      );
    const t0 = performance.now();
    return await withSpan(this.#o.tracer, "tiergate.cloud.llm", async (span) => {
      try {
        const r = await this.#o
          .llmFor(tier)
          .classify({ task: req.task, text: req.input, labels, deadlineAt: req.deadlineAt });
        const durationMs = performance.now() - t0;
        span.setAttributes({
          [ATTR_TIER]: tier.name,
          [ATTR_LLM_ENDPOINT]: r.endpoint,
          [ATTR_COST_USD]: r.costUsd,
        });
        this.#o.metrics?.tier({
          task: req.task,
          tier: tier.name,
          kind: "llm",
          outcome: "accepted",
          seconds: durationMs / 1000,
          costUsd: r.costUsd,
        });
        return {
          accepted: true,
          label: r.label,
          attempt: {
            tier: tier.name,
            where: "cloud",
            kind: "llm",
            model: r.model,
            modelVersion: r.endpoint,
            label: r.label,
            accepted: true,
            durationMs,
            costUsd: r.costUsd,
            usage: r.usage,
          },
          servedBy: { tier: tier.name, where: "cloud", kind: "llm", model: r.model, version: r.endpoint },
        };
      } catch (err) {
        const e = toTiergateError(err, ErrorCode.LLM_ERROR);
        this.#o.metrics?.tier({
          task: req.task,
          tier: tier.name,
          kind: "llm",
          outcome: "error",
          seconds: (performance.now() - t0) / 1000,
        });
        throw e;
      }
    });
  }

  async #modelsOf(tiers: readonly (ModelTier | LlmTier)[]): Promise<Map<string, CloudModel>> {
    const out = new Map<string, CloudModel>();
    for (const t of tiers) {
      if (!isLlmTier(t) && t.model !== undefined) out.set(t.name, await this.#o.models.get(t.model));
    }
    return out;
  }
}

/** The labels the LLM chooses from: the first cloud model's label set (all models of a task share it). */
function labelSet(models: Map<string, CloudModel>): readonly string[] {
  for (const m of models.values()) return m.manifest.labels;
  return [];
}
