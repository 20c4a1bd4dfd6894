// The influence heatmap's arithmetic (src/webview/influence/heatmap.ts), in Node: no browser
// needed for these.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  columnStarts,
  divergingLut,
  LUT_SIZE,
  lutIndex,
  packRgba,
  pickCell,
  renderHeatmap,
  robustLimit,
  rowOrder,
  rowsAtPixel,
  rowStats,
  toFloat32,
  type Layout,
} from "../../src/webview/influence/heatmap";
import { rng } from "../support";

test("robustLimit is the 99th percentile of |v| by sorting, ignoring NaN; falls back to max, then 1", () => {
  const r = rng(3);
  for (const n of [1, 2, 7, 100, 5001]) {
    const v = Array.from({ length: n }, () => (r() - 0.5) * 10 * (r() < 0.01 ? 1000 : 1));
    const withNan = [...v, NaN, NaN];
    const sorted = Float32Array.from(v.map(Math.abs)).sort();
    const expected = sorted[Math.floor(0.99 * (n - 1))]!;
    assert.equal(robustLimit(withNan), expected, `n=${n}`);
    assert.equal(robustLimit(v, 0.5), sorted[Math.floor(0.5 * (n - 1))]!);
  }
  // 99 % zeros: the quantile is 0, so the largest magnitude sets the scale.
  assert.equal(robustLimit([...new Array<number>(99).fill(0), -3]), 3);
  assert.equal(robustLimit([0, 0, NaN]), 1);
  assert.equal(robustLimit([]), 1);
});

test("divergingLut: the ends are the two colours, the middle is the zero colour; lutIndex clips", () => {
  const lut = divergingLut([0, 0, 255], [30, 30, 30], [255, 0, 0]);
  assert.equal(lut.length, LUT_SIZE);
  assert.equal(lut[0], packRgba([0, 0, 255]));
  assert.equal(lut[(LUT_SIZE - 1) / 2], packRgba([30, 30, 30]));
  assert.equal(lut[LUT_SIZE - 1], packRgba([255, 0, 0]));
  // Little-endian RGBA bytes, as ImageData holds them.
  assert.deepEqual([...new Uint8Array(Uint32Array.of(packRgba([1, 2, 3])).buffer)], [1, 2, 3, 255]);
  assert.equal(lutIndex(0, 2), (LUT_SIZE - 1) / 2);
  assert.equal(lutIndex(2, 2), LUT_SIZE - 1);
  assert.equal(lutIndex(50, 2), LUT_SIZE - 1);
  assert.equal(lutIndex(-50, 2), 0);
  assert.equal(lutIndex(NaN, 2), -1);
});

test("rowStats: totals skip NaN; flips count clear sign changes only", () => {
  const t = 5;
  const values = toFloat32([
    1,
    2,
    NaN,
    3,
    4, // no flip, total 10
    1,
    -1,
    1,
    -1,
    1, // 4 flips
    0.5,
    0.001,
    -0.001,
    0.002,
    0.5, // within tolerance 0.01: no flip
    1,
    0,
    0,
    0,
    -1, // one flip across zeros
    null,
    null,
    null,
    null,
    null, // all missing
  ]);
  const s = rowStats(values, 5, t, 0.01);
  assert.deepEqual(Array.from(s.flips), [0, 4, 0, 1, 0]);
  assert.deepEqual(
    Array.from(s.total, (x) => Math.round(x * 1000) / 1000),
    [10, 1, 1.002, 0, 0],
  );
});

test("rowOrder: each sort, stable ties, and grouping by label in natural order", () => {
  const stats = { total: Float64Array.from([3, -5, 3, 0.5, -1]), flips: Int32Array.from([0, 0, 2, 1, 2]) };
  const labels = ["10", "2", "2", "10", "b"];
  const ord = (sort: "index" | "total" | "absTotal" | "signFlip", g = false): number[] =>
    Array.from(rowOrder(stats, labels, sort, g).order);
  assert.deepEqual(ord("index"), [0, 1, 2, 3, 4]);
  assert.deepEqual(ord("total"), [0, 2, 3, 4, 1]);
  assert.deepEqual(ord("absTotal"), [1, 0, 2, 4, 3]);
  assert.deepEqual(ord("signFlip"), [2, 4, 3, 1, 0]);
  const grouped = rowOrder(stats, labels, "total", true);
  assert.deepEqual(Array.from(grouped.order), [2, 1, 0, 3, 4]);
  assert.deepEqual(grouped.groupStarts, [0, 2, 4]);
  assert.deepEqual(grouped.groupLabels, ["2", "10", "b"]);
});

