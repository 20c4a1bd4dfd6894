// The panels' data built from run folders' contents: curves, detector report, lazy-rich series,
// influence matrices (α sweeps: alphaSweep.test.ts). Hand-made inputs with known answers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  grokRun,
  influenceRun,
  lazyRichRun,
  modelAnalysesUnavailable,
  readoutOf,
  type RunData,
} from "../../src/shared/analysisViews";
import type { AnalysisFile, AnalysisHeader, AnalysisName, AnalysisRecords } from "../../src/shared/analysisFormat";
import type { MetricsRecord, RunManifest } from "../../src/shared/runFormat";

const ref = { runId: "r", label: "r", colorIndex: 0 };

function manifest(config: Record<string, unknown>, extra: Partial<RunManifest> = {}): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "r",
    system: "s",
    experiment: { path: "/x/e.experiment.ts", sha256: "sha256:0" },
    config,
    seed: 0,
    backend: { name: "cpu", reason: "" },
    status: "finished",
    startedAt: "",
    updatedAt: "",
    totalSteps: 100,
    step: 100,
    producer: "test",
    ...extra,
  };
}

function file<N extends AnalysisName>(
  analysis: N,
  records: AnalysisRecords[N][],
  header: Partial<AnalysisHeader> = {},
): AnalysisFile<N> {
  return {
    header: {
      format: "learning-mechanics/analysis",
      formatVersion: 1,
      analysis,
      settings: {},
      producer: "t",
      createdAt: "",
      ...header,
    },
    records,
    partialTail: false,
    badLines: [],
  };
}

function data(partial: Partial<RunData> & { manifest: RunManifest }): RunData {
  return { runDir: "/runs/r", metrics: [], analyses: {}, unreadable: [], ...partial };
}

/** Train accuracy reaches 1 at step 500, test accuracy at step 5000: grokking with ratio 10. */
function grokCurvesRecords(): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  for (let step = 0; step <= 8000; step += 100) {
    out.push({
      step,
      time: step / 100,
      train_acc: step >= 500 ? 1 : step / 1000,
      test_acc: step >= 5000 ? 1 : 0.01,
      train_loss: 1,
      test_loss: step < 3000 ? 1 + step / 1000 : 4 - (step - 3000) / 2000,
      param_norm: step < 2000 ? 10 + step / 100 : 30 - (step - 2000) / 1000,
    });
  }
  return out;
}

describe("grokking view", () => {
  test("curves are columnar with nulls where a metric was not logged, and the report finds t_mem, t_gen and the verdict", () => {
    const records = grokCurvesRecords();
    records.push({ step: 8050, time: 81, train_loss: 0.5 });
    const run = grokRun(
      ref,
      data({
        manifest: manifest({ task: { kind: "modularArithmetic", p: 97, op: "add", trainFraction: 0.3 } }),
        metrics: records,
      }),
    );
    assert.equal(run.curves.step.length, records.length);
    assert.equal(run.curves.testAcc[run.curves.testAcc.length - 1], null);
    assert.equal(run.curves.trainLoss[run.curves.trainLoss.length - 1], 0.5);
    const r = run.report!;
    assert.equal(r.verdict, "grokked");
    assert.equal(r.tMem, 500);
    assert.equal(r.tGen, 5000);
    assert.equal(r.ratio, 10);
    assert.equal(r.atChance, true, "test accuracy 0.01 at t_mem is chance for p = 97");
    assert.deepEqual(
      r.phases.map((p) => p.name),
      ["memorization", "circuit formation", "cleanup / generalized"],
    );
    const peak = r.indicators.find((i) => i.name === "weight-norm peak");
    assert.equal(peak?.step, 2000, "the raw peak, not the smoothed curve's shifted one");
    assert.equal(peak!.leadTime, 5000 - peak!.step!);
  });

  test("progress measures from the analyses become indicator series and jump indicators", () => {
    const steps = [0, 1000, 2000, 3000, 4000, 5000, 6000];
    const kernel = file(
      "kernel",
      steps.map((step) => ({ step, probe: 8, kernelDistance: 0, kta: step < 3000 ? 0.1 : 0.8, cka: {} })),
    );
    const run = grokRun(ref, data({ manifest: manifest({}), metrics: grokCurvesRecords(), analyses: { kernel } }));
    const kta = run.indicators.find((s) => s.name === "kernel–target alignment")!;
    assert.deepEqual(kta.steps, steps);
    const jump = run.report!.indicators.find((i) => i.name === "kernel–target alignment");
    assert.ok(jump && jump.step === 3000 && jump.leadTime === 2000, JSON.stringify(jump));
  });
});

