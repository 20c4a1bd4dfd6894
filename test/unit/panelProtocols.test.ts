// Guards of the panel protocols (src/shared/panels/): each panel's messages pass its guard, the
// common ones pass every panel's, malformed ones fail.
import assert from "node:assert/strict";
import { test } from "node:test";
import { badLinesText, isCommonHostMessage } from "../../src/shared/panels/common";
import { isGrokkingHostMessage, isGrokkingWebviewMessage, type GrokRun } from "../../src/shared/panels/grokking";
import {
  isInfluenceHostMessage,
  isInfluenceWebviewMessage,
  exampleName,
  type InfluenceRun,
} from "../../src/shared/panels/influence";
import { isLazyRichHostMessage, isLazyRichWebviewMessage, type LazyRichRun } from "../../src/shared/panels/lazyRich";
import {
  isLossCurvesHostMessage,
  isLossCurvesState,
  isLossCurvesWebviewMessage,
} from "../../src/shared/panels/lossCurves";
import { RUN_STATUSES } from "../../src/shared/runFormat";

/** Any of the analysis panels' host messages (what the three guards together accept). */
const isAnalysisHostMessage = (x: unknown): boolean =>
  isGrokkingHostMessage(x) || isLazyRichHostMessage(x) || isInfluenceHostMessage(x);

const curves = {
  step: [0, 10],
  trainAcc: [0.1, 0.9],
  testAcc: [null, 0.2],
  trainLoss: [2, 1],
  testLoss: [null, 3],
  paramNorm: [10, 11],
};
const grok: GrokRun = {
  runId: "r",
  label: "r",
  colorIndex: 0,
  curves,
  report: {
    tMem: 10,
    verdict: "memorized",
    phases: [{ name: "memorization", fromStep: 0, toStep: 10 }],
    indicators: [{ name: "weight norm" }],
  },
  indicators: [{ name: "weight norm", steps: [0, 10], values: [1, null] }],
};
const lazy: LazyRichRun = {
  runId: "r",
  label: "r",
  colorIndex: 0,
  steps: [0, 1],
  relativeWeightChange: [{ layer: "w", values: [0, 0.1] }],
  missing: [{ metric: "cka", reason: "no model" }],
  regime: { badge: "lazy", reason: "small" },
};
const influence: InfluenceRun = {
  runId: "r",
  label: "r",
  colorIndex: 0,
  examples: [
    { index: 0, label: "a", text: "" },
    { index: 5, label: "b", text: "x", dataIndex: 532 },
  ],
  matrices: [
    { method: "tracin", steps: [1, 2, 3], values: new Float32Array(6), query: "q" },
    { method: "bif", steps: [1, 2, 3], values: [1, null, 2, 3, 4, 5], query: "q" },
  ],
  bifChains: [
    {
      step: 1,
      loss: [
        [1, 2],
        [1, 3],
      ],
      rHat: 1.2,
      warning: "poor mixing",
    },
  ],
  settings: { tracin: { projectionDim: 512 }, bif: { epsilon: 1e-4 } },
};

test("host messages of each panel pass their guard and the union's, and no other panel's", () => {
  const msgs = [
    { type: "init", runs: [grok], state: { logX: true, logLoss: false, focusRun: null, hiddenRuns: [] } },
    { type: "update", runId: "r", curves, indicators: [], report: null, badLines: 3 },
    {
      type: "init",
      runs: [lazy],
      sweeps: [{ id: "implicit:s", name: "s", kind: "implicit", runs: 2, alphas: [1, 2] }],
    },
    { type: "run", run: lazy },
    {
      type: "init",
      run: influence,
      state: { method: "bif", sort: "signFlip", groupByLabel: true, rowPx: 4, selected: { example: 5, step: 2 } },
    },
  ];
  const guards = [
    isGrokkingHostMessage,
    isGrokkingHostMessage,
    isLazyRichHostMessage,
    isLazyRichHostMessage,
    isInfluenceHostMessage,
  ];
  msgs.forEach((m, i) => {
    assert.ok(guards[i]!(m), m.type);
    assert.ok(isAnalysisHostMessage(m), m.type);
    for (const g of new Set(guards)) if (g !== guards[i]) assert.ok(!g(m), `${m.type} is not for ${g.name}`);
  });
  assert.ok(isInfluenceHostMessage({ type: "init", run: { ...influence, matrices: [] } }), "no matrix yet");
});

test("influence rows name their example, by its data.json index when the run records one", () => {
  assert.equal(exampleName(influence.examples[0]!), "example 0");
  assert.equal(exampleName(influence.examples[1]!), "example 5 (data.json #532)");
});

