// An append-only log of checksummed records in segment files, the storage under the outbox and the
// results store. Appends are group-committed: everything appended while one write+fdatasync is in
// flight goes out in the next single write+fdatasync, and each append resolves only once its bytes
// are on disk. Recovery reads every segment, stops a segment at the first torn or corrupt record and
// truncates a torn tail off the last segment (what a crash mid-write leaves behind).
//
// Record: u32 bodyLength | u32 crc32(body) | body = u8 type | u48 seq | u48 timeMs | payload
import { open, readdir, readFile, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, makeDirs, TiergateError } from "@tiergate/shared";

export const DEFAULT_MAX_SEGMENT_BYTES = 16 * 1024 * 1024;
export const RECORD_HEADER_BYTES = 8;
export const RECORD_BODY_HEADER_BYTES = 13;
/** A record larger than this is treated as corruption on recovery. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const SEGMENT_SUFFIX = ".seg";
const SEGMENT_NAME_DIGITS = 16;

export type LogRecord = { type: number; seq: number; timeMs: number; payload: Buffer };
export type SegmentInfo = { name: string; firstSeq: number; lastSeq: number; bytes: number };
export type RecoveryReport = {
  segments: number;
  records: number;
  truncatedBytes: number;
  corruptSegments: string[];
};

export type RecordLogOptions = {
  dir: string;
  maxSegmentBytes?: number;
  now?: () => number;
};

// node:zlib on first use, not as the agent loads: it was ~5 ms of every start, and an empty outbox
// and results store need no checksum until the first append.
let zlibCrc32: ((data: Uint8Array) => number) | undefined;
function crc32(data: Uint8Array): number {
  zlibCrc32 ??= process.getBuiltinModule("node:zlib").crc32;
  return zlibCrc32(data);
}

type Pending = { bytes: Buffer; resolve: (seq: number) => void; reject: (err: unknown) => void; seq: number };

export function encodeRecord(type: number, seq: number, timeMs: number, payload: Uint8Array): Buffer {
  const body = Buffer.allocUnsafe(RECORD_BODY_HEADER_BYTES + payload.length);
  body.writeUInt8(type, 0);
  body.writeUIntBE(seq, 1, 6);
  body.writeUIntBE(Math.max(0, Math.floor(timeMs)), 7, 6);
  body.set(payload, RECORD_BODY_HEADER_BYTES);
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  header.writeUInt32BE(crc32(body), 4);
  return Buffer.concat([header, body]);
}

/** Records of one segment's bytes, and the offset where the valid prefix ends. */
export function decodeRecords(buf: Buffer): { records: LogRecord[]; validBytes: number } {
  const records: LogRecord[] = [];
  let off = 0;
  while (off + RECORD_HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32BE(off);
    const sum = buf.readUInt32BE(off + 4);
    const start = off + RECORD_HEADER_BYTES;
    if (len < RECORD_BODY_HEADER_BYTES || len > MAX_RECORD_BYTES || start + len > buf.length) break;
    const body = buf.subarray(start, start + len);
    if (crc32(body) !== sum) break;
    records.push({
      type: body.readUInt8(0),
      seq: body.readUIntBE(1, 6),
      timeMs: body.readUIntBE(7, 6),
      payload: Buffer.from(body.subarray(RECORD_BODY_HEADER_BYTES)),
    });
    off = start + len;
  }
  return { records, validBytes: off };
}

