// Running the edge tiers in policy order and turning an accepted prediction into an answer.
import type { Context, Span, Tracer } from "@opentelemetry/api";
import {
  actionFor,
  ATTR_ACCEPTED,
  ATTR_CONFIDENCE,
  ATTR_LABEL,
  ATTR_MODEL_VERSION,
  ATTR_THRESHOLD,
  ATTR_TIER,
  confidenceOf,
  ErrorCode,
  renderTemplate,
  toTiergateError,
  withSpan,
  type Classification,
  type InferResult,
  type Policy,
  type Task,
  type TierAttempt,
} from "@tiergate/shared";
import type { EdgeMetrics } from "../metrics/metrics.ts";
import type { EdgeTierRuntime } from "./policy-state.ts";
import type { Clock } from "./types.ts";

export type EdgeOutcome = { attempts: TierAttempt[]; accepted: TierAttempt | undefined };

export type RunTiersOptions = {
  task: Task;
  taskId: string;
  tracer: Tracer;
  metrics: EdgeMetrics;
  clock: Clock;
  /** The request span's context (tier spans are its children). */
  parent: Context;
  /** Step timings are appended here ("tier:<name>"). */
  steps: { step: string; durationMs: number }[];
};

/**
 * Tries each edge tier until one is confident (and its label is not a reject label). A chain of
 * `then`s rather than async functions: the decision path's promise frames are part of what the
 * in-process decision costs over the model call.
 */
export function runEdgeTiers(
  tiers: readonly EdgeTierRuntime[],
  input: string,
  options: RunTiersOptions,
): Promise<EdgeOutcome> {
  const attempts: TierAttempt[] = [];
  const from = (i: number): Promise<EdgeOutcome> => {
    const t = tiers[i];
    if (t === undefined) return Promise.resolve({ attempts, accepted: undefined });
    return withSpan(options.tracer, "tiergate.edge.tier", (span) => runTier(t, input, options, span), {
      parent: options.parent,
    }).then((attempt) => {
      attempts.push(attempt);
      options.steps.push({ step: t.stepName, durationMs: attempt.durationMs });
      return attempt.accepted ? { attempts, accepted: attempt } : from(i + 1);
    });
  };
  return from(0);
}

/** One tier's model call and acceptance rule, recorded in `span` (when it records). Never rejects. */
function runTier(
  t: EdgeTierRuntime,
  input: string,
  options: RunTiersOptions,
  span: Span,
): Promise<TierAttempt> {
  const started = options.clock.now();
  let call: Promise<Classification>;
  try {
    call = t.batcher.classify(input);
  } catch (thrown) {
    return Promise.resolve(failedTier(t, thrown, started, options, span));
  }
  return call.then(
    (c) => {
      let attempt: TierAttempt;
      try {
        const score = confidenceOf(c, t.tier.accept.rule);
        const accepted =
          t.threshold !== undefined &&
          !c.outOfScope &&
          !options.task.rejectLabels.includes(c.label) &&
          score >= t.threshold;
        attempt = tierAttempt(t, accepted, options.clock.now() - started);
        attempt.label = c.label;
        attempt.confidence = score;
        if (t.threshold !== undefined) attempt.threshold = t.threshold;
      } catch (thrown) {
        return failedTier(t, thrown, started, options, span);
      }
      return recordTier(t, attempt, options, span);
    },
    (thrown: unknown) => failedTier(t, thrown, started, options, span),
  );
}

/** A failing model is one tier fewer, not a failed request: the cascade goes on. */
function failedTier(
  t: EdgeTierRuntime,
  thrown: unknown,
  started: number,
  options: RunTiersOptions,
  span: Span,
): TierAttempt {
  const err = toTiergateError(thrown, ErrorCode.INTERNAL);
  const attempt = tierAttempt(t, false, options.clock.now() - started);
  attempt.error = { code: err.code, message: err.message };
  return recordTier(t, attempt, options, span);
}

function recordTier(
  t: EdgeTierRuntime,
  attempt: TierAttempt,
  options: RunTiersOptions,
  span: Span,
): TierAttempt {
  options.metrics.tier(options.taskId, t.tier.name, attempt.confidence, attempt.durationMs);
  // Attributes are built only for a span that records them (none without a tracer provider).
  if (span.isRecording()) {
    span.setAttributes({
      [ATTR_TIER]: t.tier.name,
      [ATTR_MODEL_VERSION]: t.model.version,
      [ATTR_ACCEPTED]: attempt.accepted,
      ...(attempt.label === undefined ? {} : { [ATTR_LABEL]: attempt.label }),
      ...(attempt.confidence === undefined ? {} : { [ATTR_CONFIDENCE]: attempt.confidence }),
      ...(attempt.threshold === undefined ? {} : { [ATTR_THRESHOLD]: attempt.threshold }),
    });
  }
  return attempt;
}

/** A tier attempt's fixed fields, in one shape for every attempt. */
function tierAttempt(t: EdgeTierRuntime, accepted: boolean, durationMs: number): TierAttempt {
  return {
    tier: t.tier.name,
    where: "edge",
    kind: "model",
    model: t.model.manifest.preset,
    modelVersion: t.model.version,
    accepted,
    durationMs,
  };
}

/** The edge attempt with the highest confidence that produced a label. */
export function bestAttempt(attempts: readonly TierAttempt[]): TierAttempt | undefined {
  let best: TierAttempt | undefined;
  for (const a of attempts) {
    if (a.label === undefined || a.confidence === undefined) continue;
    if (best === undefined || a.confidence > (best.confidence ?? -1)) best = a;
  }
  return best;
}

export type AnswerFields = Pick<
  InferResult,
  "status" | "label" | "answer" | "confidence" | "servedBy" | "costUsd" | "error"
>;

/** The label's action from the policy: a template answer, a refusal, or the bare label. */
export function answerFromAttempt(
  task: Task,
  taskId: string,
  attempt: TierAttempt,
  policy: Policy,
): AnswerFields {
  const label = attempt.label ?? "";
  const servedBy: AnswerFields["servedBy"] = { tier: attempt.tier, where: "edge", kind: "model" };
  if (attempt.model !== undefined) servedBy.model = attempt.model;
  if (attempt.modelVersion !== undefined) servedBy.version = attempt.modelVersion;
  const costUsd = policy.costs[attempt.tier]?.perRequestUsd ?? 0;
  const fields: AnswerFields = { status: "answered", label, servedBy, costUsd };
  if (attempt.confidence !== undefined) fields.confidence = attempt.confidence;
  const action = actionFor(task, label);
  if (action?.type === "template") {
    fields.answer = renderTemplate(action.template, {
      label,
      task: taskId,
      tier: attempt.tier,
      confidence: attempt.confidence ?? 0,
    });
  } else if (action?.type === "refuse") {
    fields.status = "refused";
    fields.error = { code: ErrorCode.REFUSED_BY_POLICY, message: action.reason };
  }
  return fields;
}
