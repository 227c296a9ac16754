import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeDirs } from "./make-dirs.ts";

const root = await mkdtemp(join(tmpdir(), "make-dirs-"));
afterAll(async () => await rm(root, { recursive: true, force: true }));

describe("makeDirs", () => {
  it("creates missing levels and accepts what exists", async () => {
    const deep = join(root, "a", "b", "c");
    await makeDirs(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    await makeDirs(deep);
    await Promise.all([makeDirs(join(root, "x", "y")), makeDirs(join(root, "x", "z"))]);
    expect(existsSync(join(root, "x", "y")) && existsSync(join(root, "x", "z"))).toBe(true);
  });

  it("refuses a path through a file", async () => {
    await writeFile(join(root, "file"), "");
    await expect(makeDirs(join(root, "file", "d"))).rejects.toMatchObject({ code: "ENOTDIR" });
  });

  it.runIf(existsSync("/proc/self"))(
    "rejects a directory procfs will not make, where recursive mkdir never settles",
    async () => {
      await expect(makeDirs(`/proc/tiergate-test-${process.pid}/outbox`)).rejects.toMatchObject({
        code: "ENOENT",
      });
    },
  );
});
