// Durable answers for `GET /v1/results/:id`: deferred placeholders, edge answers waiting for an
// upgrade, and the cloud results that replace them. A RecordLog holds every put; the newest put per
// id wins on recovery. Old entries beyond `maxEntries` are dropped, and the log is compacted (live
// entries rewritten into a fresh segment, old segments deleted) once it is mostly garbage.
import { RecordLog, type RecoveryReport } from "../storage/record-log.ts";

export const DEFAULT_RESULTS_MAX_ENTRIES = 100_000;
/** Compact once the log is this many times larger than its live entries... */
export const RESULTS_COMPACT_FACTOR = 4;
/** ...and at least this large. */
export const RESULTS_COMPACT_MIN_BYTES = 8 * 1024 * 1024;
const RECORD_PUT = 1;

export type ResultsStoreOptions<V> = {
  dir: string;
  /** Checks a stored value on recovery; undefined drops it. */
  decode: (json: unknown) => V | undefined;
  maxEntries?: number;
  compactMinBytes?: number;
};

type Entry<V> = { seq: number; bytes: number; value: V };

export class ResultsStore<V> {
  readonly #log: RecordLog;
  readonly #entries: Map<string, Entry<V>>;
  readonly #maxEntries: number;
  readonly #compactMinBytes: number;
  #liveBytes: number;
  #compacting: Promise<void> | undefined;
  readonly recovery: RecoveryReport & { dropped: number };

  private constructor(
    log: RecordLog,
    entries: Map<string, Entry<V>>,
    options: ResultsStoreOptions<V>,
    recovery: RecoveryReport & { dropped: number },
  ) {
    this.#log = log;
    this.#entries = entries;
    this.#maxEntries = options.maxEntries ?? DEFAULT_RESULTS_MAX_ENTRIES;
    this.#compactMinBytes = options.compactMinBytes ?? RESULTS_COMPACT_MIN_BYTES;
    this.#liveBytes = [...entries.values()].reduce((s, e) => s + e.bytes, 0);
    this.recovery = recovery;
  }

  static async open<V>(options: ResultsStoreOptions<V>): Promise<ResultsStore<V>> {
    const { log, records, report } = await RecordLog.open({ dir: options.dir });
    const entries = new Map<string, Entry<V>>();
    let dropped = 0;
    for (const r of records) {
      if (r.type !== RECORD_PUT) continue;
      try {
        const parsed = JSON.parse(r.payload.toString("utf8")) as { id?: unknown; value?: unknown };
        const value = options.decode(parsed.value);
        if (typeof parsed.id !== "string" || value === undefined) {
          dropped++;
          continue;
        }
        entries.delete(parsed.id);
        entries.set(parsed.id, { seq: r.seq, bytes: r.payload.length, value });
      } catch {
        dropped++;
      }
    }
    const store = new ResultsStore(log, entries, options, { ...report, dropped });
    store.#evict();
    return store;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): V | undefined {
    return this.#entries.get(id)?.value;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** Stores (replacing) the value for `id`; resolves once it is on disk. */
  async put(id: string, value: V): Promise<void> {
    const payload = Buffer.from(JSON.stringify({ id, value }));
    const seq = this.#log.nextSeq;
    const written = this.#log.append(RECORD_PUT, payload);
    this.#set(id, { seq, bytes: payload.length, value });
    await written;
    this.#evict();
    if (this.#compacting === undefined && this.#needsCompaction()) {
      this.#compacting = this.#compact().finally(() => (this.#compacting = undefined));
    }
  }

  async close(): Promise<void> {
    await this.#compacting;
    await this.#log.close();
  }

  #set(id: string, entry: Entry<V>): void {
    const old = this.#entries.get(id);
    if (old !== undefined) {
      this.#liveBytes -= old.bytes;
      this.#entries.delete(id);
    }
    this.#entries.set(id, entry);
    this.#liveBytes += entry.bytes;
  }

  #evict(): void {
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.entries().next();
      if (oldest.done === true) break;
      this.#liveBytes -= oldest.value[1].bytes;
      this.#entries.delete(oldest.value[0]);
    }
  }

  #needsCompaction(): boolean {
    const total = this.#log.totalBytes();
    return total >= this.#compactMinBytes && total > RESULTS_COMPACT_FACTOR * this.#liveBytes;
  }

  async #compact(): Promise<void> {
    this.#log.rotate();
    const writes: Promise<number>[] = [];
    for (const [id, entry] of [...this.#entries]) {
      // Seqs are taken synchronously, so a put racing with compaction always ends up newer.
      if (this.#entries.get(id)?.seq !== entry.seq) continue;
      const payload = Buffer.from(JSON.stringify({ id, value: entry.value }));
      const seq = this.#log.nextSeq;
      writes.push(this.#log.append(RECORD_PUT, payload));
      this.#set(id, { seq, bytes: payload.length, value: entry.value });
    }
    await Promise.all(writes);
    let minSeq = this.#log.nextSeq;
    for (const e of this.#entries.values()) minSeq = Math.min(minSeq, e.seq);
    await this.#log.deleteSegmentsBefore(minSeq);
  }
}
