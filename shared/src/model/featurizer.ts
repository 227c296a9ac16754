// Text → hashed feature ids. Identical at training and inference: the settings travel in the model
// manifest and `featurize` is the only implementation.
//
// 1. normalise: Unicode NFKC, then case folding (toLowerCase), then NFKC again so folded
//    compatibility characters stay normalised.
// 2. tokens: maximal runs of letters, marks and digits (\p{L}\p{M}\p{N}); an apostrophe between two
//    letters or digits is dropped first ("don't" → "dont").
// 3. features, each hashed with FNV-1a 32 over UTF-8 (hash.ts), then `hash % buckets`:
//    "w:" + token                        word unigrams
//    "b:" + t[i] + " " + t[i+1]          word bigrams (wordNgrams = 2)
//    "c:" + n-gram of "<" + token + ">"  character n-grams, charNgramMin..charNgramMax code points;
//                                        per token, per start position, shortest first
//    In that order (all words, all bigrams, then char n-grams), cut at `maxFeatures`.
import { z } from "zod";
import { FNV1A32_OFFSET_BASIS, bucketOf, codePoints, fnv1a32CodePoint, fnv1a32Update } from "./hash.ts";

export const FEATURIZER_VERSION = 1;
export const DEFAULT_MAX_FEATURES = 256;

export const FeaturizerSettingsSchema = z.strictObject({
  version: z.literal(FEATURIZER_VERSION),
  hash: z.literal("fnv1a32-utf8"),
  buckets: z
    .int()
    .min(1)
    .max(2 ** 31 - 1),
  wordNgrams: z.int().min(1).max(2),
  /** 0 turns character n-grams off. */
  charNgramMin: z.int().min(0).max(10),
  charNgramMax: z.int().min(0).max(10),
  maxFeatures: z.int().min(1).max(65_536),
});
export type FeaturizerSettings = z.infer<typeof FeaturizerSettingsSchema>;

export function normalizeText(text: string): string {
  return text.normalize("NFKC").toLowerCase().normalize("NFKC");
}

