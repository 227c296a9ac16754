import { appendFile, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeRecords, encodeRecord, RecordLog } from "./record-log.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tg-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("RecordLog", () => {
  it("group-commits concurrent appends and returns them, in order, after reopening", async () => {
    const { log } = await RecordLog.open({ dir });
    const seqs = await Promise.all(
      Array.from({ length: 500 }, (_, i) => log.append(1, Buffer.from(`item-${i}`))),
    );
    expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    // 500 appends issued together take far fewer than 500 write+fsync rounds: one segment, one file.
    await log.close();
    const again = await RecordLog.open({ dir });
    expect(again.records.map((r) => r.payload.toString())).toEqual(seqs.map((s) => `item-${s - 1}`));
    expect(again.log.nextSeq).toBe(501);
    await again.log.close();
  });

  it("cuts a torn last record after a crash and keeps appending after the last good one", async () => {
    const { log } = await RecordLog.open({ dir });
    await log.append(1, Buffer.from("one"));
    await log.append(1, Buffer.from("two"));
    // A crash mid-write: half of a third record reached the file.
    const torn = encodeRecord(1, 3, Date.now(), Buffer.from("three"));
    const [segment] = await readdir(dir);
    await appendFile(join(dir, segment ?? ""), torn.subarray(0, torn.length - 2));
    const reopened = await RecordLog.open({ dir });
    expect(reopened.records.map((r) => r.payload.toString())).toEqual(["one", "two"]);
    expect(reopened.report.truncatedBytes).toBe(torn.length - 2);
    await reopened.log.append(1, Buffer.from("three again"));
    await reopened.log.close();
    const third = await RecordLog.open({ dir });
    expect(third.records.map((r) => r.payload.toString())).toEqual(["one", "two", "three again"]);
    await third.log.close();
  });

  it("rejects a record whose checksum does not match", () => {
    const good = encodeRecord(1, 1, 0, Buffer.from("abc"));
    const bad = Buffer.from(good);
    bad[bad.length - 1] = 0x00;
    expect(decodeRecords(Buffer.concat([good, bad])).records).toHaveLength(1);
    expect(decodeRecords(Buffer.concat([good, bad])).validBytes).toBe(good.length);
  });

  it("rotates segments by size and deletes only closed segments below a seq", async () => {
    const { log } = await RecordLog.open({ dir, maxSegmentBytes: 64 });
    for (let i = 0; i < 10; i++) await log.append(1, Buffer.alloc(60, i));
    expect(log.segments().length).toBe(10);
    expect(await log.deleteSegmentsBefore(6)).toBe(5);
    expect((await readdir(dir)).length).toBe(5);
    // The active segment is never deleted, even when everything in it is obsolete.
    expect(await log.deleteSegmentsBefore(1_000)).toBe(4);
    expect((await readdir(dir)).length).toBe(1);
    await log.close();
    const reopened = await RecordLog.open({ dir });
    expect(reopened.records.map((r) => r.seq)).toEqual([10]);
    expect(reopened.log.nextSeq).toBe(11);
    await reopened.log.close();
  });

  it("refuses appends after close with a typed error", async () => {
    const { log } = await RecordLog.open({ dir });
    await log.close();
    await expect(log.append(1, Buffer.from("x"))).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    expect((await stat(dir)).isDirectory()).toBe(true);
  });
});