test("rowsAtPixel tiles every row exactly once in fit mode, and maps fixed heights with a scroll offset", () => {
  for (const [n, h] of [
    [10_000, 700],
    [60, 694],
    [7, 7],
    [1, 50],
  ] as const) {
    const seen = new Int32Array(n);
    for (let y = 0; y < h; y++) {
      const [a, b] = rowsAtPixel(y, n, h, 0, 0);
      for (let r = a; r < b; r++) seen[r]!++;
    }
    assert.ok(
      seen.every((c) => c >= 1),
      `n=${n} h=${h}: every row shown`,
    );
    if (n >= h)
      assert.ok(
        seen.every((c) => c === 1),
        `n=${n} h=${h}: once`,
      );
  }
  assert.deepEqual(rowsAtPixel(0, 100, 50, 4, 10), [10, 11]);
  assert.deepEqual(rowsAtPixel(9, 100, 50, 4, 10), [12, 13]);
  assert.deepEqual(rowsAtPixel(9, 12, 50, 4, 10), [12, 12], "past the last row");
});

test("renderHeatmap: colours per cell, extreme-magnitude aggregation, marker column; pickCell finds the shown row", () => {
  const lut = divergingLut([0, 0, 255], [0, 0, 0], [255, 0, 0]);
  const n = 8;
  const t = 2;
  // Row 5 holds a lone strong negative among weak positives.
  const values = new Float32Array(n * t).fill(0.1);
  values[5 * t + 1] = -4;
  values[2 * t] = NaN;
  const flips = new Int32Array(n);
  flips[6] = 1;
  const layout: Layout = { width: 10, height: 4, plot: { x: 1, y: 0, w: 6, h: 4 }, marker: { x: 8, w: 2 } };
  const out = new Uint32Array(layout.width * layout.height);
  const input = {
    values,
    n,
    t,
    order: Int32Array.from({ length: n }, (_, i) => i),
    flips,
    limit: 1,
    lut,
    nanColor: 7,
    backgroundColor: 9,
    flipColor: 5,
    rowPx: 0,
    firstRow: 0,
  };
  renderHeatmap(out, layout, input);
  const at = (x: number, y: number): number => out[y * layout.width + x]!;
  const weak = lut[lutIndex(0.1, 1)]!;
  // Pixel row 2 shows rows 4 and 5: column 1 (x 4..6) is the −4, clipped to full blue.
  assert.equal(at(1, 2), weak);
  assert.equal(at(4, 2), lut[0]);
  assert.equal(at(6, 2), lut[0]);
  // Pixel row 1 shows rows 2 (NaN at column 0) and 3: the number wins over NaN.
  assert.equal(at(1, 1), weak);
  assert.equal(at(0, 1), 9, "margin is background");
  assert.equal(at(8, 3), 5, "row 6 flips: marker");
  assert.equal(at(8, 0), 9);
  assert.deepEqual(pickCell(5, 2.5, layout, input), { row: 5, col: 1 });
  assert.deepEqual(pickCell(1, 2.5, layout, input), { row: 4, col: 0 }, "a tie keeps the first row");
  assert.equal(pickCell(0, 2, layout, input), null);
  // Only NaN in a cell: the NaN colour.
  const lone = new Float32Array([NaN, 1]);
  const out2 = new Uint32Array(10 * 4);
  renderHeatmap(out2, layout, { ...input, values: lone, n: 1, order: Int32Array.of(0), flips: new Int32Array(1) });
  assert.equal(out2[1], 7);
  assert.equal(out2[3 * 10 + 6], lut[LUT_SIZE - 1]);
});

test("more checkpoints than pixel columns: each pixel keeps its checkpoints' extreme, and picking finds it", () => {
  assert.deepEqual(Array.from(columnStarts(12, 4)), [0, 3, 6, 9, 12]);
  assert.deepEqual(Array.from(columnStarts(2, 4)), [0, 0, 1, 1, 2], "fewer checkpoints: pixels share them");
  const lut = divergingLut([0, 0, 255], [0, 0, 0], [255, 0, 0]);
  const t = 12;
  const values = new Float32Array(2 * t).fill(0.1);
  values[4] = -3; // row 0, checkpoint 4: pixel column 1
  const layout: Layout = { width: 4, height: 2, plot: { x: 0, y: 0, w: 4, h: 2 }, marker: { x: 4, w: 0 } };
  const out = new Uint32Array(8);
  const input = {
    values,
    n: 2,
    t,
    order: Int32Array.of(0, 1),
    flips: new Int32Array(2),
    limit: 1,
    lut,
    nanColor: 7,
    backgroundColor: 9,
    flipColor: 5,
    rowPx: 0,
    firstRow: 0,
  };
  renderHeatmap(out, layout, input);
  assert.equal(out[1], lut[0], "the −3 among 0.1s");
  assert.equal(out[0], lut[lutIndex(0.1, 1)]);
  assert.equal(out[4 + 1], lut[lutIndex(0.1, 1)], "row 1 has no extreme");
  assert.deepEqual(pickCell(1.5, 0.5, layout, input), { row: 0, col: 4 });
});