const TOKEN_RE = /[\p{L}\p{M}\p{N}]+/gu;
const APOSTROPHES_RE = /(?<=[\p{L}\p{N}])['’](?=[\p{L}\p{N}])/gu;
const OPEN = "<".codePointAt(0) ?? 0;
const CLOSE = ">".codePointAt(0) ?? 0;
const H_WORD = fnv1a32Update(FNV1A32_OFFSET_BASIS, "w:");
const H_BIGRAM = fnv1a32Update(FNV1A32_OFFSET_BASIS, "b:");
const H_CHAR = fnv1a32Update(FNV1A32_OFFSET_BASIS, "c:");

export function tokenize(text: string): string[] {
  return normalizeText(text).replace(APOSTROPHES_RE, "").match(TOKEN_RE) ?? [];
}

function charsOn(s: FeaturizerSettings): boolean {
  return s.charNgramMin > 0 && s.charNgramMax >= s.charNgramMin;
}

/** Feature strings before hashing, in `featurize`'s order (for tests and debugging). */
export function featureStrings(text: string, settings: FeaturizerSettings): string[] {
  const tokens = tokenize(text);
  const out: string[] = tokens.map((t) => `w:${t}`);
  if (settings.wordNgrams >= 2) {
    for (let i = 0; i + 1 < tokens.length; i++) out.push(`b:${tokens[i]} ${tokens[i + 1]}`);
  }
  if (charsOn(settings)) {
    for (const t of tokens) {
      const cps = Array.from(`<${t}>`);
      for (let i = 0; i < cps.length; i++) {
        for (let n = settings.charNgramMin; n <= settings.charNgramMax && i + n <= cps.length; n++) {
          out.push(`c:${cps.slice(i, i + n).join("")}`);
        }
      }
    }
  }
  return out.slice(0, settings.maxFeatures);
}

const APOSTROPHE = 0x27;

function isAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

/** ASCII lowercasing of one UTF-16 unit (others unchanged). */
function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** Distinct tokens whose features `featurize` keeps per settings object; the cache empties when full. */
export const TOKEN_CACHE_MAX_ENTRIES = 50_000;
/** The token table's first size (slots; a power of two). */
export const TOKEN_TABLE_MIN_SLOTS = 1024;

/**
 * Tokens whose own features (word unigram and character n-grams) a model has summed into one
 * embedding row (its TOKEN_ROWS_FILE): `rowOf` gives that row, or -1. With it, `featurizeInto` writes
 * such a token as one id, `~row` (negative), in place of its word id and char n-gram ids; bigrams
 * are written as before. Only ASCII texts whose features all fit in `maxFeatures` take this path
 * (the sum is then the same, in another order); others get the plain ids.
 */
export interface TokenRows {
  rowOf(token: string): number;
}

/**
 * A token's features: ids = [FNV state after "b:" + token + " " (as int32), word id, char n-gram
 * ids…]. `token` is lowercased, apostrophes dropped (the bytes its features hash). `row` is its
 * TokenRows row, -1 for none or when featurizing without TokenRows.
 */
interface TokenEntry {
  readonly token: string;
  readonly ids: Int32Array;
  readonly row: number;
  /** ids[0] and ids.length - 2, here too: a lookup then reads one object, not the ids array as well. */
  readonly bigram: number;
  readonly chars: number;
}

/**
 * An open-addressing table from a token's "w:" hash to its entry (no string to slice and hash for
 * a lookup; a JS Map was a third of featurizing a word). An entry counts only if its token matches,
 * so two tokens with one hash both live in the table. Grows from TOKEN_TABLE_MIN_SLOTS, at most half full.
 */
class TokenTable {
  #hashes = new Int32Array(TOKEN_TABLE_MIN_SLOTS);
  #entries: (TokenEntry | undefined)[] = new Array<TokenEntry | undefined>(TOKEN_TABLE_MIN_SLOTS).fill(
    undefined,
  );
  #mask = TOKEN_TABLE_MIN_SLOTS - 1;
  size = 0;

  /** The entry of the token at `text[from, to)` whose "w:" hash is `h`. */
  get(h: number, text: string, from: number, to: number): TokenEntry | undefined {
    const key = h | 0;
    for (let slot = key & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = this.#entries[slot];
      if (entry === undefined) return undefined;
      if (this.#hashes[slot] === key && sameToken(text, from, to, entry.token)) return entry;
    }
  }

  set(h: number, entry: TokenEntry): void {
    if (this.size >= TOKEN_CACHE_MAX_ENTRIES) this.clear();
    if (2 * (this.size + 1) > this.#entries.length) this.#grow();
    this.#put(h | 0, entry);
    this.size++;
  }

  clear(): void {
    this.#entries.fill(undefined);
    this.size = 0;
  }

  #put(key: number, entry: TokenEntry): void {
    let slot = key & this.#mask;
    while (this.#entries[slot] !== undefined) slot = (slot + 1) & this.#mask;
    this.#hashes[slot] = key;
    this.#entries[slot] = entry;
  }

  #grow(): void {
    const hashes = this.#hashes;
    const entries = this.#entries;
    this.#hashes = new Int32Array(hashes.length * 2);
    this.#entries = new Array<TokenEntry | undefined>(entries.length * 2).fill(undefined);
    this.#mask = this.#entries.length - 1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e !== undefined) this.#put(hashes[i] ?? 0, e);
    }
  }
}

/** Token caches by settings object, or by TokenRows object (its `row`s are that model's). */
const tokenCaches = new WeakMap<FeaturizerSettings | TokenRows, TokenTable>();
let scratch = new Int32Array(DEFAULT_MAX_FEATURES);
/** One ASCII call's token entries and bigram ids (reused: featurizing never yields). */
const tokenScratch: TokenEntry[] = [];
let bigramScratch = new Int32Array(DEFAULT_MAX_FEATURES);

function cacheFor(key: FeaturizerSettings | TokenRows): TokenTable {
  let cache = tokenCaches.get(key);
  if (cache === undefined) {
    cache = new TokenTable();
    tokenCaches.set(key, cache);
  }
  return cache;
}

/**
 * The buckets of an ASCII token's own features, as `featurize` gives them: its word unigram, then
 * its character n-grams. `token` is as `tokenize` gives it ([a-z0-9]+). What a TokenRows row sums.
 */
export function tokenBuckets(token: string, settings: FeaturizerSettings): Int32Array {
  return tokenFeatures(token, settings).subarray(1);
}