test("malformed host messages fail", () => {
  const bad: unknown[] = [
    null,
    { type: "init", runs: [{ ...grok, curves: { ...curves, testAcc: [null] } }] }, // column length
    { type: "init", runs: [{ ...grok, report: { ...grok.report, verdict: "grokking" } }] },
    { type: "init", runs: [{ ...grok, report: { ...grok.report, tMem: "10" } }] },
    { type: "update", runId: "r", curves, indicators: [{ name: "x", steps: [1], values: [] }], report: null },
    { type: "init", runs: [{ ...lazy, kernelDistance: [0.1] }], sweeps: [] }, // length ≠ steps
    { type: "init", runs: [{ ...lazy, missing: [{ metric: "ntk", reason: "" }] }], sweeps: [] },
    { type: "init", runs: [{ ...lazy, regime: { badge: "medium", reason: "" } }], sweeps: [] },
    { type: "init", runs: [lazy] }, // sweeps missing
    { type: "init", runs: [lazy], sweeps: [{ id: "s", name: "s", kind: "slurm", runs: 2, alphas: [1] }] },
    { type: "init", run: { ...influence, matrices: [{ ...influence.matrices[0], values: new Float32Array(5) }] } },
    { type: "init", run: { ...influence, matrices: [influence.matrices[0], influence.matrices[0]] } }, // one per method
    { type: "init", run: { ...influence, matrices: [{ ...influence.matrices[1], values: [1, 2, 3, 4, 5, "6"] }] } },
    { type: "init", run: { ...influence, examples: [{ index: 0, label: 1, text: "" }, influence.examples[1]] } },
    {
      type: "init",
      run: { ...influence, examples: [{ index: 0, label: "a", text: "", dataIndex: "7" }, influence.examples[1]] },
    },
    { type: "init", run: { ...influence, settings: { tracin: { projectionDim: -1 } } } },
    { type: "init", run: { ...influence, settings: { sgld: { epsilon: 1 } } } },
    {
      type: "init",
      run: influence,
      state: { method: "tracin", sort: "random", groupByLabel: false, rowPx: 0, selected: null },
    },
    { type: "ready" },
    { type: "update", runId: "r", curves, indicators: [], report: null, badLines: -1 },
    { type: "error" }, // no message
  ];
  for (const m of bad)
    assert.ok(
      !isAnalysisHostMessage(m),
      JSON.stringify(m, (_k, v: unknown) => (v instanceof Float32Array ? `F32[${v.length}]` : v)).slice(0, 160),
    );
});

test("webview messages: typed exports, state and rerun requests pass; others fail", () => {
  assert.ok(isGrokkingWebviewMessage({ type: "ready" }));
  assert.ok(isLazyRichWebviewMessage({ type: "stateChanged", state: { runId: null, logY: true } }));
  assert.ok(
    !isGrokkingWebviewMessage({ type: "stateChanged", state: { runId: null, logY: true } }),
    "state of another panel",
  );
  // Opening an α sweep: by the id the host sent, never a path to trust; only the lazy-vs-rich panel asks.
  assert.ok(isLazyRichWebviewMessage({ type: "openSweep", id: "implicit:s" }));
  assert.ok(!isLazyRichWebviewMessage({ type: "openSweep", id: ["/runs/a"] }));
  assert.ok(!isGrokkingWebviewMessage({ type: "openSweep", id: "implicit:s" }));
  assert.ok(isInfluenceWebviewMessage({ type: "exportCsv", csv: "a,b\n", suggestedName: "x.csv" }));
  assert.ok(!isInfluenceWebviewMessage({ type: "exportPng", dataUrl: "javascript:alert(1)", suggestedName: "x.png" }));
  assert.ok(!isInfluenceWebviewMessage({ type: "init" }), "a host message is not a webview message");
  const rerun = {
    type: "rerunAnalysis",
    runId: "r",
    analysis: "bif",
    overrides: { bif: { epsilon: 1e-5, chains: 8 } },
  };
  assert.ok(isInfluenceWebviewMessage(rerun));
  assert.ok(!isGrokkingWebviewMessage(rerun), "only the influence panel reruns");
  assert.ok(!isInfluenceWebviewMessage({ ...rerun, analysis: "tracin" }), "overrides must include the analysis rerun");
  assert.ok(!isInfluenceWebviewMessage({ ...rerun, overrides: { bif: { epsilon: Infinity } } }));
  assert.ok(!isInfluenceWebviewMessage({ ...rerun, overrides: { bif: { lr: 1 } } }), "unknown field");
  assert.ok(
    !isInfluenceWebviewMessage({ ...rerun, analysis: "toString", overrides: { toString: {} } }),
    "no prototype keys",
  );
});

