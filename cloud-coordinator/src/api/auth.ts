// API keys for the cloud HTTP API. Keys are kept only as SHA-256 digests and compared with
// `crypto.timingSafeEqual` against every stored digest (no early exit), so neither the comparison
// nor the number of keys checked tells a caller how close a guess was.
import { createHash, timingSafeEqual } from "node:crypto";

/** Characters of the key's digest used as its public id (logs, rate-limit keys); never the key itself. */
export const KEY_ID_HEX_CHARS = 12;
/** Shortest API key accepted in configuration. */
export const MIN_API_KEY_CHARS = 16;

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

export type ApiKeyVerifierOptions = {
  /** The accepted keys, in clear (from the environment); only their digests are kept. */
  keys: readonly string[];
};

export class ApiKeyVerifier {
  readonly #digests: Buffer[];

  constructor(options: ApiKeyVerifierOptions) {
    this.#digests = options.keys.map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  /** The key's id when `presented` is one of the keys, else undefined. Constant time in the key's content. */
  verify(presented: string): string | undefined {
    const candidate = digest(presented);
    let match: Buffer | undefined;
    for (const d of this.#digests) {
      if (timingSafeEqual(d, candidate)) match = d;
    }
    return match === undefined ? undefined : match.toString("hex").slice(0, KEY_ID_HEX_CHARS);
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/** Splits a comma- or newline-separated key list (as kept in one environment variable). */
export function parseKeyList(raw: string): string[] {
  return raw
    .split(/[,\n]/)
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}