function tokenFeatures(token: string, settings: FeaturizerSettings): Int32Array {
  const { buckets } = settings;
  const bytes: number[] = [OPEN];
  for (let i = 0; i < token.length; i++) bytes.push(token.charCodeAt(i));
  bytes.push(CLOSE);
  const ids: number[] = [
    fnv1a32CodePoint(fnv1a32Update(H_BIGRAM, token), 32) | 0,
    fnv1a32Update(H_WORD, token) % buckets,
  ];
  if (charsOn(settings)) {
    const { charNgramMin: lo, charNgramMax: hi } = settings;
    for (let i = 0; i < bytes.length; i++) {
      let h = H_CHAR;
      for (let k = 1; k <= hi && i + k <= bytes.length; k++) {
        h = fnv1a32CodePoint(h, bytes[i + k - 1] ?? 0);
        if (k >= lo) ids.push(h % buckets);
      }
    }
  }
  return Int32Array.from(ids);
}

/** `text[from, to)` lowercased, apostrophes skipped, equals `token`. */
function sameToken(text: string, from: number, to: number, token: string): boolean {
  let k = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === APOSTROPHE) continue;
    if (lowerAscii(c) !== token.charCodeAt(k++)) return false;
  }
  return k === token.length;
}

/**
 * The same ids as the general path for ASCII text (NFKC is the identity on ASCII; letters and
 * digits are [a-z0-9] after lowercasing), in one pass without regexes or per-token strings: the
 * pass hashes each token's "w:" and its bigram with the previous token as it reads the characters,
 * and each distinct token's other ids come from a bounded cache. Returns -1 (having written some
 * of `out`) when the text is not ASCII.
 */
function featurizeAscii(
  text: string,
  settings: FeaturizerSettings,
  out: Int32Array,
  at: number,
  tokenRows: TokenRows | undefined,
): number {
  const { buckets, maxFeatures } = settings;
  const cache = cacheFor(tokenRows ?? settings);
  if (bigramScratch.length < maxFeatures) bigramScratch = new Int32Array(maxFeatures);
  const bigrams = settings.wordNgrams >= 2;
  const len = text.length;
  let count = 0;
  let from = -1;
  let hw = 0;
  let hb = 0;
  let prev: TokenEntry | undefined;
  for (let i = 0; i <= len; i++) {
    const c = i < len ? lowerAscii(text.charCodeAt(i)) : 0;
    if (c > 0x7f) return -1;
    if (isAlnum(c)) {
      if (from < 0) {
        from = i;
        hw = H_WORD;
        hb = prev === undefined ? 0 : prev.bigram >>> 0;
      }
      hw = fnv1a32CodePoint(hw, c);
      hb = fnv1a32CodePoint(hb, c);
    } else if (from >= 0 && c === APOSTROPHE && isAlnum(lowerAscii(text.charCodeAt(i + 1)))) {
      continue; // an apostrophe between letters/digits is dropped, the token goes on
    } else if (from >= 0) {
      if (count < maxFeatures) {
        let entry = cache.get(hw, text, from, i);
        if (entry === undefined) {
          const token = text.slice(from, i).toLowerCase().replaceAll("'", "");
          const ids = tokenFeatures(token, settings);
          const row = tokenRows?.rowOf(token) ?? -1;
          entry = { token, ids, row, bigram: ids[0] ?? 0, chars: ids.length - 2 };
          cache.set(hw, entry);
        }
        out[at + count] = bucketOf(hw, buckets);
        if (prev !== undefined && bigrams) bigramScratch[count - 1] = bucketOf(hb, buckets);
        tokenScratch[count] = entry;
        prev = entry;
      }
      count++;
      from = -1;
    }
  }
  if (tokenRows !== undefined && count <= maxFeatures) {
    const n = withTokenRows(out, at, count, bigrams, charsOn(settings), maxFeatures);
    if (n >= 0) return n;
  }
  let n = Math.min(count, maxFeatures);
  if (bigrams) {
    const take = Math.min(count - 1, maxFeatures - n);
    for (let t = 0; t < take; t++) out[at + n++] = bigramScratch[t] ?? 0;
  }
  if (charsOn(settings)) {
    for (let t = 0; t < count && n < maxFeatures; t++) {
      const ids = tokenScratch[t]?.ids;
      if (ids === undefined) break;
      const end = Math.min(ids.length, 2 + maxFeatures - n);
      for (let j = 2; j < end; j++) out[at + n++] = ids[j] ?? 0;
    }
  }
  return n;
}

