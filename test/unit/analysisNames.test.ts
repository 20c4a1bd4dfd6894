// Every analysis is either a checkpoint analysis (the extension runs it without loading experiment
// code: untrusted workspaces, runs from PyTorch) or a model analysis (the analyzer needs the model):
// a new analysis must be put in one list, or an untrusted workspace silently never gets it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ANALYSIS_NAMES, CHECKPOINT_ANALYSES } from "../../src/shared/analysisFormat";
import { MODEL_ANALYSES } from "../../src/trainer/analyzer/analyses";

test("the analyses split into checkpoint analyses and model analyses, each named once", () => {
  const both = [...CHECKPOINT_ANALYSES, ...MODEL_ANALYSES];
  assert.deepEqual([...both].sort(), [...ANALYSIS_NAMES].sort());
  assert.equal(new Set(both).size, both.length);
  assert.deepEqual([...CHECKPOINT_ANALYSES], ["weights", "conservation"]);
});
