import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { ErrorCode, TiergateError } from "../errors.ts";
import * as attributes from "./attributes.ts";
import { createConsoleLogger, silentLogger } from "./logger.ts";
import { extractTraceContext, injectTraceContext, traceCarrier, traceIdOf } from "./propagation.ts";
import { withSpan } from "./spans.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });

describe("attribute keys", () => {
  it("are all prefixed tiergate. and distinct", () => {
    const values = Object.values(attributes);
    expect(values.length).toBeGreaterThan(10);
    for (const v of values) expect(v).toMatch(/^tiergate\.[a-z_.]+$/);
    expect(new Set(values).size).toBe(values.length);
  });
});

describe("trace context propagation", () => {
  it("injects a W3C traceparent and extracts the same trace from a record or a getter", () => {
    const headers = injectTraceContext({}, parent);
    expect(headers["traceparent"]).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
    for (const carrier of [headers, (k: string) => headers[k]]) {
      const ctx = extractTraceContext(carrier, ROOT_CONTEXT);
      const sc = trace.getSpanContext(ctx);
      expect(sc?.traceId).toBe(TRACE_ID);
      expect(sc?.spanId).toBe(SPAN_ID);
      expect(sc?.isRemote).toBe(true);
      expect(traceIdOf(ctx)).toBe(TRACE_ID);
    }
  });

  it("carries tracestate and works as BullMQ job data", () => {
    const data = traceCarrier(parent);
    const withState = { ...data, tracestate: "vendor=abc" };
    const sc = trace.getSpanContext(
      extractTraceContext(JSON.parse(JSON.stringify(withState)) as Record<string, string>),
    );
    expect(sc?.traceState?.get("vendor")).toBe("abc");
  });

  it("injects nothing without a span", () => {
    expect(injectTraceContext({}, ROOT_CONTEXT)).toEqual({});
    expect(traceIdOf(ROOT_CONTEXT)).toBeUndefined();
  });

  it.each([
    ["missing", undefined],
    ["empty (nats.js absent header)", ""],
    ["garbage", "not-a-traceparent"],
    ["all-zero trace id", `00-${"0".repeat(32)}-${SPAN_ID}-01`],
    ["version ff", `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ["uppercase hex", `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
  ])("ignores a %s traceparent", (_name, value) => {
    const ctx = extractTraceContext((k) => (k === "traceparent" ? value : undefined), ROOT_CONTEXT);
    expect(trace.getSpanContext(ctx)).toBeUndefined();
  });

  it("never throws, even when the carrier does", () => {
    const throwing = (): string => {
      throw new Error("broken carrier");
    };
    expect(extractTraceContext(throwing, ROOT_CONTEXT)).toBe(ROOT_CONTEXT);
    const frozen = Object.freeze({}) as Record<string, string>;
    expect(() => injectTraceContext(frozen, parent)).not.toThrow();
  });
});

describe("withSpan", () => {
  const tracer = trace.getTracer("test");

  it("runs fn inside the parent's trace and returns its value", async () => {
    const seen = await withSpan(tracer, "step", (span) => span.spanContext().traceId, { parent });
    expect(seen).toBe(TRACE_ID);
    expect(await withSpan(tracer, "step", () => 42)).toBe(42);
  });

  it("hands fn a context that propagates the parent's trace, or none without a parent", async () => {
    const headers = await withSpan(tracer, "step", (_span, ctx) => injectTraceContext({}, ctx), { parent });
    expect(headers["traceparent"]).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
    const untraced = await withSpan(tracer, "step", (_span, ctx) => traceIdOf(ctx), { parent: ROOT_CONTEXT });
    expect(untraced).toBeUndefined();
  });

  it("rethrows fn's error unchanged", async () => {
    const err = new TiergateError(ErrorCode.LLM_TIMEOUT, "slow");
    await expect(withSpan(tracer, "step", () => Promise.reject(err))).rejects.toBe(err);
  });
});

describe("logger", () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, write: (line: string) => void lines.push(line) };
  };

  it("writes JSON lines at or above its level, with child fields", () => {
    const out = capture();
    const log = createConsoleLogger({ level: "info", json: true, write: out.write, now: () => 0 });
    log.debug("hidden");
    log.child({ deviceId: "dev-1" }).warn("outbox full", { depth: 3 });
    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0] ?? "")).toEqual({
      time: "1970-01-01T00:00:00.000Z",
      level: "warn",
      msg: "outbox full",
      deviceId: "dev-1",
      depth: 3,
    });
  });

  it("writes text lines and renders errors and cycles without throwing", () => {
    const out = capture();
    const log = createConsoleLogger({ level: "debug", json: false, write: out.write, now: () => 0 });
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    log.error("failed", { err: new TiergateError(ErrorCode.UNAVAILABLE, "down"), cyclic, n: 10n });
    expect(out.lines[0]).toBe(
      '1970-01-01T00:00:00.000Z ERROR failed err={"name":"TiergateError","message":"down","code":"UNAVAILABLE"} ' +
        'cyclic={"self":"[circular]"} n=10\n',
    );
  });

  it("never throws when its sink does; silent logs nothing", () => {
    const log = createConsoleLogger({
      write: () => {
        throw new Error("disk full");
      },
    });
    expect(() => log.info("x")).not.toThrow();
    expect(() => silentLogger.child({ a: 1 }).error("x")).not.toThrow();
    const out = capture();
    createConsoleLogger({ level: "silent", write: out.write }).error("x");
    expect(out.lines).toHaveLength(0);
  });
});