function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(SEGMENT_NAME_DIGITS, "0")}${SEGMENT_SUFFIX}`;
}

function storageError(what: string, cause: unknown): TiergateError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new TiergateError(ErrorCode.STORAGE_FAILED, `${what}: ${detail}`, { cause });
}

export class RecordLog {
  readonly dir: string;
  readonly #maxSegmentBytes: number;
  readonly #now: () => number;
  readonly #segments: SegmentInfo[];
  #fh: FileHandle | undefined;
  #nextSeq: number;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  #rotateRequested = false;
  #closed = false;

  private constructor(dir: string, options: RecordLogOptions, segments: SegmentInfo[], nextSeq: number) {
    this.dir = dir;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    this.#now = options.now ?? Date.now;
    this.#segments = segments;
    this.#nextSeq = nextSeq;
  }

  /** Opens (creating) the log and returns every intact record, oldest first. */
  static async open(
    options: RecordLogOptions,
  ): Promise<{ log: RecordLog; records: LogRecord[]; report: RecoveryReport }> {
    const dir = options.dir;
    const records: LogRecord[] = [];
    const report: RecoveryReport = { segments: 0, records: 0, truncatedBytes: 0, corruptSegments: [] };
    const segments: SegmentInfo[] = [];
    try {
      await makeDirs(dir);
      const names = (await readdir(dir)).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort();
      for (const [i, name] of names.entries()) {
        const path = join(dir, name);
        const buf = await readFile(path);
        const { records: found, validBytes } = decodeRecords(buf);
        if (validBytes < buf.length) {
          if (i === names.length - 1) {
            // A torn tail from a crash mid-write: cut it off so new records follow a valid one.
            const fh = await open(path, "r+");
            try {
              await fh.truncate(validBytes);
              await fh.datasync();
            } finally {
              await fh.close();
            }
            report.truncatedBytes += buf.length - validBytes;
          } else {
            report.corruptSegments.push(name);
          }
        }
        const firstSeq = found[0]?.seq ?? Number(name.slice(0, SEGMENT_NAME_DIGITS));
        segments.push({ name, firstSeq, lastSeq: found.at(-1)?.seq ?? firstSeq - 1, bytes: validBytes });
        records.push(...found);
      }
    } catch (err) {
      throw storageError(`cannot open log in ${dir}`, err);
    }
    report.segments = segments.length;
    report.records = records.length;
    const lastSeq = segments.reduce((m, s) => Math.max(m, s.lastSeq), 0);
    const log = new RecordLog(dir, options, segments, lastSeq + 1);
    return { log, records, report };
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Appends one record; resolves with its sequence number once it is on disk. */
  append(type: number, payload: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new TiergateError(ErrorCode.SHUTTING_DOWN, "log is closed"));
    const seq = this.#nextSeq++;
    const bytes = encodeRecord(type, seq, this.#now(), payload);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject, seq });
      this.#kick();
    });
  }

  /** The next write starts a new segment (so that older ones can be deleted once obsolete). */
  rotate(): void {
    this.#rotateRequested = true;
  }

  segments(): readonly SegmentInfo[] {
    return this.#segments;
  }

  totalBytes(): number {
    return this.#segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** Deletes closed segments whose records all have seq < `seq`. The active segment stays. */
  async deleteSegmentsBefore(seq: number): Promise<number> {
    await this.#writing;
    let deleted = 0;
    while (this.#segments.length > 1) {
      const first = this.#segments[0];
      if (first === undefined || first.lastSeq >= seq) break;
      try {
        await rm(join(this.dir, first.name), { force: true });
      } catch (err) {
        throw storageError(`cannot delete segment ${first.name}`, err);
      }
      this.#segments.shift();
      deleted++;
    }
    return deleted;
  }

  /** Waits for queued appends, then closes the file. Further appends are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#writing !== undefined) await this.#writing;
    await this.#fh?.close();
    this.#fh = undefined;
  }

  #kick(): void {
    if (this.#writing !== undefined) return;
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      const bytes = Buffer.concat(batch.map((p) => p.bytes));
      const firstSeq = batch[0]?.seq ?? this.#nextSeq;
      const lastSeq = batch.at(-1)?.seq ?? firstSeq;
      try {
        const segment = await this.#segmentFor(firstSeq);
        const fh = this.#fh;
        if (fh === undefined) throw new Error("no open segment");
        await fh.write(bytes, 0, bytes.length);
        await fh.datasync();
        segment.bytes += bytes.length;
        segment.lastSeq = lastSeq;
      } catch (err) {
        // The file may now hold part of this write: start a fresh segment for what follows, and
        // recovery cuts the torn tail only from the last segment, so close this one for good.
        this.#rotateRequested = true;
        const error = storageError("append failed", err);
        for (const p of batch) p.reject(error);
        continue;
      }
      for (const p of batch) p.resolve(p.seq);
    }
  }

  async #segmentFor(firstSeq: number): Promise<SegmentInfo> {
    let active = this.#segments.at(-1);
    const full = active !== undefined && active.bytes >= this.#maxSegmentBytes;
    if (active === undefined || full || this.#rotateRequested || this.#fh === undefined) {
      const reopenSame = active !== undefined && !full && !this.#rotateRequested && this.#fh === undefined;
      if (!reopenSame || active === undefined) {
        await this.#fh?.close();
        active = { name: segmentName(firstSeq), firstSeq, lastSeq: firstSeq - 1, bytes: 0 };
        this.#segments.push(active);
      }
      this.#fh = await open(join(this.dir, active.name), "a");
      this.#rotateRequested = false;
      if (!reopenSame) await this.#syncDir();
    }
    return active;
  }

  async #syncDir(): Promise<void> {
    const dh = await open(this.dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
