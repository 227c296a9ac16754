// A Prometheus counter for the request path. prom-client's labelled child hashes and validates its
// label object on every `inc` (its `labels()` only binds them); here a label set's child is found
// once and an increment is an addition. Exposed through prom-client's Registry in the same text and
// JSON that prom-client's Counter gives for the same calls (the tests compare the two). A sibling of
// FastHistogram (and of the coordinator's fast-metrics.ts counter).
import type { Metric, Registry } from "prom-client";

/** The shape prom-client's Registry reads from a counter. */
export type ExportedCounter = {
  name: string;
  help: string;
  type: "counter";
  aggregator: "sum";
  values: { labels: Record<string, string>; value: number }[];
};

export type FastCounterConfig<L extends string> = {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: readonly Registry[];
};

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
  readonly #labelNames: readonly L[];
  readonly #children = new Map<string, { labels: Record<L, string>; child: FastCounterChild }>();

  constructor(config: FastCounterConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.#labelNames = config.labelNames;
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The child for these label values, in `labelNames` order (look it up once, keep it). */
  labels(...values: string[]): FastCounterChild {
    if (values.length !== this.#labelNames.length) {
      throw new TypeError(
        `${this.name}: expected ${this.#labelNames.length} label values, got ${values.length}`,
      );
    }
    const key = values.join("\u0000");
    let entry = this.#children.get(key);
    if (entry === undefined) {
      const labels = Object.fromEntries(this.#labelNames.map((n, i) => [n, values[i] ?? ""])) as Record<
        L,
        string
      >;
      entry = { labels, child: new FastCounterChild() };
      this.#children.set(key, entry);
    }
    return entry.child;
  }

  /** Zeroes every child (children handed out stay valid). */
  reset(): void {
    for (const { child } of this.#children.values()) child.value = 0;
  }

  getForPromString(): Promise<ExportedCounter> {
    return this.get();
  }

  get(): Promise<ExportedCounter> {
    const values: ExportedCounter["values"] = [];
    for (const { labels, child } of this.#children.values()) values.push({ value: child.value, labels });
    return Promise.resolve({ name: this.name, help: this.help, type: "counter", values, aggregator: "sum" });
  }
}
