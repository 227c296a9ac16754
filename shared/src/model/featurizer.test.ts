import { describe, expect, it } from "vitest";
import {
  TOKEN_CACHE_MAX_ENTRIES,
  featureStrings,
  featurize,
  featurizeInto,
  normalizeText,
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
});
