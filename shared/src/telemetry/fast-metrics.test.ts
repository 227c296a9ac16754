import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FastCounter, FastHistogram } from "./fast-metrics.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];
// [task, tier, value, count]. Values with counts are powers of two, so that n additions (prom-client)
// and one multiplication (ours) give the same sum to the last bit.
const CALLS: [string, string, number, number][] = [
  ["intent", "medium", 0.0625, 50], // one call standing for 50 requests
  ["intent", "medium", 0.0005, 1],
  ["intent", "medium", 0.001, 1], // on a bound: counted in that bucket
  ["intent", "llm", 3, 1], // above every bound: +Inf only
  ["intent", "llm", 0.25, 2],
  ["other", "medium", 0, 1],
  ["other", "medium", 0.25, 0], // no requests: nothing recorded
];

function both(): {
  ours: Registry;
  theirs: Registry;
  counter: FastCounter<"task" | "tier">;
  histogram: FastHistogram<"task" | "tier">;
} {
  const ours = new Registry();
  const theirs = new Registry();
  const c = { name: "t_total", help: "a test counter", labelNames: ["task", "tier"] as const };
  const h = { name: "t_seconds", help: "a test histogram", labelNames: ["task", "tier"] as const };
  const counter = new FastCounter({ ...c, registers: [ours] });
  const histogram = new FastHistogram({ ...h, buckets: BUCKETS, registers: [ours] });
  const promCounter = new Counter({ ...c, labelNames: ["task", "tier"], registers: [theirs] });
  const promHistogram = new Histogram({
    ...h,
    labelNames: ["task", "tier"],
    buckets: BUCKETS,
    registers: [theirs],
  });
  for (const [task, tier, v, n] of CALLS) {
    if (n === 0) continue;
    counter.labels(task, tier).inc(n);
    histogram.labels(task, tier).observe(v, n);
    promCounter.inc({ task, tier }, n);
    for (let i = 0; i < n; i++) promHistogram.observe({ task, tier }, v);
  }
  counter.labels("other", "medium").inc(0.25);
  promCounter.inc({ task: "other", tier: "medium" }, 0.25);
  return { ours, theirs, counter, histogram };
}

/** prom-client's JSON also carries an empty `exemplar` per value; the rest is compared. */
const withoutExemplars = (json: unknown): unknown =>
  JSON.parse(JSON.stringify(json, (key, v: unknown) => (key === "exemplar" ? undefined : v)));

describe("FastCounter and FastHistogram", () => {
  it("expose the same Prometheus text and JSON as prom-client's Counter and Histogram", async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('t_total{task="intent",tier="medium"} 52');
    expect(text).toContain('t_seconds_bucket{le="0.1",task="intent",tier="medium"} 52');
    expect(text).toContain('t_seconds_count{task="intent",tier="llm"} 3');
    expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(
      withoutExemplars(await theirs.getMetricsAsJSON()),
    );
    const single = await ours.getSingleMetric("t_total")?.get();
    expect(single?.values.find((v) => v.labels["tier"] === "llm")?.value).toBe(3);
  });

  it("keep one child per label set, ignore bad values and zero on reset", async () => {
    const { ours, counter, histogram } = both();
    const h = histogram.labels("intent", "medium");
    expect(histogram.labels("intent", "medium")).toBe(h);
    h.observe(Number.NaN);
    h.observe(Number.POSITIVE_INFINITY);
    h.observe(0.5, -1);
    expect(h.count).toBe(52);
    const c = counter.labels("intent", "llm");
    c.inc(-1);
    c.inc(Number.NaN);
    c.inc(Number.POSITIVE_INFINITY);
    expect(c.value).toBe(3);
    ours.resetMetrics();
    expect(h.count).toBe(0);
    expect(c.value).toBe(0);
    h.observe(0.5);
    c.inc();
    const text = await ours.metrics();
    expect(text).toContain('t_seconds_count{task="intent",tier="medium"} 1');
    expect(text).toContain('t_total{task="intent",tier="llm"} 1');
    expect(() => counter.labels("only-one")).toThrow(TypeError);
    expect(() => histogram.labels("a", "b", "c")).toThrow(TypeError);
  });
});
