// How every boundary turns bytes into contract values and back. Invalid input never crashes:
// it becomes a TiergateError (INVALID_JSON, VALIDATION_FAILED naming the field paths, or
// INPUT_TOO_LARGE).
import type { z } from "zod";
import {
  ErrorCode,
  TiergateError,
  errorBody,
  errorFromHeaders,
  errorHeaders,
  validationError,
} from "../errors.ts";

export interface DecodeOptions {
  /** Refuse payloads larger than this many bytes (INPUT_TOO_LARGE). */
  maxBytes?: number;
  /** Names the message in error messages, e.g. "escalation request". */
  what?: string;
}

/**
 * Parse options for a value parsed once per process or load (settings, a policy, a model manifest):
 * zod's first parse of an object schema otherwise generates and compiles a fast path for it
 * (new Function), which only pays off over many parses.
 */
export const ONE_SHOT_PARSE = { jitless: true } as const;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Validates an already-parsed JSON value (e.g. an HTTP framework's body) against `schema`. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what?: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

/** Parses JSON bytes or text and validates them against `schema`. Throws TiergateError only. */
export function decode<S extends z.ZodType>(
  schema: S,
  data: Uint8Array | string,
  options: DecodeOptions = {},
): z.output<S> {
  const size = typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.byteLength;
  if (options.maxBytes !== undefined && size > options.maxBytes) {
    throw new TiergateError(
      ErrorCode.INPUT_TOO_LARGE,
      `${options.what ?? "message"} is ${size} bytes, over the limit of ${options.maxBytes}`,
    );
  }
  let text: string;
  try {
    text = typeof data === "string" ? data : utf8Decoder.decode(data);
  } catch (cause) {
    throw new TiergateError(ErrorCode.INVALID_JSON, `${options.what ?? "message"} is not valid UTF-8`, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TiergateError(
      ErrorCode.INVALID_JSON,
      `${options.what ?? "message"} is not valid JSON: ${reason}`,
      {
        cause,
      },
    );
  }
  return validate(schema, json, options.what);
}

/** JSON-encodes a contract value as UTF-8 bytes. */
export function encode(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}

/** Headers plus body of an error reply (NATS request–reply): typed headers and an ErrorBody. */
export function encodeErrorReply(err: TiergateError): { headers: Record<string, string>; data: Uint8Array } {
  return { headers: errorHeaders(err), data: encode(errorBody(err, { exposeInternal: true })) };
}

/**
 * Decodes a reply: throws the typed error its headers carry, else decodes its body with `schema`.
 * With nats.js: `decodeReply(EscalationReplySchema, msg.data, (k) => msg.headers?.get(k))`.
 */
export function decodeReply<S extends z.ZodType>(
  schema: S,
  data: Uint8Array | string,
  getHeader: (key: string) => string | undefined,
  options: DecodeOptions = {},
): z.output<S> {
  const err = errorFromHeaders(getHeader);
  if (err !== undefined) throw err;
  return decode(schema, data, options);
}