describe("lazy-rich view", () => {
  const weights = file("weights", [
    {
      step: 0,
      tensors: { "l.w": { shape: [2, 2], norm: 1, relChange: 0 }, "l.b": { shape: [2], norm: 0, relChange: null } },
      paramNorm: 1,
      relChange: 0,
    },
    {
      step: 10,
      tensors: { "l.w": { shape: [2, 2], norm: 2, relChange: 0.9 }, "l.b": { shape: [2], norm: 1, relChange: null } },
      paramNorm: 2,
      relChange: 0.8,
    },
  ]);

  test("per-layer series on the checkpoint steps; a run from elsewhere says why the kernel is missing", () => {
    const m = manifest({});
    delete (m as Partial<RunManifest>).experiment;
    const run = lazyRichRun(ref, data({ manifest: m, analyses: { weights } }));
    assert.deepEqual(run.steps, [0, 10]);
    assert.deepEqual(run.relativeWeightChange!.find((s) => s.layer === "l.w")!.values, [0, 0.9]);
    assert.deepEqual(run.paramNorm!.find((s) => s.layer === "l.b")!.values, [0, 1]);
    assert.equal(run.kernelDistance, undefined);
    assert.deepEqual(
      run.missing.map((x) => x.metric),
      ["kernelDistance", "kernelAlignment", "cka"],
    );
    assert.match(run.missing[0]!.reason, /names no experiment file/);
    assert.equal(run.regime?.badge, "rich", "relative change 0.9 of the weight matrix");
  });

  test("runs whose model the analyzer cannot rebuild say why the model analyses are missing, and how to get them", () => {
    const py = manifest({}, { experiment: { path: "/w/train_mlp.py", sha256: "sha256:0" } });
    const nb = manifest({}, { experiment: { path: "/w/explore.ipynb", sha256: "sha256:0" } });
    const none = manifest({});
    delete (none as Partial<RunManifest>).experiment;
    assert.equal(modelAnalysesUnavailable(manifest({})), undefined, "a TypeScript experiment gets them by analysing");
    assert.equal(
      modelAnalysesUnavailable(manifest({}, { experiment: { path: "/w/e.experiment.mjs", sha256: "sha256:0" } })),
      undefined,
    );
    assert.match(
      modelAnalysesUnavailable(py)!,
      /written by a Python script.*run\.watch\(model.*learning_mechanics analyze/,
    );
    assert.match(modelAnalysesUnavailable(nb)!, /written by a Jupyter notebook/);
    assert.match(modelAnalysesUnavailable(none)!, /names no experiment file.*run\.watch/);
    const run = lazyRichRun(ref, data({ manifest: py, analyses: { weights } }));
    assert.match(run.missing.find((x) => x.metric === "cka")!.reason, /Python script/);
    assert.equal(run.relativeWeightChange?.length, 2, "the weight-space measures are there");
    const ts = lazyRichRun(ref, data({ manifest: manifest({}), analyses: { weights } }));
    assert.match(ts.missing[0]!.reason, /not analysed yet/);
  });

  test("the readout's movement does not make a run rich: only hidden layers vote", () => {
    assert.equal(readoutOf(["layers.0.weight", "out.weight"]), "out.weight");
    assert.equal(readoutOf(["layers.0.weight", "layers.10.weight", "layers.2.weight"]), "layers.10.weight");
    // PyTorch names: nn.Sequential indices, numbered modules, named heads; hidden layers never chosen.
    assert.equal(readoutOf(["0.weight", "2.weight", "10.weight", "4.weight"]), "10.weight");
    assert.equal(readoutOf(["net.0.weight", "net.2.weight", "net.4.weight"]), "net.4.weight");
    assert.equal(readoutOf(["fc1.weight", "fc3.weight", "fc2.weight"]), "fc3.weight");
    assert.equal(readoutOf(["conv1.weight", "layer1.0.conv1.weight", "fc.weight"]), "fc.weight");
    assert.equal(readoutOf(["backbone.fc1.weight", "lm_head.weight", "backbone.fc2.weight"]), "lm_head.weight");
    assert.equal(readoutOf(["encoder.blocks.0.attn.weight", "model.classifier.weight"]), "model.classifier.weight");
    assert.equal(readoutOf(["embedding.weight", "hidden.weight"]), undefined);
    const w = file("weights", [
      {
        step: 2000,
        tensors: {
          "layers.0.weight": { shape: [16, 256], norm: 1, relChange: 0.04 },
          "out.weight": { shape: [256, 1], norm: 1, relChange: 1.07 },
        },
        paramNorm: 1,
        relChange: 0.08,
      },
    ]);
    const k = file("kernel", [
      { step: 2000, probe: 64, kernelDistance: 0.00014, kta: 0.18, cka: { "out.weight": 0.9997 } },
    ]);
    const run = lazyRichRun(ref, data({ manifest: manifest({}), analyses: { weights: w, kernel: k } }));
    assert.equal(run.regime?.badge, "lazy", run.regime?.reason);
    assert.match(run.regime!.reason, /layer layers\.0\.weight/);
  });

  test("kernel series align to the union of steps; a broken analysis file is named", () => {
    const kernel = file("kernel", [{ step: 10, probe: 4, kernelDistance: 0.01, kta: 0.5, cka: { "l.w": 0.99 } }]);
    const run = lazyRichRun(ref, data({ manifest: manifest({}), analyses: { weights, kernel }, unreadable: [] }));
    assert.deepEqual(run.kernelDistance, [null, 0.01]);
    assert.deepEqual(run.cka, [{ layer: "l.w", values: [null, 0.99] }]);
    const broken = lazyRichRun(
      ref,
      data({ manifest: manifest({}), unreadable: [{ analysis: "weights", message: "bad header" }] }),
    );
    assert.match(
      broken.missing.find((x) => x.metric === "relativeWeightChange")!.reason,
      /could not be read: bad header/,
    );
    assert.equal(broken.regime, null);
  });
});

describe("influence view", () => {
  test("examples × checkpoints, row-major, NaN where a record lacks a value; BIF chains and warnings", () => {
    const examples = [
      { index: 5, label: 1, text: "1 + 0 = 1", dataIndex: 11 },
      { index: 9, label: 2, text: "<b>2</b>" },
    ];
    const tracin = file(
      "tracin",
      [
        { step: 0, lr: 1, values: [1, -2] },
        { step: 10, lr: 1, values: [3, null as unknown as number] },
        { step: 20, lr: 1, values: [5, 6] },
      ],
      { examples, query: "4 test examples", settings: { every: 1, projectionDim: 32, trainExamples: 0 } },
    );
    const bif = file(
      "bif",
      [
        {
          step: 10,
          values: [0.5, -0.5],
          traces: [
            { loss: [1, 2], query: [0, 0] },
            { loss: [3, 4], query: [0, 0] },
          ],
          rhat: 1.3,
          ess: 12,
          warning: "not mixed",
        },
      ],
      { examples, query: "4 test examples" },
    );
    const run = influenceRun(ref, data({ manifest: manifest({}), analyses: { tracin, bif } }))!;
    assert.deepEqual(
      run.examples.map((e) => [e.index, e.label, e.text]),
      [
        [5, "1", "1 + 0 = 1"],
        [9, "2", "<b>2</b>"],
      ],
    );
    // The data.json index travels to the panel when the header has it (older headers do not).
    assert.deepEqual(
      run.examples.map((e) => e.dataIndex),
      [11, undefined],
    );
    const m = run.matrices[0]!;
    assert.equal(m.method, "tracin");
    assert.deepEqual(m.steps, [0, 10, 20]);
    assert.deepEqual(Array.from(m.values as Float32Array), [1, 3, 5, -2, Number.NaN, 6]);
    assert.match(m.query, /4 test examples/);
    assert.deepEqual(Array.from(run.matrices[1]!.values as Float32Array), [0.5, -0.5]);
    assert.deepEqual(run.bifChains, [
      {
        step: 10,
        loss: [
          [1, 2],
          [3, 4],
        ],
        rHat: 1.3,
        warning: "not mixed",
      },
    ]);
    assert.deepEqual(run.settings.tracin, { every: 1, projectionDim: 32, trainExamples: 0 });
  });

  test("no influence analysis: nothing to show", () => {
    assert.equal(influenceRun(ref, data({ manifest: manifest({}) })), undefined);
  });
});
