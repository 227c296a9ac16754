// Trace context across NATS headers and BullMQ job data (W3C `traceparent` / `tracestate`).
// Uses the globally registered propagator (the SDK's, set up in each app's main.ts) and also
// writes/reads W3C trace context itself, so that trace ids flow even where no SDK is registered
// (tests, tools). Never throws.
import { context, isSpanContextValid, propagation, trace, createTraceState } from "@opentelemetry/api";
import type { Context, SpanContext, TextMapGetter } from "@opentelemetry/api";

export const TRACEPARENT_HEADER = "traceparent";
export const TRACESTATE_HEADER = "tracestate";

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** A header getter; `undefined` and "" both mean absent (nats.js returns ""). */
export type CarrierGetter = (key: string) => string | undefined;

/** Writes the trace context of `ctx` (default: the active one) into `carrier`. Returns it. */
export function injectTraceContext(
  carrier: Record<string, string>,
  ctx: Context = context.active(),
): Record<string, string> {
  try {
    const spanContext = trace.getSpanContext(ctx);
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      carrier[TRACEPARENT_HEADER] = formatTraceparent(spanContext);
      const state = spanContext.traceState?.serialize();
      if (state !== undefined && state !== "") carrier[TRACESTATE_HEADER] = state;
    }
    propagation.inject(ctx, carrier);
  } catch {
    // telemetry never throws into business code
  }
  return carrier;
}

/**
 * The context carried by `carrier` (a getter or a plain record), on top of `base` (default: the
 * active context). Run work in it with `context.with(ctx, fn)` or pass it to `tracer.startSpan`.
 */
export function extractTraceContext(
  carrier: CarrierGetter | Readonly<Record<string, string | undefined>>,
  base: Context = context.active(),
): Context {
  try {
    const get: CarrierGetter = typeof carrier === "function" ? carrier : (key) => carrier[key];
    const getter: TextMapGetter<null> = {
      keys: () =>
        typeof carrier === "function" ? [TRACEPARENT_HEADER, TRACESTATE_HEADER] : Object.keys(carrier),
      get: (_c, key) => present(get(key)),
    };
    const extracted = propagation.extract(base, null, getter);
    const fromGlobal = trace.getSpanContext(extracted);
    if (fromGlobal !== undefined && isSpanContextValid(fromGlobal)) return extracted;
    const parsed = parseTraceparent(present(get(TRACEPARENT_HEADER)), present(get(TRACESTATE_HEADER)));
    return parsed === undefined ? extracted : trace.setSpanContext(extracted, parsed);
  } catch {
    return base;
  }
}

/** The trace id of the span in `ctx` (default: the active one), or undefined when there is none. */
export function traceIdOf(ctx: Context = context.active()): string | undefined {
  try {
    const spanContext = trace.getSpanContext(ctx);
    return spanContext !== undefined && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
  } catch {
    return undefined;
  }
}

/** Trace context as a plain record, for BullMQ job data. */
export function traceCarrier(ctx: Context = context.active()): Record<string, string> {
  return injectTraceContext({}, ctx);
}

function present(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

function parseTraceparent(header: string | undefined, state: string | undefined): SpanContext | undefined {
  if (header === undefined) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId: traceId ?? "",
    spanId: spanId ?? "",
    traceFlags: Number.parseInt(flags ?? "00", 16),
    isRemote: true,
  };
  if (state !== undefined) spanContext.traceState = createTraceState(state);
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}
