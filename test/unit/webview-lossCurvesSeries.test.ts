// The loss-curves webview's data (src/webview/lossCurves/series.ts, no DOM): curve data built when
// first asked for and extended by appends, x taken from another logged key carried forward over
// lines without it, and the monotone trackers behind the x selector.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SeriesPoints } from "../../src/shared/panels/lossCurves";
import { RunData } from "../../src/webview/lossCurves/series";

const pts = (step: number[], values: Record<string, (number | null)[]>): SeriesPoints => ({
  step,
  time: step.map((s) => s / 10),
  values,
});

test("a metric's series is built from the rows on first use, then extended by appends", () => {
  const run = new RunData("r", "r", 0, undefined, 0);
  run.append(pts([0, 1, 2], { "loss/train": [3, null, 2], lr: [0.1, 0.1, 0.05] }));
  assert.equal(run.series("absent"), undefined);
  const s = run.series("loss/train");
  assert.ok(s);
  assert.deepEqual(Array.from(s.raw.view()), [3, 2]);
  assert.deepEqual(Array.from(s.row.view()), [0, 2], "the lines the points came from");
  run.append(pts([3, 4], { "loss/train": [1.5, 1], "acc/val": [null, 0.5] }));
  assert.equal(run.series("loss/train"), s, "the same series, extended");
  assert.deepEqual(Array.from(s.raw.view()), [3, 2, 1.5, 1]);
  assert.deepEqual(Array.from(s.step.view()), [0, 2, 3, 4]);
  assert.deepEqual(Array.from(run.series("acc/val")?.step.view() ?? []), [4], "a key that appears late");
  assert.deepEqual(Array.from(run.series("lr")?.raw.view() ?? []), [0.1, 0.1, 0.05], "built late, from the rows kept");
  run.append(pts([5], { "only-null": [null] }));
  assert.equal(run.series("only-null"), undefined, "no finite value, no series");
});

test("x from a logged key: its value on the point's line, the last one before over gaps, −∞ before the first", () => {
  const run = new RunData("r", "r", 0, undefined, 0);
  run.append(pts([0, 10, 20, 30, 40], { loss: [5, 4, 3, 2, 1], epoch: [null, 0, null, 1, null] }));
  const s = run.series("loss");
  assert.ok(s);
  assert.deepEqual(Array.from(run.xs(s, "epoch").view()), [Number.NEGATIVE_INFINITY, 0, 0, 1, 1]);
  assert.equal(run.xs(s, "step"), s.step);
  assert.equal(run.xs(s, "time"), s.time);
  run.append(pts([50, 60], { loss: [0.5, 0.4], epoch: [2, null] }));
  assert.deepEqual(
    Array.from(run.xs(s, "epoch").view()),
    [Number.NEGATIVE_INFINITY, 0, 0, 1, 1, 2, 2],
    "extended as lines arrive",
  );
  assert.deepEqual(
    Array.from(run.xs(s, "tokens").view()),
    Array(7).fill(Number.NEGATIVE_INFINITY),
    "a key the run lacks: no x",
  );
});

test("the monotone trackers follow every logged key as lines arrive", () => {
  const run = new RunData("r", "r", 0, undefined, 0);
  run.append(pts([0, 1, 2], { epoch: [0, 0, 1], lr: [0.1, 0.2, 0.3] }));
  assert.ok(run.monotone.get("epoch")?.rising && run.monotone.get("lr")?.rising);
  run.append(pts([3], { lr: [0.01] }));
  assert.equal(run.monotone.get("lr")?.monotone, false, "warm-up then decay: not an x");
  assert.equal(run.monotone.get("epoch")?.rising, true, "absent from the new line: unchanged");
});
