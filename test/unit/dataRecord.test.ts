// The run folder's data.json (src/trainer/dataRecord.ts, docs/run-format.md): each split's rows
// named by their index in the task — a pair of modular arithmetic, a data row of the user's file —
// the data itself for small tasks, and a hash whose recipe a reader can repeat.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import type { FileDataSpec, ModularArithmeticSpec, TeacherStudentSpec } from "../../src/sdk/spec";
import { DATA_INLINE_LIMIT, dataHash, dataRecord } from "../../src/trainer/dataRecord";
import { generateTask } from "../../src/trainer/tasks/index";

const ctx = { baseDir: resolve(__dirname, "../../../test/fixtures/tasks") };

describe("data.json", () => {
  test("modular arithmetic: row i of each split is the pair at its index (div: b from 1), the data inline", () => {
    for (const op of ["add", "div"] as const) {
      const task: ModularArithmeticSpec = {
        kind: "modularArithmetic",
        p: 7,
        op,
        trainFraction: 0.5,
        splitSeed: 3,
        equalsToken: false,
      };
      const data = generateTask(task, ctx);
      const record = dataRecord(task, data);
      const b0 = op === "div" ? 1 : 0;
      assert.equal(record.task, "modularArithmetic");
      for (const split of ["train", "test"] as const) {
        const s = record[split];
        assert.equal(s.n, data[split].n);
        s.indices.forEach((k, i) => {
          const [a, b] = [Math.floor(k / (7 - b0)), (k % (7 - b0)) + b0];
          assert.deepEqual([data[split].x[2 * i], data[split].x[2 * i + 1]], [a, b], `${op} ${split} row ${i}`);
        });
        assert.deepEqual(s.x, Array.from(data[split].x));
        assert.deepEqual(s.y, Array.from(data[split].y));
      }
      const all = [...record.train.indices, ...record.test.indices].sort((x, y) => x - y);
      assert.deepEqual(all, [...Array(7 * (7 - b0)).keys()], "every pair once");
    }
  });

  test("a file split by testFraction: each row's index is its data row in the file", () => {
    const spec = (testFraction: number): FileDataSpec => ({
      kind: "file",
      train: "small.csv",
      inputColumns: ["x1", "x2"],
      targets: "classes",
      testFraction,
      splitSeed: 1,
    });
    const whole = generateTask(spec(0), ctx).train;
    const task = spec(0.5);
    const data = generateTask(task, ctx);
    const record = dataRecord(task, data);
    assert.match(record.indexOf, /data row of small\.csv/);
    assert.deepEqual([record.train.n, record.test.n], [2, 2]);
    for (const split of ["train", "test"] as const)
      record[split].indices.forEach((row, i) => {
        assert.deepEqual(
          Array.from(data[split].x.subarray(2 * i, 2 * i + 2)),
          Array.from(whole.x.subarray(2 * row, 2 * row + 2)),
        );
        assert.equal(data[split].y[i], whole.y[row]);
      });
    assert.deepEqual([...record.train.indices, ...record.test.indices].sort(), [0, 1, 2, 3]);
  });

  test("the hash is sha256 of train x, train y, test x, test y as little-endian arrays; large data is not inlined", () => {
    const task = (dataSeed: number): TeacherStudentSpec => ({
      kind: "teacherStudent",
      dim: 64,
      teacher: "linear",
      link: "relu",
      trainSize: 2048,
      testSize: 2048,
      noise: 0,
      dataSeed,
    });
    const data = generateTask(task(0), ctx);
    const record = dataRecord(task(0), data);
    assert.ok((64 + 1) * 4096 > DATA_INLINE_LIMIT);
    assert.equal(record.train.x, undefined);
    assert.equal(record.test.y, undefined);
    assert.deepEqual(record.train.indices, [...Array(2048).keys()]);
    const h = createHash("sha256");
    for (const a of [data.train.x, data.train.y, data.test.x, data.test.y])
      h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    assert.equal(record.sha256, `sha256:${h.digest("hex")}`);
    assert.equal(dataHash(data), record.sha256);
    assert.notEqual(dataRecord(task(1), generateTask(task(1), ctx)).sha256, record.sha256, "other data, other hash");
  });
});
