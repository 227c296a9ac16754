import { describe, expect, it } from "vitest";
import { jobDataProblem } from "./job-shape.ts";

const item = { id: "b-1-0", task: "intent", input: "hello" };
const job = (submission: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): unknown => ({
  submission: { batchId: "b-1", source: "api", submittedAt: 1, items: [item], ...submission },
  trace: {},
  scheduledFor: 1,
  ...rest,
});
const attempt = { tier: "small", where: "edge", kind: "model", accepted: false, durationMs: 0.1 };

describe("jobDataProblem", () => {
  it.each([
    ["an API batch", job()],
    [
      "an edge batch with attempts",
      job({ source: "edge", deviceId: "dev-1", items: [{ ...item, edgeAttempts: [attempt] }] }),
    ],
    [
      "a callback URL and a trace",
      job({ callbackUrl: "http://127.0.0.1/cb" }, { trace: { traceparent: "00-x" } }),
    ],
    [
      "fields the worker does not read",
      job({ policyVersion: "1.0", items: [{ ...item, redactions: { email: 1 } }] }),
    ],
  ])("accepts %s", (_what, data) => {
    expect(jobDataProblem(data)).toBeUndefined();
  });

  it.each([
    ["no object", null, "job data"],
    ["no submission", { trace: {}, scheduledFor: 1 }, "submission"],
    ["an empty batch id", job({ batchId: "" }), "submission.batchId"],
    ["an unknown source", job({ source: "fax" }), "submission.source"],
    ["a device id that is not a string", job({ deviceId: 7 }), "submission.deviceId"],
    ["no submission time", job({ submittedAt: "now" }), "submission.submittedAt"],
    ["a callback URL that is not a string", job({ callbackUrl: 1 }), "submission.callbackUrl"],
    ["items that are not an array", job({ items: { 0: item } }), "submission.items"],
    ["an item that is not an object", job({ items: [item, "x"] }), "submission.items.1"],
    ["an item without an id", job({ items: [{ task: "intent", input: "x" }] }), "submission.items.0.id"],
    ["an item without a task", job({ items: [{ id: "a", input: "x" }] }), "submission.items.0.task"],
    ["an item whose input is not text", job({ items: [{ ...item, input: 5 }] }), "submission.items.0.input"],
    [
      "edge attempts outside their contract",
      job({ items: [{ ...item, edgeAttempts: [{ ...attempt, kind: "oracle" }] }] }),
      "submission.items.0.edgeAttempts",
    ],
    ["a trace value that is not a string", job({}, { trace: { traceparent: 1 } }), "trace.traceparent"],
    ["no scheduled time", job({}, { scheduledFor: undefined }), "scheduledFor"],
  ])("refuses %s, naming the field", (_what, data, field) => {
    expect(jobDataProblem(data)).toMatch(new RegExp(`^${field.replaceAll(".", "\\.")}( |:)`));
  });
});
