// The conservation panel's data: conservationRun from analyses/conservation.jsonl as parsed, its
// gaps and notes, and the protocol's guards (src/shared/conservationView.ts, panels/conservation.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseAnalysisText } from "../../src/shared/analysisFormat";
import type { RunData } from "../../src/shared/analysisViews";
import { conservationRun } from "../../src/shared/conservationView";
import {
  type ConservationRun,
  isConservationHostMessage,
  isConservationWebviewMessage,
  maxDrift,
} from "../../src/shared/panels/conservation";
import type { RunManifest } from "../../src/shared/runFormat";

const REF = { runId: "/runs/a", label: "a", colorIndex: 0 };
const HEADER = {
  format: "learning-mechanics/analysis",
  formatVersion: 1,
  analysis: "conservation",
  settings: { every: 1 },
  producer: "test",
  createdAt: "2026-12-03T00:00:00.000Z",
  referenceStep: 0,
};
const law = (layer: string, kind: string, drift: number | null, predicted: number | null) => ({
  kind,
  layer,
  count: 4,
  norm: 1,
  sum: 1,
  drift,
  predicted,
  residual: null,
  quality: "leading order",
});
const record = (step: number, symmetries: unknown[]) => ({
  step,
  lr: 0.1,
  time: step * 0.1,
  decay: 1,
  law: `law at ${step}`,
  symmetries,
  notes: ["no scale symmetry"],
});

function runData(lines: unknown[] | undefined, unreadable: RunData["unreadable"] = []): RunData {
  const text = lines ? `${[HEADER, ...lines].map((l) => JSON.stringify(l)).join("\n")}\n` : undefined;
  return {
    runDir: "/runs/a",
    manifest: { config: {} } as RunManifest,
    metrics: [],
    analyses: text ? { conservation: parseAnalysisText(text, "conservation") } : {},
    unreadable,
  };
}

describe("conservationRun", () => {
  test("series per symmetry of the last record, a gap where a record lacks one, the last law and notes", () => {
    const run = conservationRun(
      REF,
      runData([
        record(0, [law("l0 → l1", "rescale", 0, 0)]),
        record(10, [law("l0 → l1", "rescale", 0.1, 0.12), law("out", "translation", 0.05, 0.05)]),
        record(20, [law("l0 → l1", "rescale", 0.2, 0.22), law("out", "translation", 0.1, 0.1)]),
      ]),
    );
    assert.deepEqual(run.steps, [0, 10, 20]);
    assert.deepEqual(
      run.symmetries.map((s) => [s.kind, s.layer, s.count, s.drift, s.predicted, s.quality]),
      [
        ["rescale", "l0 → l1", 4, [0, 0.1, 0.2], [0, 0.12, 0.22], "leading order"],
        ["translation", "out", 4, [null, 0.05, 0.1], [null, 0.05, 0.1], "leading order"],
      ],
    );
    assert.equal(run.law, "law at 20");
    assert.deepEqual(run.notes, ["no scale symmetry"]);
    assert.equal(maxDrift(run.symmetries[1]!), 0.1);
    assert.ok(isConservationHostMessage({ type: "init", runs: [run] }));
  });

  test("no file: why, in the notes; an unreadable file: its message", () => {
    assert.deepEqual(conservationRun(REF, runData(undefined)).notes, [
      'not analysed yet (run "Learning Mechanics: Analyze Run")',
    ]);
    const broken = conservationRun(REF, runData(undefined, [{ analysis: "conservation", message: "bad header" }]));
    assert.deepEqual(broken.notes, ["analyses/conservation.jsonl could not be read: bad header"]);
    assert.deepEqual(broken.symmetries, []);
  });
});

describe("the conservation panel's guards", () => {
  const run: ConservationRun = {
    ...REF,
    steps: [0, 1],
    symmetries: [{ kind: "scale", layer: "x", count: 1, drift: [0, 1], predicted: [null, null], quality: "none" }],
    law: "",
    notes: [],
  };
  test("accept the messages, reject wrong lengths, kinds and states", () => {
    assert.ok(isConservationHostMessage({ type: "run", run }));
    assert.ok(isConservationHostMessage({ type: "error", message: "x" }));
    assert.ok(!isConservationHostMessage({ type: "run", run: { ...run, steps: [0] } }), "series longer than steps");
    const badKind = { ...run, symmetries: [{ ...run.symmetries[0]!, kind: "rotation" }] };
    assert.ok(!isConservationHostMessage({ type: "run", run: badKind }));
    assert.ok(!isConservationHostMessage({ type: "init", runs: [run], state: { runId: 3, logY: false } }));
    assert.ok(isConservationWebviewMessage({ type: "stateChanged", state: { runId: null, logY: true } }));
    assert.ok(!isConservationWebviewMessage({ type: "stateChanged", state: { logY: "yes" } }));
  });
});
