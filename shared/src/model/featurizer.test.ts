import { describe, expect, it } from "vitest";
import {
  TOKEN_CACHE_MAX_ENTRIES,
  featureStrings,
  featurize,
  featurizeInto,
  normalizeText,
  tokenBuckets,
  tokenize,
} from "./featurizer.ts";
import type { FeaturizerSettings } from "./featurizer.ts";
import { bucketOf, fnv1a32 } from "./hash.ts";

const SETTINGS: FeaturizerSettings = {
  version: 1,
  hash: "fnv1a32-utf8",
  buckets: 1000,
  wordNgrams: 2,
  charNgramMin: 3,
  charNgramMax: 5,
  maxFeatures: 256,
};

describe("fnv1a32", () => {
  it.each([
    ["", 0x811c9dc5],
    ["a", 0xe40c292c],
    ["foobar", 0xbf9cf968],
    ["é", 0x1e9de8c1],
    ["日本", 0x9f26ee51],
    ["😀", 0x33a29608],
  ])("hashes %j over UTF-8", (text, want) => {
    expect(fnv1a32(text)).toBe(want);
  });
});

describe("featurizer", () => {
  it("normalises with NFKC and case folding", () => {
    expect(normalizeText("ＨＥＬＬＯ Ⅻ ﬁne")).toBe("hello xii fine");
    expect(tokenize("Don't  STOP—me, now!")).toEqual(["dont", "stop", "me", "now"]);
  });

  it("produces words, bigrams, then character n-grams", () => {
    expect(featureStrings("Hi you", SETTINGS)).toEqual([
      "w:hi",
      "w:you",
      "b:hi you",
      "c:<hi",
      "c:<hi>",
      "c:hi>",
      "c:<yo",
      "c:<you",
      "c:<you>",
      "c:you",
      "c:you>",
      "c:ou>",
    ]);
  });

  it("matches fixed bucket ids (a model trained today stays valid)", () => {
    expect(
      Array.from(featurize("Don't ＨＥＬＬＯ world!", { ...SETTINGS, charNgramMin: 0, charNgramMax: 0 })),
    ).toEqual([239, 756, 160, 546, 943]);
    expect(Array.from(featurize("Hi you", SETTINGS))).toEqual(
      featureStrings("Hi you", SETTINGS).map((f) => fnv1a32(f) % 1000),
    );
  });

  it("hashes exactly the documented strings for any text", () => {
    const texts = [
      "日本 😀x",
      "a",
      "",
      "what's my balance on my 2nd card?",
      "x".repeat(400),
      "'a' b''c d'e' 'f",
      "A'B'C!!",
      "Hi , THERE'S 42'nd",
    ];
    for (const text of texts) {
      const want = featureStrings(text, SETTINGS).map((f) => fnv1a32(f) % SETTINGS.buckets);
      expect(Array.from(featurize(text, SETTINGS))).toEqual(want);
    }
  });

  it("cuts at maxFeatures", () => {
    expect(featurize("a b c d e f", { ...SETTINGS, maxFeatures: 4 })).toHaveLength(4);
  });

  it("gives the same ids from the token cache, also once it has filled and emptied", () => {
    const text = "what's my balance on my 2nd card?";
    const want = featureStrings(text, SETTINGS).map((f) => fnv1a32(f) % SETTINGS.buckets);
    const settings = { ...SETTINGS };
    expect(Array.from(featurize(text, settings))).toEqual(want);
    expect(Array.from(featurize(text, settings))).toEqual(want);
    for (let i = 0; i <= TOKEN_CACHE_MAX_ENTRIES; i++) featurize(`t${i.toString(36)}`, settings);
    expect(Array.from(featurize(text, settings))).toEqual(want);
    expect(Array.from(featurize(text, { ...settings, buckets: 97 }))).toEqual(
      featureStrings(text, SETTINGS).map((f) => fnv1a32(f) % 97),
    );
  });

  it("keeps two tokens apart whose word hashes are equal (the token table's key)", () => {
    // fnv1a32("w:nbkmra") === fnv1a32("w:gkelhb"): one slot key, two tokens.
    expect(fnv1a32("w:nbkmra")).toBe(fnv1a32("w:gkelhb"));
    const settings = { ...SETTINGS };
    for (const text of ["nbkmra gkelhb", "gkelhb nbkmra", "NBKMRA", "gkelhb"]) {
      const want = featureStrings(text, SETTINGS).map((f) => fnv1a32(f) % SETTINGS.buckets);
      expect(Array.from(featurize(text, settings))).toEqual(want);
      expect(Array.from(featurize(text, settings))).toEqual(want);
    }
  });

  it("takes the bucket of a hash exactly as the remainder", () => {
    const hashes = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 0xdeadbeef, 3445817461];
    for (const buckets of [1, 2, 97, 1000, 2 ** 16, 2 ** 19, 2 ** 31 - 1])
      for (const h of hashes) expect(bucketOf(h, buckets)).toBe(h % buckets);
  });

  it("writes the same ids into a shared buffer at an offset (ASCII and not)", () => {
    const out = new Int32Array(3 + 2 * SETTINGS.maxFeatures).fill(-7);
    const a = featurizeInto("what's my balance?", SETTINGS, out, 3);
    const b = featurizeInto("日本 😀x café", SETTINGS, out, 3 + a);
    expect(Array.from(out.subarray(0, 3))).toEqual([-7, -7, -7]);
    expect(Array.from(out.subarray(3, 3 + a))).toEqual(Array.from(featurize("what's my balance?", SETTINGS)));
    expect(Array.from(out.subarray(3 + a, 3 + a + b))).toEqual(
      Array.from(featurize("日本 😀x café", SETTINGS)),
    );
  });

  it("writes a token that has a token row as one id ~row in place of its own features, bigrams kept", () => {
    const text = "What's my balance today?";
    const rowOf = (t: string) => (t === "balance" ? 7 : t === "my" ? 0 : -1);
    const out = new Int32Array(SETTINGS.maxFeatures);
    const n = featurizeInto(text, SETTINGS, out, 0, { rowOf });
    const got = Array.from(out.subarray(0, n));
    const plain = Array.from(featurize(text, SETTINGS));
    const own = (t: string) => Array.from(tokenBuckets(t, SETTINGS));
    // plain: words, bigrams, then each token's char n-grams; with rows, "my" and "balance" are ~0 and ~7
    const words = ["whats", "my", "balance", "today"];
    const bigrams = plain.slice(words.length, 2 * words.length - 1);
    const want = [
      own("whats")[0],
      ~0,
      ~7,
      own("today")[0],
      ...bigrams,
      ...own("whats").slice(1),
      ...own("today").slice(1),
    ];
    expect(got).toEqual(want);
    // a token's own features are its word id and char n-gram ids, as the plain path gives them
    expect(plain).toEqual([
      ...words.map((w) => own(w)[0]),
      ...bigrams,
      ...words.flatMap((w) => own(w).slice(1)),
    ]);
    // non-ASCII text takes the plain path
    const m = featurizeInto("my café balance", SETTINGS, out, 0, { rowOf });
    expect(Array.from(out.subarray(0, m))).toEqual(Array.from(featurize("my café balance", SETTINGS)));
  });

  it("gives the plain ids when the features would not all fit in maxFeatures", () => {
    const settings: FeaturizerSettings = { ...SETTINGS, maxFeatures: 20 };
    const rows = { rowOf: (t: string) => (t === "balance" ? 3 : -1) };
    const out = new Int32Array(settings.maxFeatures);
    const long = "show me the balance of my savings account please";
    const n = featurizeInto(long, settings, out, 0, rows);
    expect(Array.from(out.subarray(0, n))).toEqual(Array.from(featurize(long, settings)));
    const short = featurizeInto("balance", settings, out, 0, rows); // 1 word + 18 char n-grams: fits
    expect(Array.from(out.subarray(0, short))).toEqual([~3]);
  });
});
