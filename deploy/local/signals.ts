// Ctrl-C / SIGTERM handling for long-running local commands: the first signal runs `onStop` (which
// stops the stack in reverse order), a second one exits at once.
//
// The test harness's registry SIGKILLs every child on these signals (its safety net for crashed test
// runs). A command that stops its children itself removes that listener after start-up so the stop
// is graceful; the registry's `exit` hook stays and still kills anything left at exit.
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export const EXIT_CODE_INTERRUPTED = 130;

export function onStopSignal(onStop: (signal: NodeJS.Signals) => Promise<void>): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`\n${signal} again: exiting now\n`);
      process.exit(EXIT_CODE_INTERRUPTED);
    }
    stopping = true;
    onStop(signal).then(
      () => process.exit(EXIT_CODE_INTERRUPTED),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) {
    for (const other of process.listeners(signal)) process.removeListener(signal, other);
    process.on(signal, handler);
  }
  return () => {
    for (const signal of STOP_SIGNALS) process.removeListener(signal, handler);
  };
}
