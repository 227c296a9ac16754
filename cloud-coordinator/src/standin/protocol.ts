// Wire shapes of the stand-in: the subset of OpenAI's chat completions request it reads, the
// label set found in a json_schema response format, and OpenAI-style error bodies.
import { z } from "zod";

/** How the stand-in names itself wherever it can (model ids, fingerprints, canned replies). */
export const STANDIN_NAME = "tiergate LLM stand-in (offline, not a real LLM)";
export const STANDIN_MODEL_PREFIX = "tiergate-standin:";
export const STANDIN_FINGERPRINT = "tiergate-standin-v1";
export const STANDIN_MODEL_ID = "tiergate-standin";

const ContentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });
const MessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(ContentPartSchema), z.null()]).optional(),
});

/** Loose on purpose: real clients send many optional fields (temperature, seed, tools, …). */
export const ChatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1),
  stream: z.boolean().optional(),
  response_format: z.looseObject({ type: z.string() }).optional(),
});
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

const LabelFormatSchema = z.looseObject({
  type: z.literal("json_schema"),
  json_schema: z.looseObject({
    schema: z.looseObject({
      properties: z.looseObject({ label: z.looseObject({ enum: z.array(z.string()).min(1) }) }),
    }),
  }),
});

/** The label set of a classification request, or undefined for any other chat. */
export function labelsOf(req: ChatRequest): string[] | undefined {
  const parsed = LabelFormatSchema.safeParse(req.response_format);
  return parsed.success ? parsed.data.json_schema.schema.properties.label.enum : undefined;
}

export function contentText(content: ChatRequest["messages"][number]["content"]): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => p.text ?? "").join("");
  return "";
}

export type OpenAiErrorType =
  "invalid_request_error" | "authentication_error" | "rate_limit_error" | "server_error" | "not_found_error";

export function openAiError(
  message: string,
  type: OpenAiErrorType,
  param: string | null = null,
  code: string | null = null,
): string {
  return JSON.stringify({ error: { message, type, param, code } });
}
