import { describe, expect, it } from "vitest";
import { normaliseText, resultCacheKey } from "./result-cache.ts";

const base = { task: "intent", policyVersion: "1.0", modelVersion: "medium@3", text: "Hello World" };

describe("normaliseText", () => {
  it.each([
    ["  Hello\tWORLD \n", "hello world"],
    ["ｆｕｌｌ width", "full width"],
    ["already normal", "already normal"],
  ])("%j → %j", (input, expected) => {
    expect(normaliseText(input)).toBe(expected);
  });
});

describe("resultCacheKey", () => {
  it("is shared by texts that differ only in case and spacing", () => {
    expect(resultCacheKey({ ...base, text: "  hello   world" })).toBe(resultCacheKey(base));
  });
  it.each([
    ["task", { task: "other" }],
    ["policy version", { policyVersion: "1.1" }],
    ["model version", { modelVersion: "medium@4" }],
    ["text", { text: "hello worlds" }],
  ])("changes with the %s", (_what, change) => {
    expect(resultCacheKey({ ...base, ...change })).not.toBe(resultCacheKey(base));
  });
  it("does not contain the text", () => {
    expect(resultCacheKey(base)).not.toMatch(/hello/i);
    expect(resultCacheKey(base).startsWith("tg:cache:v1:intent:")).toBe(true);
  });
  it("keeps fields apart (no ambiguity from concatenation)", () => {
    expect(resultCacheKey({ ...base, policyVersion: "1.0a", modelVersion: "b" })).not.toBe(
      resultCacheKey({ ...base, policyVersion: "1.0", modelVersion: "ab" }),
    );
  });
});
