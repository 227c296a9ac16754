import { parseArgs } from "node:util";
import { checkPolicyFiles } from "@tiergate/shared";
import type { CliIo, Command } from "../cli.ts";

const USAGE = `Usage: tiergate-coordinator policy check [--check-env] FILE...

Validates policy files (YAML or JSON) against the policy schema and prints
"OK FILE (version V, N tasks, tag T)" for each good one, or one line per problem:
"FILE: path.to.field: reason (line L, column C)".

Options:
  --check-env   also require every env:NAME secret the policy refers to to be set
  -h, --help    show this help

Exit status: 0 all files valid, 1 some file invalid, 2 usage error.
`;

export const policyCheckCommand: Command = {
  name: "policy check",
  summary: "validate policy files and print every problem with its field path",
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { "check-env": { type: "boolean" }, help: { type: "boolean", short: "h" } },
      });
    } catch (err) {
      io.stderr(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return 2;
    }
    if (parsed.values.help === true) {
      io.stdout(USAGE);
      return 0;
    }
    if (parsed.positionals.length === 0) {
      io.stderr(`policy check: give at least one FILE\n\n${USAGE}`);
      return 2;
    }
    const report = await checkPolicyFiles(parsed.positionals, {
      checkEnv: parsed.values["check-env"] === true,
      env: io.env,
    });
    for (const line of report.out) io.stdout(`${line}\n`);
    for (const line of report.err) io.stderr(`${line}\n`);
    return report.ok ? 0 : 1;
  },
};
