// `policy check FILE...`: the logic behind both binaries' command, kept here so they say the same.
import { PolicyError } from "./errors.ts";
import { loadPolicyFile, resolveSecret } from "./load.ts";

export type PolicyCheckOptions = {
  /** Also require every `env:NAME` secret the policy refers to to be set in `env`. */
  checkEnv?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
};

export type PolicyCheckReport = { ok: boolean; out: string[]; err: string[] };

/** Checks each file; `out` gets "OK FILE (version V, N tasks)" lines, `err` every problem line. */
export async function checkPolicyFiles(
  files: readonly string[],
  options: PolicyCheckOptions = {},
): Promise<PolicyCheckReport> {
  const report: PolicyCheckReport = { ok: true, out: [], err: [] };
  for (const file of files) {
    try {
      const loaded = await loadPolicyFile(file);
      const problems: string[] = [];
      if (options.checkEnv === true) {
        for (const [name, endpoint] of Object.entries(loaded.policy.llm.endpoints)) {
          try {
            resolveSecret(endpoint.apiKey, options.env ?? process.env);
          } catch (err) {
            const reason = err instanceof PolicyError ? (err.issues[0]?.message ?? err.message) : String(err);
            problems.push(`${file}: llm.endpoints.${name}.apiKey: ${reason}`);
          }
        }
      }
      if (problems.length > 0) {
        report.ok = false;
        report.err.push(...problems);
        continue;
      }
      const n = Object.keys(loaded.policy.tasks).length;
      report.out.push(
        `OK ${file} (version ${loaded.policy.version}, ${n} task${n === 1 ? "" : "s"}, tag ${loaded.versionTag})`,
      );
    } catch (err) {
      report.ok = false;
      if (err instanceof PolicyError) report.err.push(...err.message.split("\n"));
      else report.err.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return report;
}
