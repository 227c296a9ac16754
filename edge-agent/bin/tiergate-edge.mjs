#!/usr/bin/env node
// Entry point. Plain JavaScript so that an old Node fails with a clear message instead of a syntax
// error: the sources are TypeScript run through Node 24's native type stripping.
const NAME = "tiergate-edge";
const MIN_NODE_MAJOR = 24;
const major = Number(process.versions.node.split(".")[0]);
if (!(major >= MIN_NODE_MAJOR)) {
  process.stderr.write(
    `${NAME} needs Node.js >= ${MIN_NODE_MAJOR} (this is v${process.versions.node}). ` +
      `Run it through npm (\`npx ${NAME} ...\`), which uses the project's Node in node_modules/.bin, ` +
      `or install Node ${MIN_NODE_MAJOR} LTS.\n`,
  );
  process.exit(1);
}
// Cache compiled, type-stripped modules on disk (Node >= 22.1): start-to-ready time matters on a device.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();

// The bundle bin/bundle.mjs made (one module instead of ~500 to load) while it is fresh, else the
// TypeScript sources.
const { freshBundle } = await import("./fresh-bundle.mjs");
const { main } = await import(freshBundle() ?? "../src/cli.ts");
const code = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
});
// The command has finished (for `start`: a graceful stop, or a failed start): nothing left may keep
// the process, such as a NATS connection attempt to a server that does not answer (it would hold the
// process until the client's 20 s timeout). What stdout and stderr still hold is written first.
await Promise.all(
  [process.stdout, process.stderr].map((s) =>
    s.writableLength > 0 ? new Promise((resolve) => s.once("drain", resolve)) : undefined,
  ),
);
process.exit(code);
