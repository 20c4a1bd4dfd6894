// The run folder's data.json (docs/run-format.md): which examples of the task each split holds,
// the data itself when it is small, and a hash of it. With it, a row of an analysis ("training
// example 17") maps to data by anything, not only by this trainer: row 17 of the training split
// is example `train.indices[17]` of the task (a pair (a, b), a row of the user's file).
import { createHash } from "node:crypto";
import type { TaskData, TaskSpec } from "../sdk/spec";
import type { DataRecord, DataSplitRecord } from "../shared/runFormat";
import { fileSplitRows } from "./tasks/fileData";
import { modularArithmeticSplit } from "./tasks/modularArithmetic";

/** Tasks with at most this many numbers (x and y of both splits) have their data in data.json (~1–2 MB of JSON). */
export const DATA_INLINE_LIMIT = 200_000;

const identity = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** The task's indices of each split's rows, and what an index means. */
export function splitIndices(task: TaskSpec, data: TaskData): { train: Int32Array; test: Int32Array; indexOf: string } {
  switch (task.kind) {
    case "modularArithmetic": {
      const b0 = task.op === "div" ? 1 : 0;
      const split = modularArithmeticSplit(task.p * (task.p - b0), task.trainFraction, task.splitSeed);
      return {
        ...split,
        indexOf:
          b0 === 0
            ? `the pair (a, b) at index a·${task.p} + b`
            : `the pair (a, b), b ≥ 1, at index a·${task.p - 1} + (b − 1)`,
      };
    }
    case "file":
      if (task.test === undefined)
        return {
          ...fileSplitRows(data.train.n + data.test.n, task.testFraction, task.splitSeed),
          indexOf: `the data row of ${task.train} (0-based, header excluded), split by testFraction ${task.testFraction} and splitSeed ${task.splitSeed}`,
        };
      return {
        train: identity(data.train.n),
        test: identity(data.test.n),
        indexOf: `the data row (0-based, header excluded) of ${task.train} for train, of ${task.test} for test`,
      };
    default:
      // Generated examples have no other identity than their place in the split: the data is the record.
      return {
        train: identity(data.train.n),
        test: identity(data.test.n),
        indexOf: "the example's row in its split (the task generates each split; the data identifies them)",
      };
  }
}

/** "sha256:<hex>" of train x, train y, test x, test y as little-endian int32/float32 arrays. */
export function dataHash(data: TaskData): string {
  const hash = createHash("sha256");
  for (const a of [data.train.x, data.train.y, data.test.x, data.test.y])
    hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return `sha256:${hash.digest("hex")}`;
}

/** data.json for a run of `task`, which generated `data`. */
export function dataRecord(task: TaskSpec, data: TaskData): DataRecord {
  const { train, test, indexOf } = splitIndices(task, data);
  const size = data.train.x.length + data.train.y.length + data.test.x.length + data.test.y.length;
  const inline = size <= DATA_INLINE_LIMIT;
  const split = (indices: Int32Array, s: TaskData["train"]): DataSplitRecord => ({
    n: s.n,
    indices: Array.from(indices),
    ...(inline ? { x: Array.from(s.x), y: Array.from(s.y) } : {}),
  });
  return {
    format: "learning-mechanics/data",
    formatVersion: 1,
    task: task.kind,
    indexOf,
    input: data.input,
    output: data.output,
    sha256: dataHash(data),
    train: split(train, data.train),
    test: split(test, data.test),
  };
}
