// What one cloud tier makes of a request, and how an answer is put together: shared by the cascade's
// single and batched runs, so both give the same tiers, confidences, costs and answers.
import { performance } from "node:perf_hooks";
import type { Tracer } from "@opentelemetry/api";
import {
  ATTR_ACCEPTED,
  ATTR_BATCH_SIZE,
  ATTR_CONFIDENCE,
  ATTR_COST_USD,
  ATTR_LLM_ENDPOINT,
  ATTR_MODEL_VERSION,
  ATTR_TIER,
  ErrorCode,
  TiergateError,
  actionFor,
  confidenceOf,
  isRejectLabel,
  renderTemplate,
  thresholdFor,
  tierCostUsd,
  toTiergateError,
  traceIdOf,
  withSpan,
  type Classification,
  type InferResult,
  type LlmTier,
  type LoadedPolicy,
  type ModelTier,
  type ServedBy,
  type StepTiming,
  type Task,
  type TierAttempt,
} from "@tiergate/shared";
import type { CascadeMetrics } from "../metrics/metrics.ts";
import type { CloudModel, LlmClassifier } from "./types.ts";

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
  /**
   * Called and awaited before the request's LLM call or its answer from the cache, and only then
   * (the escalation's request-id claim: a request a model answers never waits for it); if it
   * rejects, the request fails with its error and the LLM is not called.
   */
  gate?: () => Promise<unknown>;
};

/** A request on its way through the tiers. */
export type CascadeItem = {
  /** Position among the requests of its run. */
  index: number;
  req: CascadeRequest;
  steps: StepTiming[];
  attempts: TierAttempt[];
  /** Result-cache key ("" without a cache). */
  cacheKey: string;
};

export type TierOutcome = { attempt: TierAttempt; servedBy: ServedBy; accepted: boolean; label?: string };

/** One request's call of one tier: its outcome and how long the request waited for it, or the error. */
export type TierCall =
  { type: "ok"; outcome: TierOutcome; durationMs: number } | { type: "error"; error: unknown };

type Telemetry = { tracer: Tracer; metrics?: CascadeMetrics | undefined };
/** How a model tier is called for many requests: through the model's micro-batcher, or as one call. */
type ModelCall = Telemetry & { together?: boolean };

export function cachedAttempt(durationMs: number): TierAttempt {
  return { tier: "cache", where: "cloud", kind: "cache", accepted: true, durationMs };
}

