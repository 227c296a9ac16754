// Running work inside a span. Telemetry calls are guarded; only `fn`'s own errors propagate.
import { SpanStatusCode, context, trace } from "@opentelemetry/api";
import type { Attributes, Context, Span, Tracer } from "@opentelemetry/api";
import { ATTR_ERROR_CODE } from "./attributes.ts";

export interface WithSpanOptions {
  attributes?: Attributes;
  /** Parent context (e.g. from `extractTraceContext`); default the active one. */
  parent?: Context;
}

/**
 * Runs `fn` in a new active span named `name`, ends it, and on a throw records the exception,
 * the error code (when it has one) and an ERROR status before rethrowing.
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  fn: (span: Span) => Promise<T> | T,
  options: WithSpanOptions = {},
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(
    name,
    options.attributes === undefined ? {} : { attributes: options.attributes },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    guard(() => {
      if (err instanceof Error) span.recordException(err);
      const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
      if (typeof code === "string") span.setAttribute(ATTR_ERROR_CODE, code);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
    });
    throw err;
  } finally {
    guard(() => span.end());
  }
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch {
    // telemetry never throws into business code
  }
}
