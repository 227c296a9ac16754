// Optional callback: POSTs a deferred result to the URL the caller gave. Best effort (the result stays
// available at GET /v1/results/:id); failures are logged, never thrown.
import type { InferResult, Logger } from "@tiergate/shared";

export const CALLBACK_TIMEOUT_MS = 5_000;

export function postCallback(url: string, result: InferResult, logger: Logger): void {
  void fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(result),
    signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
  })
    .then((res) => {
      if (!res.ok) logger.warn("result callback refused", { url, status: res.status, id: result.id });
    })
    .catch((err: unknown) => logger.warn("result callback failed", { url, id: result.id, err: String(err) }));
}
