// The in-context panel's data: iclRun from analyses/icl.jsonl as parsed (losses per checkpoint,
// the header's baselines, a null for a non-finite loss), why there is nothing, and the protocol's
// guards and checkpoint selection (src/shared/iclView.ts, panels/icl.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAnalysisText } from "../../src/shared/analysisFormat";
import type { RunData } from "../../src/shared/analysisViews";
import { iclRun } from "../../src/shared/iclView";
import { followedPositions, isIclHostMessage, selectedCheckpoints } from "../../src/shared/panels/icl";
import type { RunManifest } from "../../src/shared/runFormat";

const REF = { runId: "/runs/a", label: "a", colorIndex: 0 };
const HEADER = {
  format: "learning-mechanics/analysis",
  formatVersion: 1,
  analysis: "icl",
  settings: { every: 1 },
  producer: "test",
  createdAt: "2026-12-03T00:00:00.000Z",
  baselines: {
    leastSquares: [1, 0.5, 0.1],
    ridge: [1, 0.4, 0.09],
    ridgeLambda: 0.02,
    noiseVariance: 0.01,
    sequences: 8,
    dim: 2,
  },
};

const MANIFEST: RunManifest = {
  format: "learning-mechanics/run",
  formatVersion: 1,
  id: "a",
  system: "icl",
  config: {},
  seed: 0,
  backend: { name: "wasm", reason: "test" },
  status: "finished",
  startedAt: "2026-12-03T00:00:00.000Z",
  updatedAt: "2026-12-03T00:00:00.000Z",
  totalSteps: 50,
  step: 50,
  producer: "test",
};

function runData(lines: unknown[] | undefined, task = "inContextRegression"): RunData {
  const text = lines ? `${[HEADER, ...lines].map((l) => JSON.stringify(l)).join("\n")}\n` : undefined;
  return {
    runDir: "/runs/a",
    manifest: { ...MANIFEST, config: { task: { kind: task } } },
    metrics: [],
    analyses: text ? { icl: parseAnalysisText(text, "icl") } : {},
    unreadable: [],
  };
}

test("iclRun: the losses per checkpoint, the header's baselines, a non-finite loss as null", () => {
  const run = iclRun(
    REF,
    runData([
      { step: 0, loss: [2, 2, 2], mean: 2 },
      { step: 50, loss: [1, null, 0.2], mean: null },
    ]),
  );
  assert.deepEqual(run.steps, [0, 50]);
  assert.deepEqual(run.loss, [
    [2, 2, 2],
    [1, null, 0.2],
  ]);
  assert.equal(run.points, 3);
  assert.deepEqual(run.ridge, [1, 0.4, 0.09]);
  assert.deepEqual(run.leastSquares, [1, 0.5, 0.1]);
  assert.equal(run.noiseVariance, 0.01);
  assert.deepEqual(run.notes, []);
  assert.ok(isIclHostMessage({ type: "init", runs: [run] }));
  assert.ok(!isIclHostMessage({ type: "init", runs: [{ ...run, ridge: [1] }] }), "a baseline of another length");
});

test("iclRun: why nothing is shown — not analysed, or not an in-context system", () => {
  assert.deepEqual(iclRun(REF, runData(undefined)).notes, ['not analysed yet (run "Learning Mechanics: Analyze Run")']);
  assert.deepEqual(iclRun(REF, runData(undefined, "modularArithmetic")).notes, [
    "the task is modularArithmetic: the in-context analysis needs tasks.inContextRegression",
  ]);
});

test("selected checkpoints spread first → last; followed positions first, middle, last", () => {
  assert.deepEqual(selectedCheckpoints(4), [0, 1, 2, 3]);
  assert.deepEqual(selectedCheckpoints(13), [0, 2, 5, 7, 10, 12]);
  assert.deepEqual(followedPositions(10), [1, 5, 10]);
  assert.deepEqual(followedPositions(1), [1]);
});
