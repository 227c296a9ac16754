// Waiting between attempts: the server's Retry-After when it sends one, else exponential backoff
// with full jitter (AWS architecture blog, "Exponential Backoff And Jitter").

/**
 * The wait a response asks for, in ms: `retry-after-ms` (OpenAI, Azure) wins over `Retry-After`
 * (delta-seconds or an HTTP date, RFC 9110 §10.2.3). Undefined when absent or unreadable.
 */
export function parseRetryAfterMs(
  get: (name: string) => string | null | undefined,
  nowMs: number,
): number | undefined {
  const ms = get("retry-after-ms");
  if (ms !== null && ms !== undefined && ms.trim() !== "") {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  const raw = get("retry-after");
  if (raw === null || raw === undefined || raw.trim() === "") return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names a weekday and month; a bare "-1" would otherwise parse as a year.
  if (!/[A-Za-z]/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Full jitter: uniform in [0, min(maxMs, baseMs·2^retry)). `retry` counts from 0. */
export function fullJitterMs(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

/** Real sleep that rejects with the signal's reason when it aborts. */
export async function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) {
    signal?.throwIfAborted();
    return;
  }
  const { setTimeout: wait } = await import("node:timers/promises");
  await wait(ms, undefined, signal === undefined ? {} : { signal });
}
