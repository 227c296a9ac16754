// Reading the rest of a request body that the server has already refused (413), before answering.
// A server that answers and closes while the client is still sending makes the kernel reset the
// connection, and the client sees EPIPE or "fetch failed" instead of the 413 it should read. Read
// and drop what is left, up to a bound, then answer: bodies past the bound still get a reset.
import type { IncomingMessage } from "node:http";

/** Most bytes read and dropped from a refused body before giving up on a clean answer. */
export const DEFAULT_DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** Longest wait for a refused body to finish arriving. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

export type DrainLimits = { maxBytes?: number; timeoutMs?: number };

/**
 * Resolves once `req`'s body has been read to its end (dropping it), or the bound in bytes or time
 * is reached, or the connection is gone. Never rejects. Returns whether the body was read whole.
 */
export function drainRequestBody(req: IncomingMessage, limits: DrainLimits = {}): Promise<boolean> {
  if (req.complete || req.destroyed) return Promise.resolve(req.complete);
  const maxBytes = limits.maxBytes ?? DEFAULT_DRAIN_MAX_BYTES;
  const timeoutMs = limits.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  return new Promise((resolve) => {
    let bytes = 0;
    const finish = (whole: boolean): void => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onClose);
      resolve(whole);
    };
    const onData = (chunk: Buffer | string): void => {
      bytes += chunk.length;
      if (bytes > maxBytes) finish(false);
    };
    const onEnd = (): void => finish(true);
    const onClose = (): void => finish(req.complete);
    const timer = setTimeout(() => finish(false), timeoutMs);
    timer.unref();
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
    req.once("error", onClose);
    req.resume();
  });
}
