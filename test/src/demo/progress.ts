// The demo's live progress line on stderr: done, served at the edge, escalated, p50/p99. On a TTY one
// line is rewritten in place; otherwise a line is printed every few seconds.
import { PATH_EDGE, PATH_EDGE_DEGRADED, type Outcome } from "./outcome.ts";
import { percentile } from "./report.ts";

export const TTY_REFRESH_MS = 250;
export const PLAIN_REFRESH_MS = 5_000;
/** Latency percentiles of the live line come from the most recent requests only. */
export const LIVE_WINDOW = 2_000;

export class ProgressLine {
  readonly #total: number;
  readonly #out: NodeJS.WriteStream;
  readonly #recent: number[] = [];
  readonly #timer: NodeJS.Timeout;
  #done = 0;
  #edge = 0;
  #escalated = 0;
  #degraded = 0;
  #other = 0;

  constructor(total: number, out: NodeJS.WriteStream = process.stderr) {
    this.#total = total;
    this.#out = out;
    this.#timer = setInterval(() => this.#print(false), out.isTTY ? TTY_REFRESH_MS : PLAIN_REFRESH_MS);
    this.#timer.unref();
  }

  add(outcome: Outcome): void {
    this.#done += 1;
    if (outcome.path === PATH_EDGE) this.#edge += 1;
    else if (outcome.path.startsWith("escalated-")) this.#escalated += 1;
    else if (outcome.path === PATH_EDGE_DEGRADED) this.#degraded += 1;
    else this.#other += 1;
    this.#recent.push(outcome.latencyMs);
    if (this.#recent.length > LIVE_WINDOW) this.#recent.shift();
  }

  text(): string {
    const sorted = [...this.#recent].sort((a, b) => a - b);
    const share = (n: number): string => `${this.#done === 0 ? "0.0" : ((100 * n) / this.#done).toFixed(1)}%`;
    const ms = (v: number | undefined): string => (v === undefined ? "–" : `${v.toFixed(1)}ms`);
    return (
      `[demo] ${this.#done}/${this.#total} done · edge ${share(this.#edge)} · escalated ${share(this.#escalated)}` +
      ` · degraded ${share(this.#degraded)} · other ${share(this.#other)} · p50 ${ms(percentile(sorted, 50))} p99 ${ms(percentile(sorted, 99))}`
    );
  }

  #print(final: boolean): void {
    if (this.#out.isTTY) this.#out.write(`\r\x1b[K${this.text()}${final ? "\n" : ""}`);
    else this.#out.write(`${this.text()}\n`);
  }

  finish(): void {
    clearInterval(this.#timer);
    this.#print(true);
  }
}
