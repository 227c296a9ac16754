// Child process for bench:models: resident memory one loaded model adds to a process that already
// has onnxruntime-node loaded. Prints {"rssMiB": N} for the model directory in argv[2].
import { loadModel } from "@tiergate/shared";

const dir = process.argv[2] ?? "";
const before = process.memoryUsage().rss;
const runtime = await loadModel(dir);
await runtime.classify(["warm up the session once"]);
const after = process.memoryUsage().rss;
process.stdout.write(`${JSON.stringify({ version: runtime.version, rssMiB: (after - before) / 2 ** 20 })}\n`);
await runtime.close();