/** The answer as sent: edge attempts first, the request's id, timings and trace. */
export function finishResult(
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

/** The answer of an accepting tier (what the result cache stores), with the task's action applied. */
export function answerOf(
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

/**
 * A model tier for many requests at once: each text goes to the model in the same tick, so its
 * MicroBatcher classifies them in one `session.run` (with whatever else arrives meanwhile), or with
 * `together` as one call of their own (a batch chunk: concurrent jobs then do not wait for each
 * other's texts and finish in lock-step); every request waited the whole call.
 */
export async function modelTierOutcomes(
  items: readonly CascadeItem[],
  task: Task,
  tier: ModelTier,
  model: CloudModel | undefined,
  loaded: LoadedPolicy,
  t: ModelCall,
): Promise<TierCall[]> {
  if (model === undefined) {
    const error = new TiergateError(ErrorCode.MODEL_NOT_FOUND, `model of tier "${tier.name}" is not loaded`);
    return items.map(() => ({ type: "error", error }));
  }
  const t0 = performance.now();
  return await withSpan(t.tracer, "tiergate.cloud.tier", async (span) => {
    const texts = items.map((i) => i.req.input);
    const settled =
      t.together === true && model.classifyMany !== undefined
        ? await classifyTogether(model, model.classifyMany.bind(model), texts)
        : await Promise.allSettled(texts.map((text) => model.classify(text)));
    const durationMs = performance.now() - t0;
    const rule = tier.accept.rule;
    const threshold =
      tier.accept.threshold ?? thresholdFor(model.manifest, rule, tier.accept.targetPrecision ?? 1);
    const costUsd = tierCostUsd(loaded.policy, tier.name);
    const servedBy: ServedBy = {
      tier: tier.name,
      where: "cloud",
      kind: "model",
      model: model.manifest.preset,
      version: model.version,
    };
    span.setAttributes({
      [ATTR_TIER]: tier.name,
      [ATTR_MODEL_VERSION]: model.version,
      [ATTR_BATCH_SIZE]: items.length,
    });
    let acceptedCount = 0;
    let rejectedCount = 0;
    const calls = settled.map((s): TierCall => {
      if (s.status === "rejected") return { type: "error", error: s.reason };
      const c = s.value;
      const confidence = confidenceOf(c, rule);
      const accepted =
        !c.outOfScope && !isRejectLabel(task, c.label) && threshold !== undefined && confidence >= threshold;
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
      if (items.length === 1)
        span.setAttributes({ [ATTR_CONFIDENCE]: confidence, [ATTR_ACCEPTED]: accepted });
      if (accepted) acceptedCount++;
      else rejectedCount++;
      return {
        type: "ok",
        durationMs,
        outcome: { attempt, accepted, label: c.label, servedBy: { ...servedBy } },
      };
    });
    // The requests are of one task (the cascade groups them so); one observation per outcome.
    const taskName = items[0]?.req.task ?? "";
    const seconds = durationMs / 1000;
    for (const [outcome, count] of [
      ["accepted", acceptedCount],
      ["rejected", rejectedCount],
    ] as const)
      if (count > 0)
        t.metrics?.tier({ task: taskName, tier: tier.name, kind: "model", outcome, seconds, costUsd, count });
    return calls;
  });
}

/** `texts` in one call; a blank text fails on its own, as `classify` fails it, not the call. */
async function classifyTogether(
  model: CloudModel,
  many: (texts: readonly string[]) => Promise<Classification[]>,
  texts: readonly string[],
): Promise<PromiseSettledResult<Classification>[]> {
  const good: number[] = [];
  const bad: number[] = [];
  texts.forEach((text, i) => (text.trim() === "" ? bad : good).push(i));
  const [together, ...alone] = await Promise.allSettled([
    good.length === 0 ? Promise.resolve([]) : many(good.map((i) => texts[i] ?? "")),
    ...bad.map(async (i) => [await model.classify(texts[i] ?? "")]),
  ]);
  const out = new Array<PromiseSettledResult<Classification>>(texts.length);
  const settle = (indexes: number[], r: PromiseSettledResult<Classification[]> | undefined): void =>
    indexes.forEach((i, k) => {
      const value = r?.status === "fulfilled" ? r.value[k] : undefined;
      out[i] =
        value !== undefined
          ? { status: "fulfilled", value }
          : {
              status: "rejected",
              reason: (r?.status === "rejected"
                ? r.reason
                : new TiergateError(ErrorCode.INTERNAL, "model returned too few results")) as unknown,
            };
    });
  settle(good, together);
  bad.forEach((i, k) => settle([i], alone[k]));
  return out;
}

/** The LLM tier for one request: its answer is final (accepted), or a typed error. */
export async function llmTierOutcome(
  req: CascadeRequest,
  tier: LlmTier,
  labels: readonly string[],
  t: Telemetry & { llm: LlmClassifier },
): Promise<TierOutcome> {
  if (labels.length === 0)
    throw new TiergateError(
      ErrorCode.INTERNAL,
      `task "${req.task}" has no cloud model whose labels the LLM could choose from`,
    );
  const t0 = performance.now();
  return await withSpan(t.tracer, "tiergate.cloud.llm", async (span) => {
    try {
      const r = await t.llm.classify({ task: req.task, text: req.input, labels, deadlineAt: req.deadlineAt });
      const durationMs = performance.now() - t0;
      span.setAttributes({
        [ATTR_TIER]: tier.name,
        [ATTR_LLM_ENDPOINT]: r.endpoint,
        [ATTR_COST_USD]: r.costUsd,
      });
      t.metrics?.tier({
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
      t.metrics?.tier({
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
