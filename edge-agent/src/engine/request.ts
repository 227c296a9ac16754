// Parsing `POST /v1/infer` bodies. The common shape (a plain object with task, input and maybe mode,
// id, deadlineMs) is checked by hand with the schema's own rules; anything else, every bad body
// included, goes through InferRequestSchema, so what is refused and the typed error that says why
// (VALIDATION_FAILED naming the field) are zod's. The tests hold the two paths to the same results.
import {
  DEFAULT_INFER_MODE,
  findControlChar,
  idProblem,
  InferRequestSchema,
  MAX_DEADLINE_MS,
  validate,
  type InferRequest,
} from "@tiergate/shared";

/** Validates a request body (defaults applied); throws VALIDATION_FAILED as the schema words it. */
export function parseInferRequest(body: unknown): InferRequest {
  return commonShape(body) ?? validate(InferRequestSchema, body, "infer request");
}

/**
 * The parsed request when `body` is a plain object that the schema accepts without a doubt, in the
 * schema's key order; undefined sends it to the schema (callbackUrl, odd objects, any bad field).
 */
export function commonShape(body: unknown): InferRequest | undefined {
  if (typeof body !== "object" || body === null || Object.getPrototypeOf(body) !== Object.prototype) {
    return undefined;
  }
  const b = body as Record<string, unknown>;
  const { task, input, mode, id, deadlineMs } = b;
  if (typeof task !== "string" || idProblem(task) !== undefined) return undefined;
  if (
    typeof input !== "string" ||
    input.length === 0 ||
    findControlChar(input) >= 0 ||
    !input.isWellFormed()
  ) {
    return undefined;
  }
  const req: InferRequest = { task, input, mode: DEFAULT_INFER_MODE };
  // Keys present with `undefined` are not counted here, so they too go to the schema.
  let keys = 2;
  if (mode !== undefined) {
    if (mode !== "realtime" && mode !== "batch") return undefined;
    req.mode = mode;
    keys++;
  }
  if (id !== undefined) {
    if (typeof id !== "string" || idProblem(id) !== undefined) return undefined;
    req.id = id;
    keys++;
  }
  if (deadlineMs !== undefined) {
    if (typeof deadlineMs !== "number" || !Number.isInteger(deadlineMs)) return undefined;
    if (deadlineMs <= 0 || deadlineMs > MAX_DEADLINE_MS) return undefined;
    req.deadlineMs = deadlineMs;
    keys++;
  }
  // Any other key (callbackUrl, an unknown one) is the schema's to judge.
  return Object.keys(b).length === keys ? req : undefined;
}
