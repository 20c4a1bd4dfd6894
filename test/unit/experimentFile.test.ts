// Which recorded experiment files the analyzer may hand to the experiment loader: TypeScript and
// JavaScript only. A run written by a Python script records the script (issue 11).
import assert from "node:assert/strict";
import { test } from "node:test";
import { notAnExperimentReason } from "../../src/shared/experimentFile";

test("TypeScript and JavaScript files are experiments", () => {
  for (const f of [
    "/a/x.experiment.ts",
    "/a/x.ts",
    "/a/x.mts",
    "/a/x.cts",
    "/a/x.js",
    "/a/x.mjs",
    "/a/x.cjs",
    "/a/X.TS",
  ])
    assert.equal(notAnExperimentReason(f), undefined, f);
});

test("anything else is named with the reason the model-based analyses are missing", () => {
  assert.equal(
    notAnExperimentReason("/a/train.py"),
    "/a/train.py is a Python script: the model-based analyses need a TypeScript experiment (for a PyTorch model: run.watch in the script, or python -m learning_mechanics analyze RUN --model module:factory)",
  );
  assert.match(notAnExperimentReason("/a/n.ipynb") ?? "", /^\/a\/n\.ipynb is a Jupyter notebook: /);
  assert.match(notAnExperimentReason("/a/w.pt") ?? "", /^\/a\/w\.pt is not a TypeScript or JavaScript experiment: /);
  assert.match(notAnExperimentReason("/a/noext") ?? "", /is not a TypeScript or JavaScript experiment/);
});
