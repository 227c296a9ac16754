// The one interface every LLM provider adapter implements (Portkey-style adapters). An adapter
// sends ONE request and classifies its failure as an AttemptError; retries, backoff, fallback,
// circuit breaking and concurrency belong to the LlmTier, not to adapters.
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { ChatBody, Usage } from "./types.ts";

export type ProviderCall = {
  /** Aborts when the caller gives up (deadline or its own signal). */
  signal: AbortSignal;
  /** This attempt's time budget; the adapter cuts the request at it and reports `timeout`. */
  timeoutMs: number;
};

export type ProviderClassifyRequest = { task: string; text: string; labels: readonly string[] };
export type ProviderClassifyReply = { label: string; model: string; usage: Usage };
export type ProviderChatReply = { completion: ChatCompletion; model: string; usage: Usage };

export interface LlmProvider {
  /** Endpoint name (from the policy). */
  readonly name: string;
  /** Throws AttemptError for endpoint failures; rethrows the caller's abort reason as is. */
  classify(req: ProviderClassifyRequest, call: ProviderCall): Promise<ProviderClassifyReply>;
  chat(body: ChatBody, call: ProviderCall): Promise<ProviderChatReply>;
}

/** ≈4 characters per token: used only when a server leaves `usage` out. */
export const CHARS_PER_TOKEN_ESTIMATE = 4;
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN_ESTIMATE));
}
