export {};

// ── cloud pieces: off-peak windows, API keys, rate limit, caches (coordinator service helper) ──
export {
  isOffPeak,
  nextWindowStart,
  offPeakDelayMs,
  currentWindow,
  zonedTimeToInstant,
} from "./batch/off-peak.ts";
export type { OffPeakSpec, OffPeakWindowSpec, WindowInstant } from "./batch/off-peak.ts";
export { ApiKeyVerifier, bearerToken, parseKeyList } from "./api/auth.ts";
export { RedisRateLimiter } from "./api/rate-limit.ts";
export type { RateLimitDecision, RedisRateLimiterOptions } from "./api/rate-limit.ts";
export { ResultCache, resultCacheKey, normaliseText } from "./cache/result-cache.ts";
export type { CacheKeyParts, CacheLookup, ResultCacheOptions } from "./cache/result-cache.ts";
export { RequestDedup, InstancePresence } from "./cache/request-dedup.ts";
export type { DedupBegin, RequestDedupOptions } from "./cache/request-dedup.ts";
