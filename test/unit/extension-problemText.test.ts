import assert from "node:assert/strict";
import { test } from "node:test";
import { endedText, problemMessage } from "../../src/extension/problemText";

const at = { file: "/w/a b/x.experiment.ts", line: 4, column: 40 };

test("problemMessage drops a leading place that repeats the diagnostic's own location", () => {
  assert.equal(problemMessage(`${at.file}:4:40: Expected "}" but found ")"`, at), 'Expected "}" but found ")"');
});

test("problemMessage keeps a place that is not the diagnostic's (another line, another file, no location)", () => {
  const other = `${at.file}:5:40: boom`;
  assert.equal(problemMessage(other, at), other);
  assert.equal(problemMessage(`/w/y.ts:4:40: boom`, at), `/w/y.ts:4:40: boom`);
  assert.equal(problemMessage(`${at.file}:4:40: boom`), `${at.file}:4:40: boom`);
  // Nothing after the place: the place is all there is to say.
  assert.equal(problemMessage(`${at.file}:4:40: `, at), `${at.file}:4:40: `);
});

test("problemMessage keeps the first line only and cuts it at 500 characters", () => {
  assert.equal(problemMessage("first\nsecond\nthird"), "first");
  const long = "x".repeat(600);
  const out = problemMessage(long);
  assert.equal(out.length, 501);
  assert.ok(out.endsWith("…"));
  assert.equal(out.slice(0, 500), long.slice(0, 500));
});

test("how a training ended: the step when it ran, 'before training started' when it never did", () => {
  assert.equal(endedText("modAdd", { status: "finished", step: 8000 }, true), "modAdd: finished at step 8000");
  assert.equal(
    endedText("modAdd", { status: "failed", step: 0, message: "no python" }, false),
    "modAdd: failed before training started: no python",
  );
  assert.equal(
    endedText("modAdd", { status: "diverged", step: 12, message: "NaN loss" }, true, " — "),
    "modAdd: diverged at step 12 — NaN loss",
  );
});
