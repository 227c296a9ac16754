// The request path's spans (one per request, one per edge tier). Like shared's withSpan, except that
// a span that records nothing and carries its parent's span context (what the API's no-op tracer
// returns when no tracer provider is registered) is not made active and not ended in a `then`: both
// would do nothing, and together they cost the in-process decision ~5% (bench:edge). The engine
// passes trace context explicitly (Ctx.trace, the NATS headers), never through the active context.
import {
  SpanStatusCode,
  context,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { ATTR_ERROR_CODE } from "@tiergate/shared";

/**
 * Runs `fn` in a new span named `name`, child of `parent`; fn gets the span and the context to hand
 * on. A recording span is active while fn runs, ended when it settles, and marked with fn's error
 * (exception, error code, ERROR status) when it throws. Only fn's own errors propagate.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  parent: Context,
  attributes: Attributes | undefined,
  fn: (span: Span, spanContext: Context) => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(name, attributes === undefined ? undefined : { attributes }, parent);
  if (inheritsParent(span, parent)) return fn(span, parent);
  let out: Promise<T>;
  try {
    const spanContext = trace.setSpan(parent, span);
    out = context.with(spanContext, fn, undefined, span, spanContext);
  } catch (err) {
    failed(span, err);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrown as thrown
    return Promise.reject(err);
  }
  return out.then(
    (value) => {
      guard(() => span.end());
      return value;
    },
    (err: unknown) => {
      failed(span, err);
      throw err;
    },
  );
}

/** True for a non-recording span whose context propagates exactly what the parent's does. */
function inheritsParent(span: Span, parent: Context): boolean {
  if (span.isRecording()) return false;
  const own = span.spanContext();
  const inherited = trace.getSpanContext(parent);
  if (own === inherited) return true;
  return !isSpanContextValid(own) && (inherited === undefined || !isSpanContextValid(inherited));
}

/** Records `err` on `span` and ends it. */
function failed(span: Span, err: unknown): void {
  guard(() => {
    if (err instanceof Error) span.recordException(err);
    const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
    if (typeof code === "string") span.setAttribute(ATTR_ERROR_CODE, code);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : String(err),
    });
  });
  guard(() => span.end());
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch {
    // telemetry never throws into business code
  }
}
