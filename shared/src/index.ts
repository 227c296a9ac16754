// @tiergate/shared — public entry. Named exports grouped by feature; no `export *`.

// ── package ──
export const VERSION = "0.1.0";

// ── policy ──
export {
  PolicySchema,
  TaskSchema,
  TierSchema,
  AcceptSchema,
  ActionSchema,
  LlmEndpointSchema,
  SUPPORTED_POLICY_MAJORS,
  ACCEPT_RULES,
  REDACT_KINDS,
  WEEKDAYS,
  TEMPLATE_PLACEHOLDERS,
  DEFAULT_MAX_INPUT_BYTES,
  DEFAULT_DEADLINE_MS,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_BATCH_MAX_ITEMS,
  DEFAULT_BATCH_MAX_AGE_MS,
  DEFAULT_LLM_TIMEOUT_MS,
  isModelTier,
  isLlmTier,
  isKnownTimeZone,
  policyMajor,
} from "./policy/schema.ts";
export type {
  Policy,
  PolicyInput,
  Task,
  Tier,
  ModelTier,
  LlmTier,
  Accept,
  AcceptRule,
  Action,
  Privacy,
  RedactKind,
  CustomPattern,
  CacheSettings,
  BatchSettings,
  OffPeak,
  OffPeakWindow,
  Weekday,
  LlmEndpoint,
  LlmPricing,
} from "./policy/schema.ts";
export { loadPolicyFile, parsePolicy, resolveSecret, formatPath, canonicalJson } from "./policy/load.ts";
export type { LoadedPolicy, ParsePolicyOptions } from "./policy/load.ts";
export { PolicyError, POLICY_ERROR_CODES, formatPolicyIssue } from "./policy/errors.ts";
export type { PolicyErrorCode, PolicyIssue } from "./policy/errors.ts";
export {
  getTask,
  edgeTiers,
  cloudTiers,
  findTier,
  isRejectLabel,
  actionFor,
  isNeverEscalate,
  isUpgradeLabel,
  tierCostUsd,
  llmEndpointsFor,
  llmCostUsd,
  renderTemplate,
} from "./policy/evaluate.ts";
export type { TemplateVars } from "./policy/evaluate.ts";
