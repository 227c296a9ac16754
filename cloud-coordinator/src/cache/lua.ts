// Runs a Lua script by its SHA-1 (EVALSHA) and loads it once on NOSCRIPT (after a Redis restart or
// SCRIPT FLUSH), so hot paths send 40 bytes instead of the script text.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return await redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
