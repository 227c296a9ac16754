import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  actionFor,
  cloudTiers,
  edgeTiers,
  getTask,
  isNeverEscalate,
  isRejectLabel,
  isUpgradeLabel,
  llmCostUsd,
  llmEndpointsFor,
  renderTemplate,
  tierCostUsd,
} from "./evaluate.ts";
import { loadPolicyFile } from "./load.ts";
import { isLlmTier, type Policy, type Task } from "./schema.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../../deploy/policies/example.yaml");

describe("policy evaluator on the example policy", () => {
  let policy: Policy;
  let task: Task;
  beforeAll(async () => {
    policy = (await loadPolicyFile(EXAMPLE)).policy;
    task = getTask(policy, "intent")!;
  });

  it("splits tiers by where, in order", () => {
    expect(edgeTiers(task).map((t) => t.name)).toEqual(["nano", "small"]);
    expect(cloudTiers(task).map((t) => t.name)).toEqual(["medium", "llm"]);
    expect(getTask(policy, "toString")).toBeUndefined();
  });

  it.each([
    ["balance", { type: "template" }],
    ["pin_change", { type: "refuse" }],
    ["flight_status", undefined],
  ] as const)("action for %s", (label, expected) => {
    const action = actionFor(task, label);
    if (expected === undefined) expect(action).toBeUndefined();
    else expect(action).toMatchObject(expected);
  });

  it.each([
    ["oos", true, false, false],
    ["pin_change", false, true, false],
    ["transfer", false, false, true],
    ["balance", false, false, false],
  ] as const)("label %s: reject=%s neverEscalate=%s upgrade=%s", (label, reject, never, upgrade) => {
    expect(isRejectLabel(task, label)).toBe(reject);
    expect(isNeverEscalate(policy, "intent", label)).toBe(never);
    expect(isUpgradeLabel(task, label)).toBe(upgrade);
  });

  it("prices tiers and LLM calls", () => {
    expect(tierCostUsd(policy, "medium")).toBe(0.00001);
    expect(tierCostUsd(policy, "unpriced")).toBe(0);
    const llm = task.tiers.find(isLlmTier)!;
    const endpoints = llmEndpointsFor(policy, llm);
    expect(endpoints.map((e) => e.name)).toEqual(["standin", "fallback"]);
    expect(llmCostUsd(endpoints[0]!.endpoint, 1_000_000, 1_000_000)).toBeCloseTo(0.75, 10);
  });

  it("renders templates", () => {
    expect(
      renderTemplate("{label} by {tier} for {task} at {confidence}", {
        label: "balance",
        tier: "nano",
        task: "intent",
        confidence: 0.987,
      }),
    ).toBe("balance by nano for intent at 0.99");
    const vars = { label: "a", tier: "b", task: "c", confidence: 1 };
    expect(renderTemplate("{label}{label} {x} {tier}", vars)).toBe("aa {x} b");
    expect(renderTemplate("{label}{label} {x} {tier}", { ...vars, label: "z" })).toBe("zz {x} b");
    expect(renderTemplate("no variables", vars)).toBe("no variables");
  });
});
