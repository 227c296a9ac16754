// The watcher against real files in a temp dir; every wait is on a callback, not a sleep.
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PolicyError } from "./errors.ts";
import type { LoadedPolicy } from "./load.ts";
import { PolicyWatcher } from "./watch.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../../deploy/policies/example.yaml");

/** Collects callback values and lets a test await the next one. */
class Events<T> {
  #items: T[] = [];
  #waiters: ((v: T) => void)[] = [];
  push = (v: T): void => {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(v);
    else this.#items.push(v);
  };
  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((res) => this.#waiters.push(res));
  }
}

describe("PolicyWatcher", () => {
  let dir: string;
  let file: string;
  let example: string;
  let watcher: PolicyWatcher | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tg-policy-"));
    file = join(dir, "policy.yaml");
    example = await readFile(EXAMPLE, "utf8");
    await writeFile(file, example);
  });
  afterEach(async () => {
    watcher?.close();
    watcher = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the last good policy on a bad write, reports why, then picks up a good one", async () => {
    const changes = new Events<LoadedPolicy>();
    const errors = new Events<PolicyError>();
    watcher = await PolicyWatcher.open({
      file,
      onChange: changes.push,
      onError: errors.push,
      debounceMs: 20,
    });
    const first = watcher.current;
    expect(first.policy.cache.ttlMs).toBe(600_000);

    await writeFile(file, example.replace("ttlMs: 600000", "ttlMs: -5"));
    // A non-atomic write may first show a truncated file; wait for the error about the bad field.
    let error = await errors.next();
    while (!error.message.includes("cache.ttlMs")) error = await errors.next();
    expect(error.message).toContain(`${file}: cache.ttlMs: `);
    expect(watcher.current).toBe(first);

    await writeFile(file, example.replace("ttlMs: 600000", "ttlMs: 1000"));
    const changed = await changes.next();
    expect(changed.policy.cache.ttlMs).toBe(1000);
    expect(watcher.current).toBe(changed);
    expect(changed.versionTag).not.toBe(first.versionTag);
  });

  it("follows an editor's rename-over save", async () => {
    const changes = new Events<LoadedPolicy>();
    watcher = await PolicyWatcher.open({ file, onChange: changes.push, debounceMs: 20 });
    const tmp = join(dir, ".policy.yaml.swp");
    await writeFile(tmp, example.replace("maxItems: 256", "maxItems: 64"));
    await rename(tmp, file);
    expect((await changes.next()).policy.batch.maxItems).toBe(64);
    // and keeps following after the inode changed
    await writeFile(file, example.replace("maxItems: 256", "maxItems: 32"));
    expect((await changes.next()).policy.batch.maxItems).toBe(32);
  });

  it("reloads on demand and says whether anything changed", async () => {
    const errors = new Events<PolicyError>();
    watcher = await PolicyWatcher.open({ file, onError: errors.push, watch: false });
    expect((await watcher.reload()).type).toBe("unchanged");
    await writeFile(file, `# only a comment differs\n${example}`);
    expect((await watcher.reload()).type).toBe("unchanged");
    await writeFile(file, 'version: "9.0"\ntasks: {}\n');
    const rejected = await watcher.reload();
    expect(rejected.type).toBe("rejected");
    expect(rejected.type === "rejected" && rejected.error.code).toBe("POLICY_VERSION_UNSUPPORTED");
    expect((await errors.next()).code).toBe("POLICY_VERSION_UNSUPPORTED");
    await rm(file);
    const missing = await watcher.reload();
    expect(missing.type === "rejected" && missing.error.message).toMatch(/cannot read the policy file/);
    expect(watcher.current.policy.tasks.intent).toBeDefined();
    await writeFile(file, example.replace("attempts: 5", "attempts: 7"));
    const changed = await watcher.reload();
    expect(changed.type).toBe("changed");
    expect(watcher.current.policy.batch.attempts).toBe(7);
  });

  it("refuses to start on a bad initial policy", async () => {
    await writeFile(file, "version: [");
    await expect(PolicyWatcher.open({ file })).rejects.toMatchObject({ code: "POLICY_INVALID" });
  });
});
