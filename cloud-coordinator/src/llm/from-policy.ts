// Adapts the policy's `llm.endpoints` to LlmTier options: resolves each `env:NAME` API key and
// keeps the order a tier's `llm.endpoints` list gives (its fallback order).
import { ErrorCode, TiergateError, resolveSecret } from "@tiergate/shared";
import type { LlmEndpoint, Policy } from "@tiergate/shared";
import type { LlmEndpointOptions } from "./types.ts";

export function endpointOptionsFromPolicy(
  name: string,
  endpoint: LlmEndpoint,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LlmEndpointOptions {
  return {
    name,
    baseURL: endpoint.baseURL,
    apiKey: resolveSecret(endpoint.apiKey, env),
    model: endpoint.model,
    timeoutMs: endpoint.timeoutMs,
    maxRetries: endpoint.maxRetries,
    maxConcurrency: endpoint.maxConcurrency,
    circuitBreaker: { ...endpoint.circuitBreaker },
    pricing: { ...endpoint.pricing },
  };
}

/** The named endpoints, in the given (fallback) order; an unknown name is a typed error. */
export function endpointsFromPolicy(
  policy: Pick<Policy, "llm">,
  names: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): LlmEndpointOptions[] {
  return names.map((name) => {
    const ep = policy.llm.endpoints[name];
    if (ep === undefined)
      throw new TiergateError(
        ErrorCode.POLICY_INVALID,
        `no LLM endpoint named ${JSON.stringify(name)} in the policy`,
      );
    return endpointOptionsFromPolicy(name, ep, env);
  });
}
