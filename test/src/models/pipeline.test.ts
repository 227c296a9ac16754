// The model pipeline end to end on a CLINC150 subset (Larson et al. 2019, CC BY 3.0): train through
// the CLI command, load the real ONNX graph in onnxruntime-node, and every typed error a user meets.
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MicroBatcher, TiergateError, loadModel, thresholdFor } from "@tiergate/shared";
import type { ModelRuntime } from "@tiergate/shared";
import { FEATURE_CHUNK, confidenceFromProbs, encodeBatch, featurize } from "@tiergate/shared/internal";
import { evalCommand } from "../../../cloud-coordinator/src/commands/eval.ts";
import { trainCommand } from "../../../cloud-coordinator/src/commands/train.ts";
import type { CliIo } from "../../../cloud-coordinator/src/cli.ts";
import { makeTempDir } from "../harness/util.ts";
import type { TempDir } from "../harness/util.ts";
import { CLINC150_DATA_FILE } from "./ensure-models.ts";

const LABELS = 12;
type Pair = [string, string];

function io(): CliIo & { out: string; err: string } {
  const o = { out: "", err: "", env: {}, cwd: process.cwd() } as CliIo & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.stderr = (t) => void (o.err += t);
  return o;
}

let tmp: TempDir;
let train = "";
let val = "";
let test = "";
let modelDir = "";

async function subset(rows: Pair[], oos: Pair[], labels: Set<string>, file: string): Promise<void> {
  const picked = [...rows.filter(([, l]) => labels.has(l)), ...oos.slice(0, 20)];
  await writeFile(file, picked.map(([text, label]) => JSON.stringify({ text, label })).join("\n"));
}

async function trainTo(out: string, seed: number, extra: string[] = [], preset = "nano"): Promise<number> {
  const args = ["--data", train, "--val", val, "--test", test, "--preset", preset, "--out", out, "--seed", String(seed)];
  return trainCommand.run([...args, ...extra], io());
}

const MODEL_FILES = ["manifest.json", "model.onnx", "row-map.bin", "token-rows.txt"];
const sha = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

beforeAll(async () => {
  tmp = await makeTempDir("tg-models-");
  const data = JSON.parse(await readFile(CLINC150_DATA_FILE, "utf8")) as Record<string, Pair[]>;
  const labels = new Set([...new Set((data["train"] ?? []).map(([, l]) => l))].sort().slice(0, LABELS));
  train = join(tmp.path, "train.jsonl");
  val = join(tmp.path, "val.jsonl");
  test = join(tmp.path, "test.jsonl");
  await subset(data["train"] ?? [], data["oos_train"] ?? [], labels, train);
  await subset(data["val"] ?? [], data["oos_val"] ?? [], labels, val);
  await subset(data["test"] ?? [], data["oos_test"] ?? [], labels, test);
  modelDir = join(tmp.path, "nano");
  expect(await trainTo(modelDir, 1, ["--quantize"])).toBe(0);
});

afterAll(async () => {
  await tmp?.[Symbol.asyncDispose]();
});

