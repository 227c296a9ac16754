// Teachers and fault scripts: gold answers with a seeded error rate, the CLINC150 loader, and the
// fault tokens and rates the stand-in serves.
import { describe, expect, it } from "vitest";
import { FaultConfigSchema, FaultPlan, parseFaultToken } from "./faults.ts";
import { GoldTeacher, ModelTeacher, loadClincGold } from "./teacher.ts";

describe("GoldTeacher", () => {
  it("loads every CLINC150 split and answers gold labels", async () => {
    const gold = await loadClincGold();
    expect(gold.size).toBeGreaterThan(20_000);
    const labels = new Set(gold.values());
    expect(labels.size).toBe(151);
    const t = new GoldTeacher({ gold });
    const [text, label] = [...gold.entries()][1000] ?? ["", ""];
    expect(await t.label(`  ${text.toUpperCase()} `, [...labels])).toBe(label);
  });

  it("is wrong at about the configured rate, the same way every time, never outside the labels", async () => {
    const gold = new Map(
      Array.from({ length: 2000 }, (_, i) => [`text ${i}`, i % 2 === 0 ? "a" : "b"] as const),
    );
    const labels = ["a", "b", "c"];
    const t = new GoldTeacher({ gold, errorRate: 0.2, seed: 5 });
    let wrong = 0;
    for (const [text, label] of gold) {
      const answer = await t.label(text, labels);
      expect(labels).toContain(answer);
      expect(await t.label(text, labels)).toBe(answer);
      if (answer !== label) wrong++;
    }
    expect(wrong / gold.size).toBeGreaterThan(0.16);
    expect(wrong / gold.size).toBeLessThan(0.24);
  });

  it("answers oos when allowed, else the first label, for unknown texts or gold outside the set", async () => {
    const t = new GoldTeacher({ gold: new Map([["x", "z"]]) });
    expect(await t.label("unknown", ["a", "oos"])).toBe("oos");
    expect(await t.label("x", ["a", "b"])).toBe("a");
  });

  it("ModelTeacher takes the runtime's top label when it is in the set", async () => {
    const runtime = {
      classify: (texts: string[]) => Promise.resolve(texts.map((t) => ({ label: t, probability: 0.9 }))),
    };
    const t = new ModelTeacher(runtime);
    expect(await t.label("b", ["a", "b"])).toBe("b");
    expect(await t.label("q", ["a", "oos"])).toBe("oos");
  });
});

describe("faults", () => {
  it.each([
    ["ok", { type: "ok" }],
    ["429", { type: "rate_limited" }],
    ["429:2", { type: "rate_limited", retryAfterS: 2 }],
    ["429:250ms", { type: "rate_limited", retryAfterMs: 250 }],
    ["503", { type: "server_error", status: 503 }],
    ["timeout", { type: "timeout" }],
    ["malformed-body", { type: "malformed_body" }],
    ["418", undefined],
    ["429:x", undefined],
  ])("parses %s", (token, expected) => {
    expect(parseFaultToken(token)).toEqual(expected);
  });

  it("serves the script first, then rolls the rates", () => {
    const plan = new FaultPlan(FaultConfigSchema.parse({ sequence: ["500"], rate429: 0.5, seed: 3 }));
    expect(plan.next()).toEqual({ type: "server_error", status: 500 });
    const kinds = Array.from({ length: 1000 }, () => plan.next().type);
    const limited = kinds.filter((k) => k === "rate_limited").length;
    expect(limited).toBeGreaterThan(430);
    expect(limited).toBeLessThan(570);
    expect(new Set(kinds)).toEqual(new Set(["rate_limited", "ok"]));
  });

  it("refuses rates that add up to more than 1", () => {
    expect(FaultConfigSchema.safeParse({ rate429: 0.6, rate500: 0.6 }).success).toBe(false);
  });
});
