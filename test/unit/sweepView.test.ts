// The sweep panel's data model (src/shared/sweepView.ts): mean and spread over seeds with known
// numbers, missing runs, lines per second field, non-numeric x as categories, run summaries.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunData } from "../../src/shared/analysisViews";
import type { RunManifest } from "../../src/shared/runFormat";
import {
  defaultQuantity,
  pointLabel,
  quantitiesOf,
  quantityLabel,
  type SweepPanelPoint,
  sweepSeries,
} from "../../src/shared/sweepView";
import { pointSummary } from "../../src/shared/sweepSummary";

function pt(index: number, values: SweepPanelPoint["values"], seed: number, y?: number): SweepPanelPoint {
  return {
    index,
    runId: `/runs/s/${String(index).padStart(4, "0")}`,
    values,
    seed,
    status: y === undefined ? "pending" : "finished",
    y: y === undefined ? {} : { "final:test_loss": y },
  };
}

test("mean, min–max and ± std over seeds at each x, with known numbers", () => {
  const points = [pt(0, { wd: 0.1 }, 0, 1), pt(1, { wd: 0.1 }, 1, 2), pt(2, { wd: 0.1 }, 2, 6), pt(3, { wd: 0 }, 0, 4)];
  const minmax = sweepSeries(points, { y: "final:test_loss", x: "wd", group: null, spread: "minmax" });
  assert.equal(minmax.xKind, "number");
  assert.deepEqual(minmax.xValues, [0, 0.1]);
  assert.equal(minmax.series.length, 1);
  const [at0, at01] = minmax.series[0]!.points;
  assert.deepEqual([at0!.x, at0!.mean, at0!.lo, at0!.hi, at0!.std], [0, 4, 4, 4, 0]);
  assert.equal(at01!.x, 0.1);
  assert.equal(at01!.mean, 3);
  assert.equal(at01!.lo, 1);
  assert.equal(at01!.hi, 6);
  // Population std of 1, 2, 6: sqrt(((−2)² + (−1)² + 3²)/3) = sqrt(14/3).
  assert.ok(Math.abs(at01!.std - Math.sqrt(14 / 3)) < 1e-12);
  assert.deepEqual(
    at01!.runs.map((r) => r.seed),
    [0, 1, 2],
  );
  const std = sweepSeries(points, { y: "final:test_loss", x: "wd", group: null, spread: "std" });
  const p = std.series[0]!.points[1]!;
  assert.ok(Math.abs(p.lo - (3 - Math.sqrt(14 / 3))) < 1e-12);
  assert.ok(Math.abs(p.hi - (3 + Math.sqrt(14 / 3))) < 1e-12);
});

test("points without the quantity are counted as missing and left out of the means", () => {
  const points = [pt(0, { wd: 1 }, 0, 2), pt(1, { wd: 1 }, 1), pt(2, { wd: 2 }, 0), pt(3, { wd: 2 }, 1)];
  const s = sweepSeries(points, { y: "final:test_loss", x: "wd", group: null, spread: "minmax" });
  assert.equal(s.missing, 3);
  assert.deepEqual(s.xValues, [1, 2]);
  assert.deepEqual(
    s.series[0]!.points.map((q) => [q.x, q.mean, q.runs.length]),
    [[1, 2, 1]],
  );
  const none = sweepSeries([pt(0, { wd: 1 }, 0)], { y: "final:test_loss", x: "wd", group: null, spread: "std" });
  assert.deepEqual(none.series, []);
  assert.equal(none.missing, 1);
});

test("a second field gives one line per value, sorted; the other fields are pooled", () => {
  const points = [
    pt(0, { wd: 0, h: 16 }, 0, 1),
    pt(1, { wd: 0, h: 8 }, 0, 2),
    pt(2, { wd: 1, h: 16 }, 0, 3),
    pt(3, { wd: 1, h: 8 }, 0, 5),
    pt(4, { wd: 1, h: 8 }, 1, 7),
  ];
  const s = sweepSeries(points, { y: "final:test_loss", x: "wd", group: "h", spread: "minmax" });
  assert.deepEqual(
    s.series.map((l) => [l.group, l.points.map((q) => q.mean)]),
    [
      [8, [2, 6]],
      [16, [1, 3]],
    ],
  );
});

