// Prometheus counters and histograms for the edge's request path and the coordinator's per-request
// and per-job paths. prom-client's `inc`/`observe` convert, validate and hash their label object on
// every call (~0.7 µs; an edge request made three observations, a 1-item batch job five, ~15 µs of
// the worker's profile, and a 50-item job observed the tier latency 50 times). Here a label set's
// child is found once per call by one Map lookup (or kept by the caller), an increment is an
// addition, and `observe(value, count)` records `count` equal observations at once. Exposed through
// prom-client's Registry in the same text and JSON that prom-client's Counter and Histogram give for
// the same calls (the tests compare them). prom-client stays the packages' registry: only its types
// are used here.
import type { Metric, Registry } from "prom-client";

type ExportedValue = {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
};
/** The shape prom-client's Registry reads from a metric. */
export type ExportedMetric = {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  values: ExportedValue[];
};

export type FastMetricConfig<L extends string> = {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: readonly Registry[];
};

/** Children by label values (joined with NUL, which a label value cannot hold in the exposition). */
class Children<L extends string, C> {
  readonly #name: string;
  readonly #labelNames: readonly L[];
  readonly #make: () => C;
  readonly entries = new Map<string, { labels: Record<L, string>; child: C }>();

  constructor(name: string, labelNames: readonly L[], make: () => C) {
    this.#name = name;
    this.#labelNames = labelNames;
    this.#make = make;
  }

  get(values: readonly string[]): C {
    const key = values.length === 1 ? (values[0] ?? "") : values.join("\u0000");
    const entry = this.entries.get(key);
    if (entry !== undefined) return entry.child;
    if (values.length !== this.#labelNames.length)
      throw new TypeError(
        `${this.#name}: expected ${this.#labelNames.length} label values, got ${values.length}`,
      );
    const labels = Object.fromEntries(this.#labelNames.map((n, i) => [n, values[i] ?? ""])) as Record<
      L,
      string
    >;
    const child = this.#make();
    this.entries.set(key, { labels, child });
    return child;
  }
}

export class FastCounterChild {
  value = 0;

  /** Adds `n` (default 1); a negative or non-finite `n` is ignored (prom-client would throw). */
  inc(n = 1): void {
    if (n >= 0 && n !== Number.POSITIVE_INFINITY) this.value += n;
  }
}

export class FastCounter<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = "counter";
  readonly aggregator = "sum";
  readonly #children: Children<L, FastCounterChild>;

  constructor(config: FastMetricConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.#children = new Children(config.name, config.labelNames, () => new FastCounterChild());
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The child for these label values, in `labelNames` order (kept by callers with fixed labels). */
  labels(...values: string[]): FastCounterChild {
    return this.#children.get(values);
  }

  /** Zeroes every child (children handed out stay valid). */
  reset(): void {
    for (const { child } of this.#children.entries.values()) child.value = 0;
  }

  getForPromString(): Promise<ExportedMetric> {
    return this.get();
  }

  get(): Promise<ExportedMetric> {
    const values: ExportedValue[] = [];
    for (const { labels, child } of this.#children.entries.values())
      values.push({ value: child.value, labels });
    return Promise.resolve({ name: this.name, help: this.help, type: "counter", values, aggregator: "sum" });
  }
}

export class FastHistogramChild {
  readonly #bounds: readonly number[];
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Adds `n` observations of `value` (default one); a non-finite value is ignored. */
  observe(value: number, n = 1): void {
    if (!Number.isFinite(value) || !(n > 0)) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] ?? Infinity)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + n;
    this.sum += value * n;
    this.count += n;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export type FastHistogramConfig<L extends string> = FastMetricConfig<L> & {
  /** Upper bounds; sorted here, +Inf added. */
  buckets: readonly number[];
};

export class FastHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: readonly number[];
  readonly #children: Children<L, FastHistogramChild>;

  constructor(config: FastHistogramConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    const bounds = [...config.buckets].sort((a, b) => a - b);
    this.#bounds = bounds;
    this.#children = new Children(config.name, config.labelNames, () => new FastHistogramChild(bounds));
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The child for these label values, in `labelNames` order (kept by callers with fixed labels). */
  labels(...values: string[]): FastHistogramChild {
    return this.#children.get(values);
  }

  /** Zeroes every child (children handed out stay valid). */
  reset(): void {
    for (const { child } of this.#children.entries.values()) child.reset();
  }

  /** What prom-client's Registry reads for its text format: child labels apart from `le`. */
  getForPromString(): Promise<ExportedMetric> {
    return Promise.resolve(this.#collect(false));
  }

  /** The same values with every label on each (what prom-client's `get` and JSON export give). */
  get(): Promise<ExportedMetric> {
    return Promise.resolve(this.#collect(true));
  }

  #collect(splay: boolean): ExportedMetric {
    const values: ExportedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    const value = (
      own: Record<string, string | number>,
      sharedLabels: Record<L, string>,
      v: number,
      metricName: string,
    ): ExportedValue =>
      splay
        ? { labels: { ...own, ...sharedLabels }, value: v, metricName }
        : { labels: own, sharedLabels, value: v, metricName };
    for (const { labels, child } of this.#children.entries.values()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += child.counts[i] ?? 0;
        values.push(value({ le }, labels, acc, bucketName));
      });
      values.push(value({ le: "+Inf" }, labels, child.count, bucketName));
      values.push(value({}, labels, child.sum, `${this.name}_sum`));
      values.push(value({}, labels, child.count, `${this.name}_count`));
    }
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: "sum" };
  }
}
