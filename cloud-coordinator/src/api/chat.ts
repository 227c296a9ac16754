// OpenAI-compatible chat completions through the LLM tier (retries, fallbacks, breakers, cost
// accounting live there), with a Redis cache for deterministic requests (temperature 0).
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { validate } from "@tiergate/shared";
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from "openai/resources/chat/completions";

export const CHAT_CACHE_KEY_PREFIX = "tg:chat:v1:";
export const DEFAULT_CHAT_CACHE_TTL_MS = 600_000;

/** The fields tiergate reads; everything else is passed through to the endpoint as sent. */
export const ChatBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
      }),
    )
    .min(1),
  stream: z.literal(false).optional(),
  temperature: z.number().min(0).max(2).optional(),
});

/** Structurally `LlmTier.chat`. */
export interface ChatLlm {
  chat(
    body: ChatCompletionCreateParamsNonStreaming,
    options?: { deadlineAt?: number },
  ): Promise<{ completion: ChatCompletion; endpoint: string; costUsd: number }>;
}

export type ChatOutcome = { completion: ChatCompletion; endpoint: string; costUsd: number; cached: boolean };

export type ChatForwarderOptions = {
  llm: ChatLlm;
  redis?: Redis | undefined;
  ttlMs?: number;
  keyPrefix?: string;
};

export class ChatForwarder {
  readonly #o: ChatForwarderOptions;

  constructor(options: ChatForwarderOptions) {
    this.#o = options;
  }

  /** Validates `body` (400 naming the field) and answers it from the cache or the LLM tier. */
  async complete(body: unknown, deadlineAt?: number): Promise<ChatOutcome> {
    validate(ChatBodySchema, body, "chat completion request");
    const params = body as ChatCompletionCreateParamsNonStreaming;
    const key = params.temperature === 0 && this.#o.redis !== undefined ? this.#key(params) : undefined;
    if (key !== undefined) {
      const hit = await this.#o.redis?.get(key);
      if (hit !== null && hit !== undefined) {
        const { completion, endpoint } = JSON.parse(hit) as { completion: ChatCompletion; endpoint: string };
        return { completion, endpoint, costUsd: 0, cached: true };
      }
    }
    const r = await this.#o.llm.chat(params, deadlineAt === undefined ? {} : { deadlineAt });
    if (key !== undefined) {
      await this.#o.redis?.set(
        key,
        JSON.stringify({ completion: r.completion, endpoint: r.endpoint }),
        "PX",
        this.#o.ttlMs ?? DEFAULT_CHAT_CACHE_TTL_MS,
      );
    }
    return { completion: r.completion, endpoint: r.endpoint, costUsd: r.costUsd, cached: false };
  }

  #key(body: ChatCompletionCreateParamsNonStreaming): string {
    return (
      (this.#o.keyPrefix ?? CHAT_CACHE_KEY_PREFIX) +
      createHash("sha256").update(stableJson(body)).digest("hex")
    );
  }
}

/** JSON with object keys sorted, so equal requests share a cache entry. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
