// Per-key rate limit kept in Redis, so every coordinator behind a load balancer enforces one budget.
// GCRA (the generic cell rate algorithm): one key per caller holding its "theoretical arrival time",
// updated atomically by a Lua script that reads Redis's own clock — a smooth sliding limit with a burst
// allowance, no per-request log, and no clock skew between coordinators.
import type { Redis } from "ioredis";
import { LuaScript } from "../cache/lua.ts";

export const DEFAULT_RATE_LIMIT_PER_SECOND = 50;
export const DEFAULT_RATE_LIMIT_BURST = 100;
export const RATE_LIMIT_KEY_PREFIX = "tg:rl:";

const GCRA = new LuaScript(`
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local newTat = tat + emission
local allowAt = newTat - emission * burst
if allowAt > now then
  return {0, math.ceil(allowAt - now), 0}
end
redis.call('SET', KEYS[1], tostring(newTat), 'PX', math.max(1, math.ceil(newTat - now)))
return {1, 0, math.floor((now - allowAt) / emission)}
`);

export type RateLimitDecision =
  { type: "allowed"; remaining: number } | { type: "limited"; retryAfterMs: number };

export type RedisRateLimiterOptions = {
  redis: Redis;
  /** Sustained requests per second per key. */
  perSecond?: number;
  /** Requests a key may send at once after being idle. */
  burst?: number;
  keyPrefix?: string;
};

export class RedisRateLimiter {
  readonly #redis: Redis;
  readonly #emissionMs: number;
  readonly #burst: number;
  readonly #prefix: string;

  constructor(options: RedisRateLimiterOptions) {
    const perSecond = options.perSecond ?? DEFAULT_RATE_LIMIT_PER_SECOND;
    const burst = options.burst ?? DEFAULT_RATE_LIMIT_BURST;
    if (!(perSecond > 0) || !Number.isInteger(burst) || burst < 1)
      throw new RangeError(
        `rate limit needs perSecond > 0 and an integer burst ≥ 1 (got ${perSecond}, ${burst})`,
      );
    this.#redis = options.redis;
    this.#emissionMs = 1000 / perSecond;
    this.#burst = burst;
    this.#prefix = options.keyPrefix ?? RATE_LIMIT_KEY_PREFIX;
  }

  /** Takes one request from `key`'s budget, atomically. */
  async consume(key: string): Promise<RateLimitDecision> {
    const raw = await GCRA.run(this.#redis, [this.#prefix + key], [this.#emissionMs, this.#burst]);
    const [ok, retryAfterMs, remaining] = Array.isArray(raw) ? raw.map(Number) : [];
    return ok === 1
      ? { type: "allowed", remaining: remaining ?? 0 }
      : { type: "limited", retryAfterMs: Math.max(1, retryAfterMs ?? 1) };
  }
}
