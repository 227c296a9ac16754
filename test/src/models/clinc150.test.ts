// What a user notices about the shipped models on CLINC150 test + oos_test (Larson et al. 2019,
// CC BY 3.0): the small edge model's accuracy, how much it can answer at 97% precision, and that the
// validation-chosen 97% threshold holds on test. Out-of-scope queries answered with an intent are
// wrong; a prediction of `oos` is never an answer. Trains models/small once if missing (~1 min).
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel, thresholdFor } from "@tiergate/shared";
import { evaluateModel } from "../../../cloud-coordinator/src/training/eval-model.ts";
import type { EvalReport } from "../../../cloud-coordinator/src/training/report.ts";
import { CLINC150_DATA_FILE, ensureModels } from "./ensure-models.ts";

const TRAIN_TIMEOUT_MS = 600_000;

describe("CLINC150 small model", () => {
  let dir = "";
  let report: EvalReport;

  beforeAll(async () => {
    const [small] = await ensureModels({ presets: ["small"] });
    dir = small?.dir ?? "";
    ({ report } = await evaluateModel({ model: dir, data: CLINC150_DATA_FILE, format: "clinc" }));
  }, TRAIN_TIMEOUT_MS);

  it("reaches 90% in-scope accuracy on test", () => {
    expect(report.metrics.rows).toBe(5500);
    expect(report.metrics.oosRows).toBe(1000);
    expect(report.metrics.inScopeAccuracy).toBeGreaterThanOrEqual(0.9);
  });

  it("answers at least 55% of test queries at the validation 97% threshold, with ≥ 96% precision", async () => {
    const runtime = await loadModel(dir);
    const threshold = thresholdFor(runtime.manifest, "max-prob", 0.97);
    await runtime.close();
    expect(threshold).toBeDefined();
    const at97 = report.metrics.atThresholds.find((r) => r.rule === "max-prob" && r.targetPrecision === 0.97);
    expect(at97?.threshold).toBe(threshold);
    expect(at97?.coverage).toBeGreaterThanOrEqual(0.55);
    expect(at97?.precision).toBeGreaterThanOrEqual(0.96);
  });
});