test("the common messages pass every panel's guards, with one convention", () => {
  const error = { type: "error", message: "run.json: <b>not JSON</b>" };
  assert.ok(isCommonHostMessage(error));
  for (const g of [isLossCurvesHostMessage, isGrokkingHostMessage, isLazyRichHostMessage, isInfluenceHostMessage])
    assert.ok(g(error), g.name);
  assert.ok(!isCommonHostMessage({ type: "error", message: 3 }));
  const common = [
    { type: "ready" },
    { type: "exportCsv", csv: "", suggestedName: "a.csv" },
    { type: "exportPng", dataUrl: "data:image/png;base64,AA", suggestedName: "a.png" },
  ];
  for (const g of [
    isLossCurvesWebviewMessage,
    isGrokkingWebviewMessage,
    isLazyRichWebviewMessage,
    isInfluenceWebviewMessage,
  ])
    for (const m of common) assert.ok(g(m), `${g.name} ${m.type}`);
});

test("loss curves: run statuses are runFormat's, unreadable lines are a count", () => {
  const points = { step: [0], time: [0], values: { train_loss: [1] } };
  for (const status of RUN_STATUSES)
    assert.ok(isLossCurvesHostMessage({ type: "runStatus", runId: "r", status }), status);
  assert.ok(!isLossCurvesHostMessage({ type: "runStatus", runId: "r", status: "exploded" }));
  assert.ok(
    isLossCurvesHostMessage({ type: "init", runs: [{ runId: "r", label: "r", colorIndex: 0, badLines: 2, points }] }),
  );
  assert.ok(
    !isLossCurvesHostMessage({
      type: "init",
      runs: [{ runId: "r", label: "r", colorIndex: 0, badLines: 1.5, points }],
    }),
  );
  assert.ok(isLossCurvesHostMessage({ type: "append", runId: "r", points, badLines: 4 }));
  assert.equal(badLinesText(1), "1 line could not be read");
  assert.equal(badLinesText(7), "7 lines could not be read");
});

test("loss curves: the state takes any x key and a plot choice; states saved before them still pass", () => {
  const older = {
    xAxis: "step",
    logX: false,
    logY: true,
    showAccuracy: false,
    smoothing: 0.6,
    zoom: null,
    hiddenRuns: [],
  };
  assert.ok(isLossCurvesState(older), "no plot: a state saved before the picker");
  assert.ok(isLossCurvesState({ ...older, xAxis: "time" }));
  assert.ok(
    isLossCurvesState({
      ...older,
      xAxis: "epoch",
      plot: [
        { key: "loss/train", axis: "left" },
        { key: "lr", axis: "right" },
      ],
    }),
  );
  assert.ok(isLossCurvesState({ ...older, plot: [] }), "nothing chosen is a choice");
  assert.ok(
    isLossCurvesState({ ...older, plot: [{ key: "<img src=x onerror=alert(1)>", axis: "left" }] }),
    "a key is any string",
  );
  assert.ok(!isLossCurvesState({ ...older, xAxis: "" }));
  assert.ok(!isLossCurvesState({ ...older, xAxis: 3 }));
  assert.ok(!isLossCurvesState({ ...older, plot: [{ key: "lr", axis: "middle" }] }));
  assert.ok(!isLossCurvesState({ ...older, plot: [{ key: 1, axis: "left" }] }));
  assert.ok(!isLossCurvesState({ ...older, plot: { key: "lr", axis: "left" } }));
  assert.ok(!isLossCurvesState({ ...older, plot: null }));
  assert.ok(
    isLossCurvesWebviewMessage({
      type: "stateChanged",
      state: { ...older, xAxis: "tokens", plot: [{ key: "acc/val", axis: "right" }] },
    }),
  );
  assert.ok(
    isLossCurvesHostMessage({ type: "init", runs: [], state: { ...older, plot: [{ key: "lr", axis: "right" }] } }),
  );
});