/**
 * The ids of `featurizeAscii`'s `count` tokens (in tokenScratch, their word ids already in `out`)
 * with TokenRows: per token `~row` or its word id, the bigrams, then the char n-grams of the tokens
 * without a row. -1 when the plain features would not all fit in `maxFeatures` (the plain path then
 * cuts them, and the sum would differ).
 */
function withTokenRows(
  out: Int32Array,
  at: number,
  count: number,
  bigrams: boolean,
  chars: boolean,
  maxFeatures: number,
): number {
  let plain = bigrams && count > 0 ? 2 * count - 1 : count;
  if (chars) for (let t = 0; t < count; t++) plain += tokenScratch[t]?.chars ?? 0;
  if (plain > maxFeatures) return -1;
  for (let t = 0; t < count; t++) {
    const row = tokenScratch[t]?.row ?? -1;
    if (row >= 0) out[at + t] = ~row;
  }
  let n = count;
  if (bigrams) for (let t = 0; t + 1 < count; t++) out[at + n++] = bigramScratch[t] ?? 0;
  if (chars) {
    for (let t = 0; t < count; t++) {
      const entry = tokenScratch[t];
      if (entry === undefined || entry.row >= 0) continue;
      const ids = entry.ids;
      for (let j = 2; j < ids.length; j++) out[at + n++] = ids[j] ?? 0;
    }
  }
  return n;
}

/**
 * Writes `text`'s ids (as `featurize` gives them) into `out` from `at`, which needs room for
 * `settings.maxFeatures`; returns how many. Lets a batch encoder skip one array per text. With
 * `tokenRows`, a token that has a row is one id `~row` instead of its own features (TokenRows).
 */
export function featurizeInto(
  text: string,
  settings: FeaturizerSettings,
  out: Int32Array,
  at: number,
  tokenRows?: TokenRows,
): number {
  const n = featurizeAscii(text, settings, out, at, tokenRows);
  if (n >= 0) return n;
  const ids = featurizeGeneral(text, settings);
  out.set(ids, at);
  return ids.length;
}

/** Bucket ids in [0, buckets) of `text`'s features (duplicates kept), without building strings. */
export function featurize(text: string, settings: FeaturizerSettings): Int32Array {
  if (scratch.length < settings.maxFeatures) scratch = new Int32Array(settings.maxFeatures);
  const n = featurizeAscii(text, settings, scratch, 0, undefined);
  return n >= 0 ? scratch.slice(0, n) : featurizeGeneral(text, settings);
}

/** The general path (any Unicode text): normalise, tokenize with regexes, hash each feature. */
function featurizeGeneral(text: string, settings: FeaturizerSettings): Int32Array {
  const { buckets, maxFeatures } = settings;
  const tokens = tokenize(text);
  const out = new Int32Array(maxFeatures);
  let n = 0;
  for (const t of tokens) {
    if (n >= maxFeatures) break;
    out[n++] = fnv1a32Update(H_WORD, t) % buckets;
  }
  if (settings.wordNgrams >= 2) {
    for (let i = 0; i + 1 < tokens.length && n < maxFeatures; i++) {
      const h = fnv1a32Update(
        fnv1a32CodePoint(fnv1a32Update(H_BIGRAM, tokens[i] ?? ""), 32),
        tokens[i + 1] ?? "",
      );
      out[n++] = h % buckets;
    }
  }
  if (charsOn(settings)) {
    const { charNgramMin: lo, charNgramMax: hi } = settings;
    for (const t of tokens) {
      if (n >= maxFeatures) break;
      const cps = [OPEN, ...codePoints(t), CLOSE];
      for (let i = 0; i < cps.length && n < maxFeatures; i++) {
        let h = H_CHAR;
        for (let k = 1; k <= hi && i + k <= cps.length && n < maxFeatures; k++) {
          h = fnv1a32CodePoint(h, cps[i + k - 1] ?? 0);
          if (k >= lo) out[n++] = h % buckets;
        }
      }
    }
  }
  return out.slice(0, n);
}
