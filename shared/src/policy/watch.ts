// Keeps a running process on its last good policy: reloads on file change (debounced) or on demand
// (SIGHUP), and reports a bad file through onError without replacing what is in force.
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { POLICY_ERROR_CODES, PolicyError } from "./errors.ts";
import { loadPolicyFile, type LoadedPolicy } from "./load.ts";

export const DEFAULT_POLICY_WATCH_DEBOUNCE_MS = 100;

export type PolicyWatcherOptions = {
  file: string;
  /** A new, valid policy is in force. Not called when the file changed without changing the policy. */
  onChange?: (policy: LoadedPolicy, previous: LoadedPolicy) => void;
  /** A reload failed; the previous policy stays in force. */
  onError?: (error: PolicyError) => void;
  /** Quiet time after the last file event before reloading (editors write in several steps). */
  debounceMs?: number;
  /** Watch the file system; false leaves only `reload()` (e.g. for SIGHUP-only setups). Default true. */
  watch?: boolean;
};

export type ReloadOutcome =
  | { type: "changed"; policy: LoadedPolicy; previous: LoadedPolicy }
  | { type: "unchanged"; policy: LoadedPolicy }
  | { type: "rejected"; policy: LoadedPolicy; error: PolicyError };

export class PolicyWatcher {
  readonly file: string;
  #current: LoadedPolicy;
  #options: PolicyWatcherOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Loads the file (a bad initial policy throws PolicyError) and starts watching it. */
  static async open(options: PolicyWatcherOptions): Promise<PolicyWatcher> {
    const initial = await loadPolicyFile(options.file);
    return new PolicyWatcher(options, initial);
  }

  private constructor(options: PolicyWatcherOptions, initial: LoadedPolicy) {
    this.file = options.file;
    this.#options = options;
    this.#current = initial;
    if (options.watch !== false) this.#startWatching();
  }

  /** The policy in force: the last one that loaded without errors. */
  get current(): LoadedPolicy {
    return this.#current;
  }

  /** Reloads now (e.g. on SIGHUP). Never rejects: a bad file yields `rejected` and is reported via onError. */
  reload(): Promise<ReloadOutcome> {
    const next = this.#queue.then(() => this.#reloadOnce());
    this.#queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #reloadOnce(): Promise<ReloadOutcome> {
    const previous = this.#current;
    let loaded: LoadedPolicy;
    try {
      loaded = await loadPolicyFile(this.file);
    } catch (err) {
      const error =
        err instanceof PolicyError
          ? err
          : new PolicyError(POLICY_ERROR_CODES.POLICY_INVALID, `reload failed: ${String(err)}`, {
              file: this.file,
              cause: err,
            });
      this.#emit(() => this.#options.onError?.(error));
      return { type: "rejected", policy: previous, error };
    }
    if (loaded.versionTag === previous.versionTag && loaded.baseDir === previous.baseDir) {
      return { type: "unchanged", policy: previous };
    }
    this.#current = loaded;
    this.#emit(() => this.#options.onChange?.(loaded, previous));
    return { type: "changed", policy: loaded, previous };
  }

  /** Callbacks must not break the watcher: a throwing onChange is reported through onError. */
  #emit(callback: () => void): void {
    if (this.#closed) return;
    try {
      callback();
    } catch (err) {
      try {
        this.#options.onError?.(
          new PolicyError(POLICY_ERROR_CODES.POLICY_INVALID, `policy callback failed: ${String(err)}`, {
            file: this.file,
            cause: err,
          }),
        );
      } catch {
        // nothing left to tell
      }
    }
  }

  // Watch the directory, not the file: editors save by writing a temp file and renaming it over the
  // original, which leaves a file watch pointing at the old inode.
  #startWatching(): void {
    const path = resolve(this.file);
    const name = basename(path);
    const debounceMs = this.#options.debounceMs ?? DEFAULT_POLICY_WATCH_DEBOUNCE_MS;
    this.#watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (this.#closed || (filename !== null && filename !== name)) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        if (!this.#closed) void this.reload();
      }, debounceMs);
    });
    this.#watcher.on("error", (err) => {
      this.#emit(() =>
        this.#options.onError?.(
          new PolicyError(POLICY_ERROR_CODES.POLICY_INVALID, `cannot watch the policy file: ${err.message}`, {
            file: this.file,
            cause: err,
          }),
        ),
      );
    });
  }
}