test("sharpness: a run with phases and LLC passes; mismatched series lengths, bad catapults and states fail", async () => {
  const { isSharpnessHostMessage, isSharpnessState, isSharpnessWebviewMessage } = await import(
    "../../src/shared/panels/sharpness"
  );
  const run = {
    runId: "r",
    label: "r",
    colorIndex: 0,
    sharpness: {
      steps: [0, 100],
      top: [5, 19],
      second: [4, null],
      preconditioned: [null, null],
      threshold: [20, 20],
      thresholdOf: "sharpness",
      error: [0.01, 0.02],
      rule: { fraction: 0.9, hold: 2 },
      sharpening: [{ start: 0, end: 100 }],
      edge: [],
      catapults: [],
      lastRatio: 0.95,
    },
    loss: { steps: [0, 10], values: [1, null] },
    llc: { steps: [0], values: [2], stdErr: [null], boundaries: [], warnings: [{ step: 0, warning: "w" }] },
    missing: [],
  };
  assert.ok(isSharpnessHostMessage({ type: "init", runs: [run] }));
  assert.ok(isSharpnessHostMessage({ type: "run", run: { ...run, sharpness: null, llc: null } }));
  assert.ok(!isSharpnessHostMessage({ type: "run", run: { ...run, sharpness: { ...run.sharpness, top: [5] } } }));
  assert.ok(
    !isSharpnessHostMessage({ type: "run", run: { ...run, sharpness: { ...run.sharpness, catapults: [{}] } } }),
  );
  assert.ok(!isSharpnessHostMessage({ type: "run", run: { ...run, missing: [{ analysis: "bif", reason: "x" }] } }));
  assert.ok(isSharpnessState({ runId: null, logLoss: true }));
  assert.ok(!isSharpnessState({ runId: null }));
  assert.ok(isSharpnessWebviewMessage({ type: "stateChanged", state: { runId: "r", logLoss: false } }));
});

test("sweep panel messages: points with values, status and finite summaries; openRun; malformed ones fail", async () => {
  const { isSweepHostMessage, isSweepState, isSweepWebviewMessage, DEFAULT_SWEEP_STATE } = await import(
    "../../src/shared/panels/sweep"
  );
  const point = {
    index: 0,
    runId: "/runs/s/0000",
    values: { "optimizer.weightDecay": 0.1, "model.act": "relu", "model.bias": true },
    seed: 0,
    status: "finished",
    y: { "final:test_loss": 0.5 },
  };
  const sweep = { dir: "/runs/s", system: "mlp", fields: ["optimizer.weightDecay"], launcher: "local" };
  assert.ok(isSweepHostMessage({ type: "init", sweep, points: [point], state: DEFAULT_SWEEP_STATE }));
  assert.ok(isSweepHostMessage({ type: "point", point }));
  assert.ok(isSweepHostMessage({ type: "error", message: "x" }));
  assert.ok(!isSweepHostMessage({ type: "point", point: { ...point, status: "done" } }));
  assert.ok(!isSweepHostMessage({ type: "point", point: { ...point, y: { a: "1" } } }));
  assert.ok(!isSweepHostMessage({ type: "point", point: { ...point, values: { a: null } } }));
  assert.ok(!isSweepHostMessage({ type: "point", point: { ...point, index: 0.5 } }));
  assert.ok(!isSweepHostMessage({ type: "init", sweep: { ...sweep, launcher: "pbs" }, points: [] }));
  // An implicit α sweep (runs differing only in model.alpha, no sweep.json) is marked so.
  assert.ok(isSweepHostMessage({ type: "init", sweep: { ...sweep, implicit: true }, points: [point] }));
  assert.ok(!isSweepHostMessage({ type: "init", sweep: { ...sweep, implicit: "yes" }, points: [point] }));
  assert.ok(!isSweepWebviewMessage({ type: "openSweep", id: "implicit:s" }), "the sweep panel opens runs, not sweeps");
  assert.ok(!isSweepHostMessage({ type: "init", sweep, points: [], state: { ...DEFAULT_SWEEP_STATE, spread: "iqr" } }));
  assert.ok(isSweepState({ y: "final:test_loss", x: null, group: "", logX: true, logY: false, spread: "std" }));
  assert.ok(!isSweepState({ y: 1, x: null, group: null, logX: true, logY: false, spread: "std" }));
  assert.ok(isSweepWebviewMessage({ type: "openRun", runId: "/runs/s/0000" }));
  assert.ok(!isSweepWebviewMessage({ type: "openRun", runId: 3 }));
  assert.ok(isSweepWebviewMessage({ type: "stateChanged", state: DEFAULT_SWEEP_STATE }));
  assert.ok(
    !isSweepWebviewMessage({ type: "rerunAnalysis", runId: "r", analysis: "kernel", overrides: { kernel: {} } }),
  );
});
