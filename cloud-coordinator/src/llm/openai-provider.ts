// OpenAI-compatible adapter over the official `openai` client: works unchanged against OpenAI,
// vLLM, Ollama, llama.cpp's server and the tiergate stand-in. The SDK's own retries are off
// (maxRetries: 0): the LlmTier retries so it can honour Retry-After, jitter, count and fall back.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import type { ChatCompletion } from "openai/resources/chat/completions";
import { AttemptError, attemptFailure } from "./errors.ts";
import { parseRetryAfterMs } from "./backoff.ts";
import { classificationMessages, classificationResponseFormat, parseClassificationReply } from "./prompt.ts";
import { estimateTokens } from "./provider.ts";
import type {
  LlmProvider,
  ProviderCall,
  ProviderChatReply,
  ProviderClassifyReply,
  ProviderClassifyRequest,
} from "./provider.ts";
import type { ChatBody, Clock, LlmEndpointOptions, Usage } from "./types.ts";

/** Slack added to the SDK's own timeout so that ours (which knows the cause) fires first. */
const SDK_TIMEOUT_SLACK_MS = 1_000;
/** HTTP statuses worth retrying besides 5xx (as the SDK itself treats them). */
const RETRYABLE_4XX = new Set([408, 409]);

export type OpenAiProviderOptions = { endpoint: LlmEndpointOptions; clock: Clock };

export class OpenAiCompatibleProvider implements LlmProvider {
  readonly name: string;
  readonly #client: OpenAI;
  readonly #endpoint: LlmEndpointOptions;
  readonly #clock: Clock;

  constructor(options: OpenAiProviderOptions) {
    this.#endpoint = options.endpoint;
    this.#clock = options.clock;
    this.name = options.endpoint.name;
    this.#client = new OpenAI({
      baseURL: options.endpoint.baseURL,
      apiKey: options.endpoint.apiKey,
      timeout: options.endpoint.timeoutMs + SDK_TIMEOUT_SLACK_MS,
      maxRetries: 0,
      logLevel: "off",
    });
  }

  async classify(req: ProviderClassifyRequest, call: ProviderCall): Promise<ProviderClassifyReply> {
    const messages = classificationMessages(req.task, req.text, req.labels);
    const completion = await this.#send(
      { model: this.#endpoint.model, messages, response_format: classificationResponseFormat(req.labels) },
      call,
    );
    const content = completion.choices[0]?.message.content;
    const reply = parseClassificationReply(content, req.labels);
    if (!reply.ok) {
      throw new AttemptError(
        attemptFailure("malformed", `endpoint ${this.name}: malformed classification: ${reply.reason}`),
      );
    }
    const promptChars = messages.reduce(
      (n, m) => n + (typeof m.content === "string" ? m.content.length : 0),
      0,
    );
    return {
      label: reply.label,
      model: completion.model || this.#endpoint.model,
      usage: usageOf(completion, promptChars, content ?? ""),
    };
  }

  async chat(body: ChatBody, call: ProviderCall): Promise<ProviderChatReply> {
    const completion = await this.#send({ ...body, model: this.#endpoint.model, stream: false }, call);
    const promptChars = JSON.stringify(body.messages).length;
    const content = completion.choices[0]?.message.content ?? "";
    return {
      completion,
      model: completion.model || this.#endpoint.model,
      usage: usageOf(completion, promptChars, content),
    };
  }

  async #send(body: ChatBody, call: ProviderCall): Promise<ChatCompletion> {
    const timeout = AbortSignal.timeout(Math.max(1, call.timeoutMs));
    const signal = AbortSignal.any([call.signal, timeout]);
    try {
      const completion = await this.#client.chat.completions.create(body, { signal, maxRetries: 0 });
      if (!Array.isArray(completion.choices) || completion.choices.length === 0) {
        throw new AttemptError(
          attemptFailure("malformed", `endpoint ${this.name}: completion has no choices`),
        );
      }
      return completion;
    } catch (err) {
      if (err instanceof AttemptError) throw err;
      if (call.signal.aborted) throw call.signal.reason;
      throw new AttemptError(this.#classify(err, timeout.aborted));
    }
  }

  #classify(err: unknown, timedOut: boolean): AttemptError["failure"] {
    const at = `endpoint ${this.name}`;
    if (timedOut || err instanceof APIConnectionTimeoutError) {
      return attemptFailure("timeout", `${at}: no answer within ${this.#endpoint.timeoutMs} ms`, {
        cause: err,
      });
    }
    if (err instanceof APIUserAbortError)
      return attemptFailure("timeout", `${at}: request aborted`, { cause: err });
    if (err instanceof APIConnectionError) {
      return attemptFailure("connection", `${at}: connection failed: ${err.message}`, { cause: err });
    }
    if (isApiError(err)) {
      const apiErr = err;
      const status = apiErr.status ?? 0;
      const headers = apiErr.headers;
      const retryAfterMs = headers ? parseRetryAfterMs((h) => headers.get(h), this.#clock.now()) : undefined;
      const extra = { cause: err, status, retryAfterMs };
      if (status === 429) return attemptFailure("rate_limited", `${at}: rate limited (429)`, extra);
      if (status >= 500 || RETRYABLE_4XX.has(status)) {
        return attemptFailure("server_error", `${at}: HTTP ${status}: ${apiErr.message}`, extra);
      }
      return attemptFailure("rejected", `${at}: HTTP ${status}: ${apiErr.message}`, extra);
    }
    if (err instanceof SyntaxError) {
      return attemptFailure("malformed", `${at}: response body is not JSON: ${err.message}`, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return attemptFailure("server_error", `${at}: ${message}`, { cause: err });
  }
}

/** `instanceof APIError` narrows to APIError<any, …>; this keeps the SDK's declared defaults. */
function isApiError(err: unknown): err is APIError {
  return err instanceof APIError;
}

function usageOf(completion: ChatCompletion, promptChars: number, content: string): Usage {
  const u = completion.usage;
  if (u && Number.isFinite(u.prompt_tokens) && Number.isFinite(u.completion_tokens)) {
    return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens };
  }
  return { promptTokens: Math.ceil(promptChars / 4), completionTokens: estimateTokens(content) };
}
