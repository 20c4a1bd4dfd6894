// The intervention's weights and TracIn's prediction, by hand (docs/interventions.md).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type InterventionChange, type InterventionRecord, predictionWords } from "../../src/shared/interventionFormat";
import { actionWeight, exampleWeights, topExamples } from "../../src/trainer/intervention";
import { bifPrediction, tracinPrediction } from "../../src/trainer/interventionPrediction";
import type { AnalysisFile } from "../../src/shared/analysisFormat";

const change = (action: InterventionChange["action"]): InterventionChange => ({
  kind: "intervention",
  action,
  examples: [1, 3],
  selection: { kind: "explicit" },
});

describe("intervention weights", () => {
  test("each action's weight at update t (from step t − 1 to t)", () => {
    assert.equal(actionWeight({ kind: "remove" }, 5), 0);
    assert.equal(actionWeight({ kind: "upweight", weight: 3 }, 5), 3);
    // Seen only from step 4 on: update 4 (from step 3) does not see it, update 5 does.
    assert.deepEqual(
      [4, 5].map((t) => actionWeight({ kind: "moveFrom", step: 4 }, t)),
      [0, 1],
    );
    assert.deepEqual(
      [4, 5].map((t) => actionWeight({ kind: "moveBefore", step: 4 }, t)),
      [1, 0],
    );
  });
  test("a minibatch's weights: the chosen rows where they sit, undefined when all are 1", () => {
    const w = exampleWeights(change({ kind: "remove" }));
    assert.deepEqual(Array.from(w(1, Int32Array.from([3, 0, 2]), 4)!), [0, 1, 1]);
    assert.equal(w(1, Int32Array.from([0, 2]), 4), undefined, "no chosen example in the batch");
    assert.deepEqual(Array.from(w(1, undefined, 4)!), [1, 0, 1, 0], "full batch");
    assert.equal(exampleWeights(change({ kind: "upweight", weight: 1 }))(1, undefined, 4), undefined);
  });
});

describe("TracIn's prediction", () => {
  const base = {
    rows: [0, 1, 2, 3],
    chosen: [1, 3],
    branchStep: 2,
    batchSize: 4,
    lossScale: 1,
    batch: () => undefined,
  };
  const records = [
    { step: 2, values: [9, 0.4, 9, -0.1] },
    { step: 4, values: [9, 0.8, 9, 0.2] },
  ];
  test("removal: +Σ T(z)/B per update that saw z, T at the last checkpoint before the update (a proponent's removal raises the loss)", () => {
    const p = tracinPrediction({ ...base, records, action: { kind: "remove" }, steps: [2, 4, 6] });
    assert.ok(p.ok);
    // updates 3, 4 use step 2's scores: 2 × (0.4 − 0.1)/4 = 0.15; updates 5, 6 step 4's: 2 × 1.0/4 = 0.5
    const change = p.prediction.change;
    assert.equal(change.length, 3);
    for (const [i, v] of [0, 0.15, 0.65].entries()) assert.ok(Math.abs(change[i]! - v) < 1e-12, `${change[i]} vs ${v}`);
  });
  test("upweight ×3 is −2 × the removal; a move counts only the updates it removes; minibatches only where z is", () => {
    const up = tracinPrediction({ ...base, records, action: { kind: "upweight", weight: 3 }, steps: [2, 6] });
    assert.ok(up.ok && Math.abs(up.prediction.change[1]! + 1.3) < 1e-12);
    const late = tracinPrediction({ ...base, records, action: { kind: "moveFrom", step: 4 }, steps: [6] });
    assert.ok(late.ok && Math.abs(late.prediction.change[0]! - 0.15) < 1e-12);
    const mini = tracinPrediction({
      ...base,
      records,
      action: { kind: "remove" },
      steps: [4],
      batchSize: 2,
      batch: (t) => Int32Array.from(t === 3 ? [1, 0] : [2, 3]),
    });
    // update 3 holds example 1 (0.4/2), update 4 example 3 (−0.1/2)
    assert.ok(mini.ok && Math.abs(mini.prediction.change[0]! - 0.15) < 1e-12);
  });
  test("what cannot be predicted says why", () => {
    const unscored = tracinPrediction({ ...base, rows: [0, 1], records, action: { kind: "remove" }, steps: [4] });
    assert.deepEqual(unscored, {
      ok: false,
      why: "TracIn scored no value for example 3 (tracin.trainExamples caps the examples scored)",
    });
    const late = tracinPrediction({ ...base, records: [records[1]!], action: { kind: "remove" }, steps: [4] });
    assert.deepEqual(late, { ok: false, why: "tracin.jsonl has no record at or before the branch step 2" });
  });
});

