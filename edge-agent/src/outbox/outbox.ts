// The durable outbox (store-and-forward). Items are appended to a RecordLog and acknowledged to the
// caller only once on disk. Delivery is in batches: a batch is first *sealed* — a record naming its
// first and last item — so that after a crash the same items form the same batch with the same
// message id, and JetStream's duplicate window (Nats-Msg-Id) drops a replay. Delivered batches are
// recorded in a separate ack marker (`acked.json`, replaced atomically), and segments whose records
// are all delivered are deleted.
import { randomUUID } from "node:crypto";
import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, makeDirs, TiergateError } from "@tiergate/shared";
import { DEFAULT_MAX_SEGMENT_BYTES, RecordLog, type RecoveryReport } from "../storage/record-log.ts";

export const DEFAULT_OUTBOX_MAX_PENDING_BYTES = 256 * 1024 * 1024;
export const DEFAULT_OUTBOX_SEGMENT_BYTES = DEFAULT_MAX_SEGMENT_BYTES;
const RECORD_ITEM = 1;
const RECORD_SEAL = 2;
const ACK_FILE = "acked.json";
const EPOCH_FILE = "epoch";

export type OutboxItem = { seq: number; enqueuedAtMs: number; payload: Buffer };
/** A sealed batch: its id is stable across restarts, so republishing it is deduplicated. */
export type OutboxBatch = { id: string; firstSeq: number; lastSeq: number; items: OutboxItem[] };

export type OutboxOptions = {
  dir: string;
  maxPendingBytes?: number;
  maxSegmentBytes?: number;
  now?: () => number;
};

type Seal = { seq: number; firstSeq: number; lastSeq: number };

export class Outbox {
  readonly #log: RecordLog;
  readonly #dir: string;
  readonly #epoch: string;
  readonly #maxPendingBytes: number;
  readonly #now: () => number;
  /** Undelivered items in seq order; the first `#sealedCount` of them belong to `#seals`. */
  #items: OutboxItem[];
  #seals: Seal[];
  #pendingBytes: number;
  #ackedThrough: number;
  #reservedBytes = 0;
  readonly recovery: RecoveryReport;
  #listeners: (() => void)[] = [];

  private constructor(
    dir: string,
    log: RecordLog,
    epoch: string,
    state: { items: OutboxItem[]; seals: Seal[]; ackedThrough: number },
    options: OutboxOptions,
    recovery: RecoveryReport,
  ) {
    this.#dir = dir;
    this.#log = log;
    this.#epoch = epoch;
    this.#items = state.items;
    this.#seals = state.seals;
    this.#ackedThrough = state.ackedThrough;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_OUTBOX_MAX_PENDING_BYTES;
    this.#now = options.now ?? Date.now;
    this.#pendingBytes = state.items.reduce((s, i) => s + i.payload.length, 0);
    this.recovery = recovery;
  }

