import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FastHistogram } from "./fast-histogram.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVATIONS: [string, string, number][] = [
  ["intent", "nano", 0.0005],
  ["intent", "nano", 0.001], // on a bound: counted in that bucket
  ["intent", "nano", 0.05],
  ["intent", "small", 3], // above every bound: +Inf only
  ["intent", "small", 0.2],
  ["other", "nano", 0],
];

function both(): { ours: Registry; theirs: Registry; fast: FastHistogram<"task" | "tier"> } {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: "t_seconds", help: "a test histogram", labelNames: ["task", "tier"] as const };
  const fast = new FastHistogram({ ...config, buckets: BUCKETS, registers: [ours] });
  const prom = new Histogram({
    ...config,
    labelNames: ["task", "tier"],
    buckets: BUCKETS,
    registers: [theirs],
  });
  for (const [task, tier, v] of OBSERVATIONS) {
    fast.labels(task, tier).observe(v);
    prom.labels(task, tier).observe(v);
  }
  return { ours, theirs, fast };
}

describe("FastHistogram", () => {
  it("exposes the same Prometheus text and JSON as prom-client's Histogram for the same observations", async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('t_seconds_bucket{le="0.001",task="intent",tier="nano"} 2');
    expect(text).toContain('t_seconds_bucket{le="+Inf",task="intent",tier="small"} 2');
    // prom-client's JSON also carries an empty `exemplar` per value; the rest is the same.
    const withoutExemplars = (json: unknown): unknown =>
      JSON.parse(JSON.stringify(json, (key, v: unknown) => (key === "exemplar" ? undefined : v)));
    expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(
      withoutExemplars(await theirs.getMetricsAsJSON()),
    );
  });

  it("keeps one child per label set, ignores non-finite values and zeroes on reset", async () => {
    const { ours, fast } = both();
    const child = fast.labels("intent", "nano");
    expect(fast.labels("intent", "nano")).toBe(child);
    child.observe(Number.NaN);
    child.observe(Number.POSITIVE_INFINITY);
    expect(child.count).toBe(3);
    ours.resetMetrics();
    expect(child.count).toBe(0);
    child.observe(0.5);
    expect(await ours.metrics()).toContain('t_seconds_count{task="intent",tier="nano"} 1');
    expect(() => fast.labels("only-one")).toThrow(TypeError);
  });
});
