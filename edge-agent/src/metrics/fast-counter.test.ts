import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FastCounter } from "./fast-counter.ts";

// [task, outcome, tier, increment]
const INCREMENTS: [string, string, string, number][] = [
  ["intent", "served", "nano", 1],
  ["intent", "served", "nano", 1],
  ["intent", "escalated", "medium", 1],
  ["intent", "served", "small", 2.5],
  ["other", "refused", "none", 1],
];

function both(): { ours: Registry; theirs: Registry; fast: FastCounter<"task" | "outcome" | "tier"> } {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: "t_total", help: "a test counter" };
  const fast = new FastCounter({ ...config, labelNames: ["task", "outcome", "tier"], registers: [ours] });
  const prom = new Counter({ ...config, labelNames: ["task", "outcome", "tier"], registers: [theirs] });
  for (const [task, outcome, tier, n] of INCREMENTS) {
    fast.labels(task, outcome, tier).inc(n);
    prom.inc({ task, outcome, tier }, n);
  }
  return { ours, theirs, fast };
}

describe("FastCounter", () => {
  it("exposes the same Prometheus text and JSON as prom-client's Counter for the same increments", async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('t_total{task="intent",outcome="served",tier="nano"} 2');
    // prom-client's JSON also carries an empty `exemplar` per value; the rest is the same.
    const withoutExemplars = (json: unknown): unknown =>
      JSON.parse(JSON.stringify(json, (key, v: unknown) => (key === "exemplar" ? undefined : v)));
    expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(
      withoutExemplars(await theirs.getMetricsAsJSON()),
    );
  });

  it("keeps one child per label set, ignores bad increments and zeroes on reset", async () => {
    const { ours, fast } = both();
    const child = fast.labels("intent", "served", "nano");
    expect(fast.labels("intent", "served", "nano")).toBe(child);
    child.inc(-1);
    child.inc(Number.NaN);
    child.inc(Number.POSITIVE_INFINITY);
    expect(child.value).toBe(2);
    ours.resetMetrics();
    expect(child.value).toBe(0);
    child.inc();
    expect(await ours.metrics()).toContain('t_total{task="intent",outcome="served",tier="nano"} 1');
    expect(() => fast.labels("only-one")).toThrow(TypeError);
  });
});
