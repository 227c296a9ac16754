import { describe, expect, it } from "vitest";
import { ApiKeyVerifier, bearerToken, parseKeyList, KEY_ID_HEX_CHARS } from "./auth.ts";

describe("ApiKeyVerifier", () => {
  const verifier = new ApiKeyVerifier({ keys: ["k1-0123456789abcdef", "k2-fedcba9876543210"] });

  it("accepts each configured key with a stable id that is not the key", () => {
    const id1 = verifier.verify("k1-0123456789abcdef");
    const id2 = verifier.verify("k2-fedcba9876543210");
    expect(id1).toHaveLength(KEY_ID_HEX_CHARS);
    expect(id2).toHaveLength(KEY_ID_HEX_CHARS);
    expect(id1).not.toBe(id2);
    expect(verifier.verify("k1-0123456789abcdef")).toBe(id1);
    expect(id1).not.toContain("k1");
  });

  it.each(["", "k1-0123456789abcde", "k1-0123456789abcdef ", "K1-0123456789ABCDEF", "k3-0123456789abcdef"])(
    "refuses %j",
    (presented) => {
      expect(verifier.verify(presented)).toBeUndefined();
    },
  );

  it("refuses everything when no key is configured", () => {
    expect(new ApiKeyVerifier({ keys: [] }).verify("anything-at-all-xx")).toBeUndefined();
  });
});

describe("bearerToken", () => {
  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["Bearer  abc ", "abc"],
    ["Basic abc", undefined],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    [undefined, undefined],
  ])("%j → %j", (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});

describe("parseKeyList", () => {
  it("splits on commas and newlines and drops blanks", () => {
    expect(parseKeyList(" a ,b\n\nc,")).toEqual(["a", "b", "c"]);
  });
});
