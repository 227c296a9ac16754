// The classification prompt the LLM tier sends, and the structured-output contract of the reply.
//
// Template (documented so any OpenAI-compatible server, or the stand-in, can read it):
//   system: "You classify text for the task "<task>". Reply with JSON {"label": L} where L is
//            exactly one of these labels: <l1>, <l2>, ... Use "oos" ... (only when "oos" is a label)"
//   user:   "Classify the text between the markers.\n<<<TEXT\n<text>\nTEXT>>>"
// and `response_format` = json_schema (strict) whose `properties.label.enum` is the label set.
// The stand-in reads the labels from that enum and the text from between the markers (the first
// start marker and the last end marker, so a text containing a marker still round-trips).
import { z } from "zod";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import type { ResponseFormatJSONSchema } from "openai/resources/shared";

export const TEXT_START_MARKER = "<<<TEXT\n";
export const TEXT_END_MARKER = "\nTEXT>>>";
export const CLASSIFY_SCHEMA_NAME = "classification";
/** Enough for `{"label": "<a 128-char label>"}`. */
export const CLASSIFY_MAX_COMPLETION_TOKENS = 64;
export const OUT_OF_SCOPE_LABEL = "oos";

export function classificationMessages(
  task: string,
  text: string,
  labels: readonly string[],
): ChatCompletionMessageParam[] {
  const oos = labels.includes(OUT_OF_SCOPE_LABEL)
    ? ` Use "${OUT_OF_SCOPE_LABEL}" when the text fits none of the other labels.`
    : "";
  return [
    {
      role: "system",
      content:
        `You classify text for the task ${JSON.stringify(task)}. Reply with JSON {"label": L} where L is ` +
        `exactly one of these labels: ${labels.join(", ")}.${oos}`,
    },
    {
      role: "user",
      content: `Classify the text between the markers.\n${TEXT_START_MARKER}${text}${TEXT_END_MARKER}`,
    },
  ];
}

export function classificationResponseFormat(labels: readonly string[]): ResponseFormatJSONSchema {
  return {
    type: "json_schema",
    json_schema: {
      name: CLASSIFY_SCHEMA_NAME,
      strict: true,
      schema: {
        type: "object",
        properties: { label: { type: "string", enum: [...labels] } },
        required: ["label"],
        additionalProperties: false,
      },
    },
  };
}

/** The text between the markers, or the whole message (trimmed) when it has none. */
export function extractClassificationText(userContent: string): string {
  const start = userContent.indexOf(TEXT_START_MARKER);
  const end = userContent.lastIndexOf(TEXT_END_MARKER);
  if (start >= 0 && end >= start + TEXT_START_MARKER.length) {
    return userContent.slice(start + TEXT_START_MARKER.length, end);
  }
  return userContent.trim();
}

/** Validates a reply's content against the label set; the error names what was wrong. */
export function parseClassificationReply(
  content: string | null | undefined,
  labels: readonly string[],
): { ok: true; label: string } | { ok: false; reason: string } {
  if (content === null || content === undefined || content === "")
    return { ok: false, reason: "empty content" };
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    return { ok: false, reason: `content is not JSON: ${(err as Error).message}` };
  }
  const schema = z.strictObject({ label: z.enum(labels as [string, ...string[]]) });
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: z.prettifyError(parsed.error) };
  return { ok: true, label: parsed.data.label };
}
