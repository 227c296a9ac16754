// One replayed request as the demo saw it: what the HTTP API answered, classified into the path it
// took through the cascade. Bodies are parsed once here with the shared contracts.
import { ErrorBodySchema, InferResultSchema, type InferResult } from "@tiergate/shared";
import { OUT_OF_SCOPE } from "./dataset.ts";

/** Where an answer came from: "edge", "edge-degraded", "escalated-<cloud tier>" (e.g. escalated-medium), "batch", or none. */
export type DemoPath = string;
export const PATH_EDGE = "edge";
/** Answered at the edge from a tier that was not confident, because the cloud was out of reach in time. */
export const PATH_EDGE_DEGRADED = "edge-degraded";
/** Answered from the edge agent's result cache (a repeat of an earlier text; the answer may be a cloud one). */
export const PATH_EDGE_CACHE = "edge-cache";
export const PATH_BATCH = "batch";
export const PATH_REFUSED = "refused";
export const PATH_DEFERRED = "deferred";
export const PATH_ERROR = "error";

export type Outcome = {
  id: string;
  gold: string;
  /** Which API was called (device id, or "cloud-batch"). */
  via: string;
  path: DemoPath;
  /** The tier that answered (nano, small, cache, medium, llm, …), if any. */
  tier: string | undefined;
  kind: string | undefined;
  label: string | undefined;
  degraded: boolean;
  costUsd: number;
  /** Cost of the LLM attempt of this request, when one was made (prices the all-LLM baseline). */
  llmCostUsd: number | undefined;
  latencyMs: number;
  httpStatus: number;
  errorCode: string | undefined;
};

/** The path a result took: answered at the edge, or escalated to the named cloud tier. */
export function pathOf(result: InferResult): DemoPath {
  if (result.status === "refused") return PATH_REFUSED;
  if (result.status === "deferred") return PATH_DEFERRED;
  const first = result.attempts[0];
  if (result.cached && first?.kind === "cache" && first.where === "edge") return PATH_EDGE_CACHE;
  if (result.servedBy === undefined) return PATH_ERROR;
  if (result.servedBy.where === "edge") return result.degraded ? PATH_EDGE_DEGRADED : PATH_EDGE;
  return `escalated-${result.servedBy.tier}`;
}

function llmCost(result: InferResult): number | undefined {
  const costs = result.attempts
    .filter((a) => a.kind === "llm" && a.costUsd !== undefined)
    .map((a) => a.costUsd ?? 0);
  return costs.length === 0 ? undefined : costs.reduce((a, b) => a + b, 0);
}

export function outcomeFromResult(
  base: { id: string; gold: string; via: string; latencyMs: number; httpStatus: number },
  result: InferResult,
  path: DemoPath = pathOf(result),
): Outcome {
  return {
    ...base,
    path,
    tier: result.servedBy?.tier,
    kind: result.servedBy?.kind,
    label: result.status === "answered" ? result.label : undefined,
    degraded: result.degraded,
    costUsd: result.costUsd,
    llmCostUsd: llmCost(result),
    errorCode: result.error?.code,
  };
}

/** Classifies one HTTP answer of `POST /v1/infer`: a result contract, or a typed error body. */
export function outcomeFromHttp(
  base: { id: string; gold: string; via: string; latencyMs: number },
  httpStatus: number,
  body: unknown,
): Outcome {
  const result = InferResultSchema.safeParse(body);
  if (result.success) return outcomeFromResult({ ...base, httpStatus }, result.data);
  const error = ErrorBodySchema.safeParse(body);
  return {
    ...base,
    httpStatus,
    path: error.success ? PATH_REFUSED : PATH_ERROR,
    tier: undefined,
    kind: undefined,
    label: undefined,
    degraded: false,
    costUsd: 0,
    llmCostUsd: undefined,
    errorCode: error.success ? error.data.error.code : `HTTP_${httpStatus}_UNPARSED`,
  };
}

/** Whether the final answer is right. An out-of-scope query is right only when answered "oos". */
export function isCorrect(outcome: Outcome): boolean {
  return outcome.label !== undefined && outcome.label === outcome.gold;
}

/** Whether an edge answer is right: any edge answer to an out-of-scope query is wrong. */
export function isCorrectAtEdge(outcome: Outcome): boolean {
  return outcome.gold !== OUT_OF_SCOPE && isCorrect(outcome);
}