describe("trained model directory", () => {
  let runtime: ModelRuntime;
  beforeAll(async () => {
    runtime = await loadModel(modelDir);
  });
  afterAll(async () => {
    await runtime.close();
  });

  it("is a real ONNX graph with chunked ids/segments/lengths in and probs/logits out", async () => {
    expect(runtime.session.inputNames).toEqual(["ids", "segments", "lengths"]);
    expect(runtime.session.outputNames).toEqual(["probs", "logits"]);
    const { feeds } = runtime.encode(["book a flight to paris", "hi"]);
    const out = await runtime.session.run(feeds);
    expect(out["probs"]?.dims).toEqual([2, LABELS + 1]);
    const probs = out["probs"]?.data as Float32Array;
    expect(probs.slice(0, LABELS + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it("records labels, calibration and metrics in the manifest", () => {
    const m = runtime.manifest;
    expect(m.labels).toHaveLength(LABELS + 1);
    expect(m.oosLabel).toBe("oos");
    expect(m.calibration.oosShare).toBe(0.2);
    expect(m.calibration.table.map((r) => r.precision)).toContain(0.97);
    expect(m.metrics["test"]?.rows).toBeGreaterThan(300);
    expect(m.metrics["test"]?.inScopeAccuracy).toBeGreaterThan(0.8);
    expect(runtime.version).toMatch(/^intent-nano-fp32-[0-9a-f]{12}$/);
    const t = thresholdFor(m, "max-prob", 0.9);
    if (t !== undefined) expect(t).toBeGreaterThan(0);
  });

  it("classifies texts with calibrated confidence and top labels", async () => {
    const [c] = await runtime.classify(["what's the balance in my checking account"]);
    expect(c?.top).toHaveLength(3);
    expect(c?.top[0]?.label).toBe(c?.label);
    expect(c?.confidence.maxProb).toBe(c?.probability);
    expect(c?.confidence.margin).toBeGreaterThanOrEqual(0);
    expect(c?.confidence.entropy).toBeGreaterThanOrEqual(0);
    expect(c?.confidence.entropy).toBeLessThanOrEqual(1);
    // entropy is computed when first read; JSON still carries it
    const json = JSON.parse(JSON.stringify(c)) as { confidence: Record<string, number> };
    expect(json.confidence).toEqual({
      maxProb: c?.confidence.maxProb,
      margin: c?.confidence.margin,
      entropy: c?.confidence.entropy,
    });
  });

  it("answers texts without any feature (bias only), alone or in a batch", async () => {
    const [alone] = await runtime.classify(["!!!"]);
    expect(alone?.top).toHaveLength(3);
    const [first, second] = await runtime.classify(["?!", "what is my credit score"]);
    expect(first?.label).toBe(alone?.label);
    expect(second?.label).not.toBe("");
  });

  it("sums a text's features across chunks: the same probabilities alone and amid other texts", async () => {
    // nano: w words give 2w - 1 features (words and bigrams); the runtime keeps those training kept
    // (as embedding rows) and pads each text's last chunk with the zero row. "!!!" has none.
    const words = "please move two hundred dollars from my checking account into savings today for the rent and bills".split(" ");
    const K = FEATURE_CHUNK;
    const texts = [8, 9, 17, 3].map((w) => words.slice(0, w).join(" "));
    const { rowMap, pad, featurizer } = runtime.featureRows;
    const known = (t: string) => [...featurize(t, featurizer)].map((b) => (rowMap[b] ?? 0) - 1).filter((r) => r >= 0);
    const { feeds } = runtime.encode(["!!!", ...texts]);
    const lengths = [...(feeds["lengths"]?.data as Int32Array)];
    expect(lengths).toEqual(["!!!", ...texts].map((t) => known(t).length));
    expect(lengths[3]).toBeGreaterThan(K); // 17 words: more than one chunk
    const chunks = lengths.map((n) => Math.max(1, Math.ceil(n / K)));
    expect(feeds["ids"]?.dims).toEqual([chunks.reduce((a, b) => a + b, 0), K]);
    expect([...(feeds["segments"]?.data as Int32Array)]).toEqual(chunks.flatMap((c, i) => Array<number>(c).fill(i)));
    const ids = feeds["ids"]?.data as Int32Array;
    expect([...ids.slice(0, K)]).toEqual(Array<number>(K).fill(pad)); // "!!!": one chunk of padding
    const first = ids.slice(K, K + (chunks[1] ?? 0) * K);
    expect([...first]).toEqual([...known(texts[0] ?? ""), ...Array<number>(first.length - (lengths[1] ?? 0)).fill(pad)]);
    const together = await runtime.classify(["!!!", ...texts]);
    for (const [i, text] of texts.entries()) {
      const [alone] = await runtime.classify([text]);
      expect(together[i + 1]?.label).toBe(alone?.label);
      expect(together[i + 1]?.probability).toBeCloseTo(alone?.probability ?? -1, 6);
    }
  });

  it("classifies as onnxruntime-node's own session.run does, alone and in a batch (classify runs the native session)", async () => {
    const stock = await loadModel(modelDir, { nativeRun: false });
    try {
      const texts = ["what is my credit score", "tell me a joke", "!!!", "move two hundred dollars from checking into savings"];
      const n = LABELS + 1;
      const probs = async (t: string[]) =>
        [...((await stock.session.run(stock.encode(t).feeds, ["probs"]))["probs"]?.data as Float32Array)];
      const all = await probs(texts);
      const batch = await runtime.classify(texts);
      expect(batch).toEqual(await stock.classify(texts));
      for (const [i, text] of texts.entries()) {
        const [alone] = await runtime.classify([text]);
        expect(alone).toEqual((await stock.classify([text]))[0]);
        const row = all.slice(i * n, (i + 1) * n);
        expect(batch[i]?.probability).toBe(Math.max(...row));
        expect(batch[i]?.label).toBe(runtime.labels[row.indexOf(Math.max(...row))]);
      }
      // The native run is synchronous: no turn of the event loop passes (onnxruntime-node's own
      // session.run waits for one), so a fallback to the stock session would show here.
      let turned = false;
      setImmediate(() => (turned = true));
      await runtime.classify(texts);
      expect(turned).toBe(false);
      await stock.classify(texts);
      expect(turned).toBe(true);
      // The public session over the same native one still runs (benchmarks and tests call it).
      expect((await runtime.session.run(runtime.encode(["hi"]).feeds, ["probs"]))["probs"]?.dims).toEqual([1, n]);
    } finally {
      await stock.close();
    }
  });

  it("answers concurrent one-text calls each with its own text (the reused single-text inputs)", async () => {
    const texts = ["what is my credit score", "tell me a joke", "!!!", "please move two hundred dollars from my checking account into savings today for the rent"];
    const one = [];
    for (const t of texts) one.push((await runtime.classify([t]))[0]);
    const together = await Promise.all(texts.map((t) => runtime.classify([t])));
    expect(together.map((r) => r[0]?.probability)).toEqual(one.map((c) => c?.probability));
    expect(together.map((r) => r[0]?.label)).toEqual(one.map((c) => c?.label));
  });

  it("decodes rows into the top labels (ties keep label order), maxProb, margin and entropy", () => {
    const C = runtime.labels.length;
    const rows = [
      [0.2, 0.3, 0.3, 0.1, 0.1],
      [0.05, 0.05, 0.05, 0.05, 0.8],
      [1, 0, 0, 0, 0],
    ].map((r) => [...r, ...Array<number>(C - r.length).fill(0)]);
    const probs = Float32Array.from(rows.flat());
    const out = runtime.decode(probs, rows.length);
    const f = (x: number) => Math.fround(x);
    expect(out.map((c) => c.top.map((t) => t.label))).toEqual(
      [[1, 2, 0], [4, 0, 1], [0, 1, 2]].map((ix) => ix.map((i) => runtime.labels[i])),
    );
    expect(out.map((c) => [c.probability, c.confidence.maxProb, c.confidence.margin])).toEqual([
      [f(0.3), f(0.3), 0],
      [f(0.8), f(0.8), f(0.8) - f(0.05)],
      [1, 1, 1],
    ]);
    for (const [i, c] of out.entries())
      expect(c.confidence.entropy).toBe(confidenceFromProbs(probs, i * C, C).entropy);
  });

  it("lists topK labels in order for any topK (1, 2, 5), and maxProb/margin from the best two", async () => {
    const C = runtime.labels.length;
    const probs = Float32Array.from({ length: 4 * C }, (_, i) => ((i * 7919) % 13) / 13);
    const want = (r: number, k: number) =>
      Array.from({ length: C }, (_, j) => j)
        .sort((a, b) => (probs[r * C + b] ?? 0) - (probs[r * C + a] ?? 0) || a - b)
        .slice(0, k);
    for (const topK of [1, 2, 5]) {
      const other = await loadModel(modelDir, { topK });
      try {
        for (const [r, c] of other.decode(probs, 4).entries()) {
          const best = want(r, 2).map((j) => probs[r * C + j] ?? 0);
          expect(c.top.map((t) => runtime.labels.indexOf(t.label))).toEqual(want(r, topK));
          expect(c.confidence.maxProb).toBe(best[0]);
          expect(c.confidence.margin).toBe((best[0] ?? 0) - (best[1] ?? 0));
        }
      } finally {
        await other.close();
      }
    }
  });

  it("refuses empty text with a typed error", async () => {
    await expect(runtime.classify(["ok", "  "])).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("runs the first call of a turn at once and gathers the turn's later calls into one run at its end", async () => {
    const batcher = new MicroBatcher(runtime); // maxWaitMs under 1: the end of the turn
    const texts = ["what is my credit score", "tell me a joke", "set a timer for ten minutes"];
    const first = batcher.classify(texts[0] ?? "");
    expect(batcher.batches).toBe(1); // ran in the call itself, no wait
    const rest = texts.slice(1).map((t) => batcher.classify(t));
    expect(batcher.batches).toBe(1); // the turn's later calls wait for its end
    await new Promise((resolve) => setImmediate(resolve));
    expect(batcher.batches).toBe(2); // one run for both, at the end of the turn
    const answers = await Promise.all([first, ...rest]);
    const singles = await runtime.classify(texts);
    expect(answers.map((x) => x.label)).toEqual(singles.map((x) => x.label));
    expect(answers.map((x) => x.probability)).toEqual(singles.map((x) => x.probability));
    await new Promise((resolve) => setImmediate(resolve));
    const again = batcher.classify("tell me a joke");
    expect(batcher.batches).toBe(3); // a new turn: at once again
    expect((await again).label).toBe(answers[1]?.label);
    await batcher.close();
  });

  it("answers each of many concurrent micro-batched callers as a single classify would", async () => {
    const batcher = new MicroBatcher(runtime, { maxBatchSize: 64 });
    const texts = Array.from({ length: 300 }, (_, i) => `please check my account balance number ${i % 17} now`);
    const batched = await Promise.all(texts.map((t) => batcher.classify(t)));
    expect(batcher.batches).toBeLessThanOrEqual(Math.ceil(300 / 64) + 1);
    for (const i of [0, 1, 16, 150, 299]) {
      const [single] = await runtime.classify([texts[i] ?? ""]);
      expect(batched[i]?.label).toBe(single?.label);
      expect(batched[i]?.probability).toBeCloseTo(single?.probability ?? -1, 5);
    }
    await expect(batcher.classify("")).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await batcher.close();
  });

  it("writes an int8 variant that agrees with fp32", async () => {
    const int8 = await loadModel(`${modelDir}-int8`);
    try {
      expect(int8.manifest.precision).toBe("int8");
      expect(int8.manifest.onnx.bytes).toBeLessThan(runtime.manifest.onnx.bytes);
      const texts = ["transfer money to my savings", "what is my credit score", "tell me a joke"];
      const [a, b] = [await runtime.classify(texts), await int8.classify(texts)];
      expect(b.map((c) => c.label)).toEqual(a.map((c) => c.label));
    } finally {
      await int8.close();
    }
  });
});

describe("training", () => {
  it("gives the same model.onnx and row-map.bin bytes for the same data and seed, other weights for another seed", async () => {
    const again = join(tmp.path, "again");
    const other = join(tmp.path, "other");
    expect(await trainTo(again, 1)).toBe(0);
    expect(await trainTo(other, 2)).toBe(0);
    expect(await sha(join(again, "model.onnx"))).toBe(await sha(join(modelDir, "model.onnx")));
    expect(await sha(join(other, "model.onnx"))).not.toBe(await sha(join(modelDir, "model.onnx")));
    expect(await sha(join(again, "row-map.bin"))).toBe(await sha(join(modelDir, "row-map.bin")));
  });

  it("reports a malformed data line with its line number and writes nothing", async () => {
    const bad = join(tmp.path, "bad.jsonl");
    await writeFile(bad, '{"text":"a","label":"x"}\n{"text":"b","label":"y"}\n{"text": "c", label: y}\n');
    const cli = io();
    const code = await trainCommand.run(["--data", bad, "--preset", "nano", "--out", join(tmp.path, "bad")], cli);
    expect(code).toBe(1);
    expect(cli.err).toContain("VALIDATION_FAILED");
    expect(cli.err).toContain("bad.jsonl:3:");
  });

  it("prints --help and refuses bad options", async () => {
    const cli = io();
    expect(await trainCommand.run(["--help"], cli)).toBe(0);
    expect(cli.out).toContain("--preset");
    expect(await evalCommand.run(["--help"], cli)).toBe(0);
    expect(cli.out).toContain("--plot");
    expect(await trainCommand.run(["--data", train, "--preset", "huge", "--out", "x"], io())).toBe(2);
  });
});

describe("loading and eval errors", () => {
  it("refuses a tampered model.onnx or row map (MODEL_INTEGRITY) and a missing one (MODEL_NOT_FOUND)", async () => {
    for (const file of ["model.onnx", "row-map.bin"]) {
      const copy = join(tmp.path, `tampered-${file}`);
      await mkdir(copy);
      for (const f of MODEL_FILES) await copyFile(join(modelDir, f), join(copy, f));
      const bytes = await readFile(join(modelDir, file));
      bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
      await writeFile(join(copy, file), bytes);
      const err = await loadModel(copy).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TiergateError);
      expect((err as TiergateError).code).toBe("MODEL_INTEGRITY");
      expect((err as TiergateError).message).toContain(file);
      await rm(join(copy, file));
      await expect(loadModel(copy)).rejects.toMatchObject({ code: "MODEL_NOT_FOUND", message: expect.stringContaining(file) as unknown });
    }
    await expect(loadModel(join(tmp.path, "no-such-model"))).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
  });

  it("refuses a row map that does not fit the model, even with a matching sha256 (MODEL_LOAD_FAILED)", async () => {
    const good = await readFile(join(modelDir, "row-map.bin"));
    const swapped = Buffer.from(good);
    swapped.writeUInt32LE(good.readUInt32LE(4), 0); // rows 0 and 1 name the same bucket: not ascending
    for (const [name, bytes] of [["short", good.subarray(4)], ["unordered", swapped]] as const) {
      const copy = join(tmp.path, `row-map-${name}`);
      await mkdir(copy);
      for (const f of MODEL_FILES) await copyFile(join(modelDir, f), join(copy, f));
      await writeFile(join(copy, "row-map.bin"), bytes);
      const manifest = JSON.parse(await readFile(join(modelDir, "manifest.json"), "utf8")) as { rowMap: { sha256: string; bytes: number } };
      manifest.rowMap = { ...manifest.rowMap, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
      await writeFile(join(copy, "manifest.json"), JSON.stringify(manifest));
      await expect(loadModel(copy)).rejects.toMatchObject({ code: "MODEL_LOAD_FAILED", message: expect.stringContaining("row-map.bin") as unknown });
    }
  });

  it("evaluates, writing a JSON report and an SVG plot, and refuses unknown labels", async () => {
    const cli = io();
    const report = join(tmp.path, "report.json");
    const plot = join(tmp.path, "plot.svg");
    expect(await evalCommand.run(["--model", modelDir, "--data", test, "--report", report, "--plot", plot], cli)).toBe(0);
    expect(cli.out).toContain("in-scope accuracy");
    expect(cli.out).toContain("most frequent confusions");
    const json = JSON.parse(await readFile(report, "utf8")) as { metrics: { rows: number } };
    expect(json.metrics.rows).toBeGreaterThan(300);
    expect(await readFile(plot, "utf8")).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    const unknown = join(tmp.path, "unknown.jsonl");
    await writeFile(unknown, '{"text":"hello there","label":"no_such_intent"}\n');
    const bad = io();
    expect(await evalCommand.run(["--model", modelDir, "--data", unknown], bad)).toBe(1);
    expect(bad.err).toContain("VALIDATION_FAILED");
    expect(bad.err).toContain("no_such_intent");
  });
});

describe("token rows (small: words, bigrams and character 4-grams)", () => {
  let smallDir = "";
  let small: ModelRuntime;
  beforeAll(async () => {
    smallDir = join(tmp.path, "small");
    expect(await trainTo(smallDir, 1, [], "small")).toBe(0);
    small = await loadModel(smallDir);
  });
  afterAll(async () => {
    await small?.close();
  });

  it("feeds a known token as one row: far fewer ids, the probabilities of feeding every feature", async () => {
    expect(small.manifest.tokenRows.tokens).toBeGreaterThan(100);
    const rows = JSON.parse(await readFile(test, "utf8").then((t) => `[${t.trim().split("\n").join(",")}]`)) as { text: string }[];
    const texts = [...rows.map((r) => r.text).slice(0, 300), "zzqx blorft balance", "my café balance"];
    const withRows = small.encode(texts);
    const plain = encodeBatch(texts, { ...small.featureRows, tokens: undefined });
    const count = (e: typeof plain) => (e.feeds["lengths"]?.data as Int32Array).reduce((a, b) => a + b, 0);
    expect(count(withRows)).toBeLessThan(0.6 * count(plain));
    const run = async (e: typeof plain) => (await small.session.run(e.feeds, ["probs"]))["probs"]?.data as Float32Array;
    const [a, b] = [await run(withRows), await run(plain)];
    expect(a.length).toBe(b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    expect(worst).toBeLessThan(1e-5);
    const alone = await small.classify([texts[0] ?? ""]);
    expect(alone[0]?.probability).toBeCloseTo(b[0] === undefined ? 0 : Math.max(...b.slice(0, small.labels.length)), 5);
  });

  it("gives a text the same probabilities, to the bit, alone as in a batch", async () => {
    // Most texts are one chunk with token rows; a lone one-chunk run once summed in another order.
    const rows = (await readFile(test, "utf8")).trim().split("\n").slice(0, 120);
    const texts = rows.map((l) => (JSON.parse(l) as { text: string }).text);
    const together = await small.classify(texts);
    for (let i = 0; i < texts.length; i++) {
      const [alone] = await small.classify([texts[i] ?? ""]);
      expect(alone?.probability, texts[i]).toBe(together[i]?.probability);
      expect(alone?.confidence.margin, texts[i]).toBe(together[i]?.confidence.margin);
    }
  });

  it("writes the same token-rows.txt and model.onnx for the same data and seed", async () => {
    const again = join(tmp.path, "small-again");
    expect(await trainTo(again, 1, [], "small")).toBe(0);
    for (const f of ["token-rows.txt", "model.onnx"]) expect(await sha(join(again, f))).toBe(await sha(join(smallDir, f)));
  });

  it("refuses a tampered (MODEL_INTEGRITY), missing (MODEL_NOT_FOUND) or ill-formed (MODEL_LOAD_FAILED) token rows file", async () => {
    const good = await readFile(join(smallDir, "token-rows.txt"), "utf8");
    const lines = good.trimEnd().split("\n");
    const cases = [
      ["tampered", `${good}x\n`, "MODEL_INTEGRITY", false],
      ["unsorted", `${[lines[1], lines[0], ...lines.slice(2)].join("\n")}\n`, "MODEL_LOAD_FAILED", true],
      ["short", `${lines.slice(1).join("\n")}\n`, "MODEL_LOAD_FAILED", true],
      ["unterminated", good.trimEnd(), "MODEL_LOAD_FAILED", true],
    ] as const;
    for (const [name, text, code, fixSha] of cases) {
      const copy = join(tmp.path, `token-rows-${name}`);
      await mkdir(copy);
      for (const f of MODEL_FILES) await copyFile(join(smallDir, f), join(copy, f));
      await writeFile(join(copy, "token-rows.txt"), text);
      if (fixSha) {
        const manifest = JSON.parse(await readFile(join(smallDir, "manifest.json"), "utf8")) as { tokenRows: { sha256: string; bytes: number } };
        manifest.tokenRows = { ...manifest.tokenRows, sha256: createHash("sha256").update(text).digest("hex"), bytes: Buffer.byteLength(text) };
        await writeFile(join(copy, "manifest.json"), JSON.stringify(manifest));
      }
      await expect(loadModel(copy), name).rejects.toMatchObject({ code, message: expect.stringContaining("token-rows.txt") as unknown });
      if (name === "tampered") {
        await rm(join(copy, "token-rows.txt"));
        await expect(loadModel(copy)).rejects.toMatchObject({ code: "MODEL_NOT_FOUND", message: expect.stringContaining("token-rows.txt") as unknown });
      }
    }
  });
});
