// Small pure helpers that read a validated policy. Routing code asks these instead of walking the
// policy itself, so the rules live in one place.
import {
  isLlmTier,
  isModelTier,
  type Action,
  type LlmEndpoint,
  type LlmTier,
  type ModelTier,
  type Policy,
  type Task,
  type Tier,
} from "./schema.ts";

export function getTask(policy: Policy, taskId: string): Task | undefined {
  return Object.hasOwn(policy.tasks, taskId) ? policy.tasks[taskId] : undefined;
}

/** Edge tiers in cascade order (all are model tiers). */
export function edgeTiers(task: Task): ModelTier[] {
  return task.tiers.filter((t): t is ModelTier => t.where === "edge" && isModelTier(t));
}

/** Cloud tiers in cascade order: model tiers and LLM tiers. */
export function cloudTiers(task: Task): (ModelTier | LlmTier)[] {
  return task.tiers.filter(
    (t): t is ModelTier | LlmTier => t.where === "cloud" && (isModelTier(t) || isLlmTier(t)),
  );
}

export function findTier(task: Task, name: string): Tier | undefined {
  return task.tiers.find((t) => t.name === name);
}

/** A label the model may not answer with (e.g. `oos`): the request escalates instead. */
export function isRejectLabel(task: Task, label: string): boolean {
  return task.rejectLabels.includes(label);
}

/** The rule-based action for an accepted label: its own, else the task's default, else none. */
export function actionFor(task: Task, label: string): Action | undefined {
  return (Object.hasOwn(task.actions, label) ? task.actions[label] : undefined) ?? task.defaultAction;
}

/** Requests predicted as this label never leave the device. */
export function isNeverEscalate(policy: Policy, taskId: string, label: string): boolean {
  const labels = Object.hasOwn(policy.privacy.neverEscalate, taskId)
    ? policy.privacy.neverEscalate[taskId]
    : undefined;
  return labels?.includes(label) ?? false;
}

/** "Answer now, upgrade later": answered at the edge and also queued for a cloud answer. */
export function isUpgradeLabel(task: Task, label: string): boolean {
  return task.upgradeLabels.includes(label);
}

/** Fixed per-request cost of a model tier (0 when the policy names none). */
export function tierCostUsd(policy: Policy, tierName: string): number {
  return (Object.hasOwn(policy.costs, tierName) ? policy.costs[tierName]?.perRequestUsd : undefined) ?? 0;
}

/** The LLM tier's endpoints in fallback order, with their names. */
export function llmEndpointsFor(policy: Policy, tier: LlmTier): { name: string; endpoint: LlmEndpoint }[] {
  return tier.llm.endpoints.flatMap((name) => {
    const endpoint = Object.hasOwn(policy.llm.endpoints, name) ? policy.llm.endpoints[name] : undefined;
    return endpoint ? [{ name, endpoint }] : [];
  });
}

/** Cost in USD of one LLM call from its token usage and the endpoint's prices. */
export function llmCostUsd(endpoint: LlmEndpoint, inputTokens: number, outputTokens: number): number {
  return (
    (inputTokens * endpoint.pricing.inputPerMTokUsd + outputTokens * endpoint.pricing.outputPerMTokUsd) / 1e6
  );
}

export type TemplateVars = { label: string; task: string; tier: string; confidence: number };

const TEMPLATE_VAR = /\{(label|task|tier|confidence)\}/g;
/** Templates split at their variables: even entries literal text, odd entries variable names. */
const compiledTemplates = new Map<string, string[]>();
const COMPILED_TEMPLATES_MAX = 1_000;

function compileTemplate(template: string): string[] {
  let parts = compiledTemplates.get(template);
  if (parts === undefined) {
    parts = template.split(TEMPLATE_VAR);
    if (compiledTemplates.size >= COMPILED_TEMPLATES_MAX) compiledTemplates.clear();
    compiledTemplates.set(template, parts);
  }
  return parts;
}

/**
 * Fills `{label}`, `{task}`, `{tier}`, `{confidence}` (validated at load, so no unknown ones remain).
 * Each template is split at its variables once (it runs on every rule-based answer).
 */
export function renderTemplate(template: string, vars: TemplateVars): string {
  const parts = compileTemplate(template);
  let out = parts[0] ?? "";
  for (let i = 1; i < parts.length; i += 2) {
    const key = parts[i] as keyof TemplateVars;
    out += key === "confidence" ? vars.confidence.toFixed(2) : vars[key];
    out += parts[i + 1] ?? "";
  }
  return out;
}
