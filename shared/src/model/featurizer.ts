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
import { FNV1A32_OFFSET_BASIS, codePoints, fnv1a32CodePoint, fnv1a32Update } from "./hash.ts";

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

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

/** Distinct tokens whose features `featurize` keeps per settings object; the cache empties when full. */
export const TOKEN_CACHE_MAX_ENTRIES = 50_000;
/**
 * Per token: [FNV state after "b:" + token + " " (as int32), word id, char n-gram ids…]. Keyed by the
 * token as it appears in the lowercased text (apostrophes included: they fix which bytes it hashes).
 */
const tokenCaches = new WeakMap<FeaturizerSettings, Map<string, Int32Array>>();
let scratch = new Int32Array(DEFAULT_MAX_FEATURES);

function cacheFor(settings: FeaturizerSettings): Map<string, Int32Array> {
  let cache = tokenCaches.get(settings);
  if (cache === undefined) {
    cache = new Map();
    tokenCaches.set(settings, cache);
  }
  return cache;
}

/** Continues `h` with the token's bytes, apostrophes skipped (ASCII). */
function hashToken(h: number, token: string): number {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c !== APOSTROPHE) h = fnv1a32CodePoint(h, c);
  }
  return h;
}

function tokenFeatures(token: string, settings: FeaturizerSettings): Int32Array {
  const { buckets } = settings;
  const bytes: number[] = [OPEN];
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c !== APOSTROPHE) bytes.push(c);
  }
  bytes.push(CLOSE);
  const ids: number[] = [
    fnv1a32CodePoint(hashToken(H_BIGRAM, token), 32) | 0,
    hashToken(H_WORD, token) % buckets,
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

/**
 * The same ids as the general path for ASCII text (NFKC is the identity on ASCII; letters and
 * digits are [a-z0-9] after lowercasing), without regexes; each distinct token is hashed once and
 * its ids kept in a bounded cache.
 */
function featurizeAscii(text: string, settings: FeaturizerSettings, out: Int32Array, at: number): number {
  const { buckets, maxFeatures } = settings;
  const lower = text.toLowerCase();
  const n0 = lower.length;
  const cache = cacheFor(settings);
  const tokens: Int32Array[] = [];
  const words: string[] = [];
  let from = -1;
  for (let i = 0; i <= n0; i++) {
    const c = i < n0 ? lower.charCodeAt(i) : 0;
    if (isAlnum(c)) {
      if (from < 0) from = i;
    } else if (from >= 0 && c === APOSTROPHE && isAlnum(lower.charCodeAt(i + 1))) {
      continue; // an apostrophe between letters/digits is dropped, the token goes on
    } else if (from >= 0) {
      const token = lower.slice(from, i);
      let ids = cache.get(token);
      if (ids === undefined) {
        if (cache.size >= TOKEN_CACHE_MAX_ENTRIES) cache.clear();
        ids = tokenFeatures(token, settings);
        cache.set(token, ids);
      }
      tokens.push(ids);
      words.push(token);
      from = -1;
    }
  }
  const count = tokens.length;
  const base = at;
  let n = 0;
  for (let t = 0; t < count && n < maxFeatures; t++) out[base + n++] = tokens[t]?.[1] ?? 0;
  if (settings.wordNgrams >= 2) {
    for (let t = 0; t + 1 < count && n < maxFeatures; t++) {
      // The cached "b:" + token + " " state, continued over the next token's bytes.
      out[base + n++] = hashToken((tokens[t]?.[0] ?? 0) >>> 0, words[t + 1] ?? "") % buckets;
    }
  }
  if (charsOn(settings)) {
    for (let t = 0; t < count && n < maxFeatures; t++) {
      const ids = tokens[t];
      if (ids === undefined) continue;
      const take = Math.min(ids.length - 2, maxFeatures - n);
      out.set(ids.subarray(2, 2 + take), base + n);
      n += take;
    }
  }
  return n;
}

/**
 * Writes `text`'s ids (as `featurize` gives them) into `out` from `at`, which needs room for
 * `settings.maxFeatures`; returns how many. Lets a batch encoder skip one array per text.
 */
export function featurizeInto(
  text: string,
  settings: FeaturizerSettings,
  out: Int32Array,
  at: number,
): number {
  if (isAscii(text)) return featurizeAscii(text, settings, out, at);
  const ids = featurize(text, settings);
  out.set(ids, at);
  return ids.length;
}

/** Bucket ids in [0, buckets) of `text`'s features (duplicates kept), without building strings. */
export function featurize(text: string, settings: FeaturizerSettings): Int32Array {
  if (isAscii(text)) {
    if (scratch.length < settings.maxFeatures) scratch = new Int32Array(settings.maxFeatures);
    return scratch.slice(0, featurizeAscii(text, settings, scratch, 0));
  }
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
