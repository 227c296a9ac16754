// tiergate-coordinator: a table-driven dispatcher. Each command lives in src/commands/<name>.ts and
// exports a Command; adding one is one line in COMMANDS.
import { policyCheckCommand } from "./commands/policy-check.ts";
import { trainCommand } from "./commands/train.ts";
import { evalCommand } from "./commands/eval.ts";
// ── LLM stand-in ──
import { standinCommand } from "./commands/standin.ts";
// ── coordinator service ──
import { startCommand } from "./commands/start.ts";

export const PROGRAM = "tiergate-coordinator";

export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
};

export type Command = {
  /** Words that select it, e.g. "policy check". */
  name: string;
  summary: string;
  /** Full help text, printed by `--help`. */
  usage: string;
  /** argv holds what follows the command's words; returns the exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
};

// ── commands ──
export const COMMANDS: readonly Command[] = [
  startCommand,
  policyCheckCommand,
  standinCommand,
  trainCommand,
  evalCommand,
];

export const EXIT_USAGE = 2;

export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    "",
    "Commands:",
    ...lines,
    "",
    `Run \`${PROGRAM} <command> --help\` for a command's options.`,
    "",
  ].join("\n");
}

/** Picks the command whose words start argv (longest match) and runs it with the rest. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const first = argv[0];
  if (first === "--help" || first === "-h" || first === "help") {
    io.stdout(topLevelHelp());
    return 0;
  }
  let best: Command | undefined;
  for (const command of COMMANDS) {
    const words = command.name.split(" ");
    if (words.every((w, i) => argv[i] === w) && words.length > (best?.name.split(" ").length ?? 0))
      best = command;
  }
  if (best === undefined) {
    const what =
      argv.length === 0
        ? "no command given"
        : `unknown command: ${argv.filter((a) => !a.startsWith("-")).join(" ")}`;
    io.stderr(`${PROGRAM}: ${what}\n\n${topLevelHelp()}`);
    return EXIT_USAGE;
  }
  return best.run(argv.slice(best.name.split(" ").length), io);
}
