import {
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanStatus,
  type Tracer,
} from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { ErrorCode, TiergateError } from "../errors.ts";
import { ATTR_ERROR_CODE } from "./attributes.ts";
import { injectTraceContext } from "./propagation.ts";
import { withSpan } from "./spans.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const parent = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: "00f067aa0ba902b7",
  traceFlags: 1,
});

/** A tracer whose spans record: what an SDK tracer provider hands out, reduced to what is asserted. */
function recordingTracer(): {
  tracer: Tracer;
  spans: { ended: number; status?: SpanStatus; attrs: Record<string, unknown>; errors: unknown[] }[];
} {
  const spans: { ended: number; status?: SpanStatus; attrs: Record<string, unknown>; errors: unknown[] }[] =
    [];
  const startSpan = (): Span => {
    const rec: (typeof spans)[number] = { ended: 0, attrs: {}, errors: [] };
    spans.push(rec);
    const span: Span = {
      spanContext: () => ({ traceId: TRACE_ID, spanId: "b7ad6b7169203331", traceFlags: 1 }),
      setAttribute: (k, v) => ((rec.attrs[k] = v), span),
      setAttributes: (a) => (Object.assign(rec.attrs, a), span),
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus: (s) => ((rec.status = s), span),
      updateName: () => span,
      end: () => void rec.ended++,
      isRecording: () => true,
      recordException: (e) => void rec.errors.push(e),
    };
    return span;
  };
  return { tracer: { startSpan, startActiveSpan: () => undefined as never } as Tracer, spans };
}

describe("withSpan with an explicit parent (the edge request path)", () => {
  it("without a tracer provider, runs fn with the parent's context and returns its value", async () => {
    let seen: Context | undefined;
    const value = await withSpan(
      trace.getTracer("test"),
      "step",
      (_span, ctx) => {
        seen = ctx;
        return Promise.resolve(42);
      },
      { parent, attributes: { a: 1 } },
    );
    expect(value).toBe(42);
    expect(injectTraceContext({}, seen)["traceparent"]).toBe(`00-${TRACE_ID}-00f067aa0ba902b7-01`);
  });

  it("with a recording span, hands fn a context holding it and ends it once fn is done", async () => {
    const { tracer, spans } = recordingTracer();
    const headers = await withSpan(
      tracer,
      "step",
      (_span, ctx) => Promise.resolve(injectTraceContext({}, ctx)),
      {
        parent,
      },
    );
    expect(headers["traceparent"]).toBe(`00-${TRACE_ID}-b7ad6b7169203331-01`);
    expect(spans).toHaveLength(1);
    expect(spans[0]?.ended).toBe(1);
  });

  it("rethrows fn's error unchanged and records it on a recording span", async () => {
    const err = new TiergateError(ErrorCode.UNAVAILABLE, "no cloud");
    await expect(
      withSpan(trace.getTracer("test"), "step", () => Promise.reject(err), { parent }),
    ).rejects.toBe(err);
    const { tracer, spans } = recordingTracer();
    await expect(withSpan(tracer, "step", () => Promise.reject(err), { parent })).rejects.toBe(err);
    expect(spans[0]).toMatchObject({
      ended: 1,
      errors: [err],
      status: { code: SpanStatusCode.ERROR, message: "no cloud" },
      attrs: { [ATTR_ERROR_CODE]: ErrorCode.UNAVAILABLE },
    });
  });
});
