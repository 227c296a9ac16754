// The example policy's LLM endpoints become tier options: keys resolved from env, fallback order
// kept, and a missing variable or unknown endpoint refused with a typed error.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TiergateError, loadPolicyFile } from "@tiergate/shared";
import { endpointsFromPolicy } from "./from-policy.ts";

const EXAMPLE = fileURLToPath(new URL("../../../deploy/policies/example.yaml", import.meta.url));

describe("endpointsFromPolicy", () => {
  it("adapts the example policy's endpoints in fallback order with resolved keys", async () => {
    const { policy } = await loadPolicyFile(EXAMPLE);
    const names = Object.keys(policy.llm.endpoints);
    const env = { TIERGATE_LLM_API_KEY: "sk-test", TIERGATE_LLM_FALLBACK_API_KEY: "sk-other" };
    const eps = endpointsFromPolicy(policy, [...names].reverse(), env);
    expect(eps.map((e) => e.name)).toEqual([...names].reverse());
    const standin = eps.find((e) => e.name === "standin");
    expect(standin).toMatchObject({
      apiKey: "sk-test",
      model: "gpt-4o-mini",
      timeoutMs: 10_000,
      maxRetries: 2,
    });
    expect(standin?.pricing.inputPerMTokUsd).toBe(0.15);
  });

  it("refuses a missing key variable and an unknown endpoint", async () => {
    const { policy } = await loadPolicyFile(EXAMPLE);
    expect(() => endpointsFromPolicy(policy, ["standin"], {})).toThrow(TiergateError);
    expect(() => endpointsFromPolicy(policy, ["nope"], { TIERGATE_LLM_API_KEY: "x" })).toThrow(
      /no LLM endpoint named "nope"/,
    );
  });
});