describe("the BIF's prediction", () => {
  test("β(weight − 1)Σ BIF: removing helpers (negative BIF) raises the loss; no prediction for a move", () => {
    const input = {
      records: [{ step: 4, values: [0, -0.2, 0, -0.1] }],
      rows: [0, 1, 2, 3],
      chosen: [1, 3],
      at: 6,
      beta: 0.5,
      steps: [2, 6],
    };
    const p = bifPrediction({ ...input, action: { kind: "remove" } });
    assert.ok(p.ok && Math.abs(p.prediction.change[0]! - 0.15) < 1e-12);
    assert.deepEqual(p.ok && p.prediction.steps, [6]);
    assert.equal(bifPrediction({ ...input, action: { kind: "moveFrom", step: 4 } }).ok, false);
  });
});

describe("top-k from a TracIn file", () => {
  const file: AnalysisFile<"tracin"> = {
    header: {
      format: "learning-mechanics/analysis",
      formatVersion: 1,
      analysis: "tracin",
      settings: {},
      producer: "test",
      createdAt: "",
      examples: [10, 11, 12, 13].map((index) => ({ index, text: "" })),
    },
    records: [
      { step: 0, lr: 1, values: [1, -2, 3, 0] },
      { step: 5, lr: 1, values: [-4, 1, 0, 2] },
    ],
    partialTail: false,
    badLines: [],
  };
  test("at one checkpoint or summed over an interval; rows from the header", () => {
    assert.deepEqual(topExamples(file, "topProponents", 2, 0, 0, "f").examples, [10, 12]);
    assert.deepEqual(topExamples(file, "topOpponents", 1, 0, 5, "f").examples, [10]);
    assert.throws(
      () => topExamples(file, "topProponents", 1, 1, 4, "t.jsonl"),
      /t\.jsonl has no record from step 1 to 4; its steps: 0, 5/,
    );
  });
});

describe("the verdict in words", () => {
  test("predicted and actual, with their directions; a missing prediction says why", () => {
    const record: InterventionRecord = {
      format: "learning-mechanics/intervention",
      formatVersion: 1,
      parent: "../p",
      step: 2,
      change: {
        kind: "intervention",
        action: { kind: "remove" },
        examples: [1, 2, 3],
        selection: { kind: "explicit" },
      },
      query: "16 test examples",
      steps: [2, 12],
      parentQueryLoss: [0.5, 0.4],
      branchQueryLoss: [0.5, 0.427],
      actual: [0, 0.027],
      tracin: { steps: [2, 12], change: [0, 0.031], method: "" },
      notes: [],
      createdAt: "",
    };
    assert.deepEqual(predictionWords(record), [
      "removing these 3 examples was predicted by TracIn to raise the query loss by 0.0310 at step 12; it rose by 0.0270.",
    ]);
    const { tracin: _t, ...bare } = record;
    assert.deepEqual(predictionWords({ ...bare, actual: [0, -2e-5], notes: ["no tracin.jsonl"] }), [
      "removing these 3 examples: the query loss fell by 2.00e-5 at step 12 (no prediction: no tracin.jsonl).",
    ]);
  });
});