  static async open(options: OutboxOptions): Promise<Outbox> {
    const dir = options.dir;
    try {
      await makeDirs(dir);
    } catch (err) {
      throw new TiergateError(
        ErrorCode.STORAGE_FAILED,
        `cannot create outbox dir ${dir}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const epoch = await readOrCreateEpoch(dir);
    const ackedThrough = await readAck(dir);
    const logOptions = {
      dir: join(dir, "log"),
      maxSegmentBytes: options.maxSegmentBytes ?? DEFAULT_OUTBOX_SEGMENT_BYTES,
    };
    const { log, records, report } = await RecordLog.open(
      options.now ? { ...logOptions, now: options.now } : logOptions,
    );
    const items: OutboxItem[] = [];
    const seals: Seal[] = [];
    for (const r of records) {
      if (r.type === RECORD_ITEM && r.seq > ackedThrough) {
        items.push({ seq: r.seq, enqueuedAtMs: r.timeMs, payload: r.payload });
      } else if (r.type === RECORD_SEAL && r.payload.length === 12) {
        const seal = {
          seq: r.seq,
          firstSeq: r.payload.readUIntBE(0, 6),
          lastSeq: r.payload.readUIntBE(6, 6),
        };
        if (seal.lastSeq > ackedThrough) seals.push(seal);
      }
    }
    return new Outbox(dir, log, epoch, { items, seals, ackedThrough }, options, report);
  }

  /** Undelivered items. */
  get depth(): number {
    return this.#items.length;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Items appended but not yet part of a sealed batch. */
  get unsealedCount(): number {
    return this.#items.length - this.#sealedItemCount();
  }

  /** Enqueue time of the oldest item not yet in a batch, or undefined. */
  oldestUnsealedMs(): number | undefined {
    return this.#items[this.#sealedItemCount()]?.enqueuedAtMs;
  }

  hasSealedBatch(): boolean {
    return this.#seals.length > 0;
  }

  /** Called after every successful append (the flusher listens). */
  onAppend(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Appends one item; resolves once it is on disk. OUTBOX_FULL when the pending bound is reached. */
  async append(payload: Uint8Array): Promise<number> {
    if (this.#pendingBytes + this.#reservedBytes + payload.length > this.#maxPendingBytes) {
      throw new TiergateError(
        ErrorCode.OUTBOX_FULL,
        `outbox holds ${this.#pendingBytes} bytes, its bound is ${this.#maxPendingBytes}; try again once the cloud is reachable`,
      );
    }
    this.#reservedBytes += payload.length;
    let seq: number;
    try {
      seq = await this.#log.append(RECORD_ITEM, payload);
      // Appends resolve in seq order (one writer, FIFO), so pushing keeps #items sorted.
      this.#items.push({ seq, enqueuedAtMs: this.#now(), payload: Buffer.from(payload) });
      this.#pendingBytes += payload.length;
    } finally {
      this.#reservedBytes -= payload.length;
    }
    for (const l of this.#listeners) l();
    return seq;
  }

  /**
   * The oldest sealed, undelivered batch; when there is none, seals the next unsealed items — at most
   * `maxItems`, and at most `maxBytes` of payload unless a single item is larger — into one (durably)
   * first. Undefined when nothing waits.
   */
  async nextBatch(maxItems: number, maxBytes = Infinity): Promise<OutboxBatch | undefined> {
    let seal = this.#seals[0];
    if (seal === undefined) {
      const take: OutboxItem[] = [];
      let bytes = 0;
      for (
        let i = this.#sealedItemCount();
        i < this.#items.length && take.length < Math.max(1, maxItems);
        i++
      ) {
        const item = this.#items[i];
        if (item === undefined || (take.length > 0 && bytes + item.payload.length > maxBytes)) break;
        take.push(item);
        bytes += item.payload.length;
      }
      const first = take[0];
      const last = take.at(-1);
      if (first === undefined || last === undefined) return undefined;
      const payload = Buffer.allocUnsafe(12);
      payload.writeUIntBE(first.seq, 0, 6);
      payload.writeUIntBE(last.seq, 6, 6);
      const seq = await this.#log.append(RECORD_SEAL, payload);
      seal = { seq, firstSeq: first.seq, lastSeq: last.seq };
      this.#seals.push(seal);
    }
    const { firstSeq, lastSeq } = seal;
    const items = this.#items.filter((i) => i.seq >= firstSeq && i.seq <= lastSeq);
    return { id: `${this.#epoch}-${firstSeq}-${lastSeq}`, firstSeq, lastSeq, items };
  }

  /** Marks a batch delivered (durably) and deletes log segments that hold only delivered records. */
  async ack(batch: OutboxBatch): Promise<void> {
    if (batch.lastSeq <= this.#ackedThrough) return;
    await writeAck(this.#dir, batch.lastSeq);
    this.#ackedThrough = batch.lastSeq;
    this.#seals = this.#seals.filter((s) => s.lastSeq > batch.lastSeq);
    const kept: OutboxItem[] = [];
    for (const item of this.#items) {
      if (item.seq <= batch.lastSeq) this.#pendingBytes -= item.payload.length;
      else kept.push(item);
    }
    this.#items = kept;
    const needed = Math.min(
      this.#items[0]?.seq ?? Infinity,
      this.#seals[0]?.seq ?? Infinity,
      this.#log.nextSeq,
    );
    const deleted = await this.#log.deleteSegmentsBefore(needed);
    if (deleted === 0 && this.#items.length === 0 && this.#log.totalBytes() > 0) this.#log.rotate();
  }

  async close(): Promise<void> {
    await this.#log.close();
  }

  #sealedItemCount(): number {
    const lastSealed = this.#seals.at(-1)?.lastSeq;
    if (lastSealed === undefined) return 0;
    let n = 0;
    while (n < this.#items.length && (this.#items[n]?.seq ?? Infinity) <= lastSealed) n++;
    return n;
  }
}

async function readOrCreateEpoch(dir: string): Promise<string> {
  const path = join(dir, EPOCH_FILE);
  try {
    const text = (await readFile(path, "utf8")).trim();
    if (/^[a-z0-9]{8,64}$/.test(text)) return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new TiergateError(ErrorCode.STORAGE_FAILED, `cannot read ${path}`, { cause: err });
    }
  }
  // Message ids embed the epoch: a wiped data dir restarts seqs, and must not collide with old ids.
  const epoch = randomUUID().replaceAll("-", "").slice(0, 16);
  await writeDurably(path, epoch);
  return epoch;
}

async function readAck(dir: string): Promise<number> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, ACK_FILE), "utf8"));
    const through = (parsed as { ackedThrough?: unknown }).ackedThrough;
    return typeof through === "number" && Number.isSafeInteger(through) && through >= 0 ? through : 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new TiergateError(ErrorCode.STORAGE_FAILED, `cannot read the outbox ack marker in ${dir}`, {
      cause: err,
    });
  }
}

async function writeAck(dir: string, ackedThrough: number): Promise<void> {
  await writeDurably(join(dir, ACK_FILE), JSON.stringify({ ackedThrough }));
}

/** Write to a temp file, fsync, rename over the target, fsync the directory. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dh = await open(join(path, ".."), "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (err) {
    throw new TiergateError(ErrorCode.STORAGE_FAILED, `cannot write ${path}`, { cause: err });
  }
}