test("non-numeric x values are categories in first-seen order; numbers sort", () => {
  const points = [
    pt(0, { opt: "sgd" }, 0, 1),
    pt(1, { opt: "adam" }, 0, 2),
    pt(2, { opt: true }, 0, 3),
    pt(3, { opt: "sgd" }, 1, 3),
  ];
  const s = sweepSeries(points, { y: "final:test_loss", x: "opt", group: null, spread: "minmax" });
  assert.equal(s.xKind, "category");
  assert.deepEqual(s.xValues, ["sgd", "adam", true]);
  assert.deepEqual(
    s.series[0]!.points.map((q) => [q.x, q.mean]),
    [
      ["sgd", 2],
      ["adam", 2],
      [true, 3],
    ],
  );
  const n = sweepSeries([pt(0, { a: 10 }, 0, 1), pt(1, { a: 2 }, 0, 1), pt(2, { a: 1e-3 }, 0, 1)], {
    y: "final:test_loss",
    x: "a",
    group: null,
    spread: "minmax",
  });
  assert.deepEqual(n.xValues, [1e-3, 2, 10]);
});

test("a run's summary: final, min and max of each scalar; final analysis values; labels", () => {
  const data: RunData = {
    runDir: "/r",
    manifest: { config: {} } as RunManifest,
    metrics: [
      { step: 0, time: 0, test_loss: 3, test_acc: 0.1 },
      { step: 10, time: 1, test_loss: 1, test_acc: null },
      { step: 20, time: 2, test_loss: 2, test_acc: 0.5 },
    ],
    analyses: {},
    unreadable: [],
  };
  const y = pointSummary(data);
  assert.equal(y["final:test_loss"], 2);
  assert.equal(y["min:test_loss"], 1);
  assert.equal(y["max:test_loss"], 3);
  assert.equal(y["final:test_acc"], 0.5);
  assert.equal(y["max:test_acc"], 0.5);
  assert.equal(y["final:step"], undefined);
  assert.equal(y["final:time"], undefined);
  const keys = quantitiesOf([{ ...pt(0, {}, 0), y: { ...y, "analysis:rwc": 0.3 } }]);
  assert.deepEqual(keys, [
    "final:test_acc",
    "min:test_acc",
    "max:test_acc",
    "final:test_loss",
    "min:test_loss",
    "max:test_loss",
    "analysis:rwc",
  ]);
  assert.equal(defaultQuantity(keys), "final:test_loss");
  assert.equal(defaultQuantity([]), null);
  assert.equal(quantityLabel("analysis:rwc"), "final relative weight change");
  assert.equal(quantityLabel("min:test_loss"), "min test_loss");
  assert.equal(
    pointLabel(["optimizer.weightDecay", "model.hidden[0]"], { "optimizer.weightDecay": 0.1, "model.hidden[0]": 8 }, 2),
    "weightDecay=0.1, hidden[0]=8 · seed 2",
  );
  assert.equal(pointLabel([], {}, 0), "seed 0");
});

test("field names from sweep.json are looked up as own properties only (a field named constructor)", () => {
  const points = [pt(0, { constructor: 1 }, 0, 2), pt(1, {}, 0, 3)];
  const s = sweepSeries(points, { y: "final:test_loss", x: "constructor", group: "toString", spread: "minmax" });
  assert.deepEqual(s.xValues, [1]);
  assert.equal(s.missing, 1, "the point without the field is missing, not plotted at Object's constructor");
  assert.deepEqual(
    s.series.map((l) => l.group),
    [null],
  );
  assert.equal(pointLabel(["toString"], {}, 1), "toString=— · seed 1");
  const noY = sweepSeries(points, { y: "constructor", x: "constructor", group: null, spread: "minmax" });
  assert.equal(noY.missing, 2);
});
