import assert from "node:assert/strict";
import { test } from "node:test";
import { tickLabel } from "../../src/webview/common/ticks";

const ticks = (values: number[]) => values.map((value) => ({ value }));

test("log axes label 1-2-5 ticks when the range spans them", () => {
  const t = ticks([0.1, 0.2, 0.3, 0.5, 0.7, 1, 2, 3]);
  const label = tickLabel(true);
  assert.deepEqual(
    t.map((x, i) => label(x.value, i, t)),
    ["0.1", "0.2", "", "0.5", "", "1", "2", ""],
  );
});

test("a log axis within one decade still gets numbers (the loss between 2.4 and 2.9)", () => {
  const t = ticks([2.4, 2.5, 2.6, 2.7, 2.8, 2.9]);
  const shown = t.map((x, i) => tickLabel(true)(x.value, i, t)).filter((s) => s !== "");
  assert.ok(shown.length >= 2, JSON.stringify(shown));
  assert.equal(shown[0], "2.4");
});

test("linear axes label every tick, with the given format", () => {
  const t = ticks([0, 60, 120]);
  assert.deepEqual(
    t.map((x, i) => tickLabel(false, (v) => `${v} s`)(x.value, i, t)),
    ["0 s", "60 s", "120 s"],
  );
});
