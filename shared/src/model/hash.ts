// FNV-1a, 32 bit, over the UTF-8 bytes of a string. Documented and stable: the featurizer's bucket
// ids depend on it, so a trained model is only valid with exactly this function.
//   h = 0x811c9dc5; for each byte b: h = (h XOR b) * 0x01000193 mod 2^32
// Reference vectors (from the FNV spec): "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
// Lone surrogates encode as U+FFFD, as TextEncoder does.

export const FNV1A32_OFFSET_BASIS = 0x811c9dc5;
export const FNV1A32_PRIME = 0x01000193;

function step(h: number, byte: number): number {
  return Math.imul(h ^ byte, FNV1A32_PRIME) >>> 0;
}

/** Continues hash state `h` with the UTF-8 bytes of one code point. */
export function fnv1a32CodePoint(h: number, cp: number): number {
  if (cp < 0x80) return step(h, cp);
  if (cp < 0x800) return step(step(h, 0xc0 | (cp >> 6)), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return step(step(step(h, 0xe0 | (cp >> 12)), 0x80 | ((cp >> 6) & 0x3f)), 0x80 | (cp & 0x3f));
  }
  h = step(step(h, 0xf0 | (cp >> 18)), 0x80 | ((cp >> 12) & 0x3f));
  return step(step(h, 0x80 | ((cp >> 6) & 0x3f)), 0x80 | (cp & 0x3f));
}

/** Code points of `text`; lone surrogates become U+FFFD. */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else cp = 0xfffd;
    } else if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    out.push(cp);
  }
  return out;
}

/** Continues hash state `h` with the UTF-8 bytes of `text`. */
export function fnv1a32Update(h: number, text: string): number {
  for (const cp of codePoints(text)) h = fnv1a32CodePoint(h, cp);
  return h;
}

/** FNV-1a 32-bit hash of `text` encoded as UTF-8. */
export function fnv1a32(text: string): number {
  return fnv1a32Update(FNV1A32_OFFSET_BASIS, text);
}

/**
 * `h % buckets` for a hash `h` in [0, 2^32) and 1 ≤ buckets < 2^31, without the floating-point
 * remainder `%` compiles to for values past int32 (3× slower). Exact: the rounded quotient is
 * within 2^-21 / buckets of h / buckets, less than the 1 / buckets between it and the next integer.
 */
export function bucketOf(h: number, buckets: number): number {
  return h - Math.floor(h / buckets) * buckets;
}
