// The shape of a batch job's data as the worker reads it: types and structure, not the contract's
// content rules (id syntax, control characters, unique item ids), which the submission passed on
// its way in (the API and the edge intake parse it with `BatchSubmissionSchema` before `submit`).
// A hand check rather than a zod schema of the same shape: on a 1-item job zod's parse was ~10 us
// of the worker's own ~40 us; this one costs a few property reads. Edge attempts, when an item has
// them, are still parsed with their schema (the result carries them).
import { z } from "zod";
import { BatchSourceSchema, TierAttemptSchema } from "@tiergate/shared";

const EdgeAttemptsSchema = z.array(TierAttemptSchema);
const SOURCES: readonly unknown[] = BatchSourceSchema.options;

type Fields = Record<string, unknown>;
const isFields = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isName = (v: unknown): boolean => typeof v === "string" && v !== "";

/** Why `data` is not a batch job the worker can run (naming the field), or undefined when it is. */
export function jobDataProblem(data: unknown): string | undefined {
  if (!isFields(data)) return "job data is not an object";
  const { submission: s, trace, scheduledFor } = data;
  if (!isFields(s)) return "submission is not an object";
  if (!isName(s["batchId"])) return "submission.batchId is not a non-empty string";
  if (!SOURCES.includes(s["source"])) return "submission.source is not one of api, edge";
  if (s["deviceId"] !== undefined && !isName(s["deviceId"]))
    return "submission.deviceId is not a non-empty string";
  if (typeof s["submittedAt"] !== "number") return "submission.submittedAt is not a number";
  if (s["callbackUrl"] !== undefined && typeof s["callbackUrl"] !== "string")
    return "submission.callbackUrl is not a string";
  const items = s["items"];
  if (!Array.isArray(items)) return "submission.items is not an array";
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (!isFields(item)) return `submission.items.${i} is not an object`;
    if (!isName(item["id"])) return `submission.items.${i}.id is not a non-empty string`;
    if (!isName(item["task"])) return `submission.items.${i}.task is not a non-empty string`;
    if (typeof item["input"] !== "string") return `submission.items.${i}.input is not a string`;
    if (item["edgeAttempts"] !== undefined) {
      const parsed = EdgeAttemptsSchema.safeParse(item["edgeAttempts"]);
      if (!parsed.success) return `submission.items.${i}.edgeAttempts: ${z.prettifyError(parsed.error)}`;
    }
  }
  if (!isFields(trace)) return "trace is not an object";
  for (const key in trace) if (typeof trace[key] !== "string") return `trace.${key} is not a string`;
  if (typeof scheduledFor !== "number") return "scheduledFor is not a number";
  return undefined;
}
