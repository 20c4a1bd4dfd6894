// Which examples the influence analyses score and ask about, and how to name them for people.
import * as tf from "@tensorflow/tfjs-core";
import type { QuerySpec, SystemSpec, TaskData } from "../../sdk/spec";
import type { ExampleInfo } from "../../shared/analysisFormat";
import type { Examples } from "../methods/target";
import { splitIndices } from "../dataRecord";
import type { SystemInstance } from "../system";

const OPS: Record<string, string> = { add: "+", sub: "−", mul: "×", div: "÷" };

/** "23 + 71 = 94 (mod 97)" for modular arithmetic; tokens, features or targets in brief otherwise. */
function exampleText(spec: SystemSpec, data: TaskData, split: "train" | "test", i: number): string {
  const s = data[split];
  const task = spec.task;
  const label = data.output.kind === "classes" ? (s.y as Int32Array)[i]! : undefined;
  if (task.kind === "modularArithmetic" && data.input.kind === "tokens") {
    const len = data.input.length;
    return `${s.x[i * len]} ${OPS[task.op] ?? task.op} ${s.x[i * len + 1]} = ${label} (mod ${task.p})`;
  }
  if (task.kind === "hierarchical" && data.input.kind === "features") {
    const dim = data.input.dim;
    let item = 0;
    for (let j = 0; j < dim; j++) if (s.x[i * dim + j] !== 0) item = j;
    return `item ${item}`;
  }
  const short = (a: ArrayLike<number>, from: number, n: number): string => {
    const shown = Array.from({ length: Math.min(n, 4) }, (_, k) => +Number(a[from + k]).toPrecision(3));
    return `[${shown.join(", ")}${n > 4 ? ", …" : ""}]`;
  };
  const x =
    data.input.kind === "tokens"
      ? short(s.x, i * data.input.length, data.input.length)
      : short(s.x, i * data.input.dim, data.input.dim);
  if (label !== undefined) return `${x} → class ${label}`;
  const outDim = data.output.kind === "regression" ? data.output.dim : 1;
  return `${x} → ${short(s.y, i * outDim, outDim)}`;
}

/** The example infos of rows `indices` of a split. */
export function exampleInfos(
  spec: SystemSpec,
  data: TaskData,
  split: "train" | "test",
  indices: Int32Array,
): ExampleInfo[] {
  const classes = data.output.kind === "classes";
  // The indices data.json records, so a row names its example in the task, not only in this split.
  const inTask = splitIndices(spec.task, data)[split];
  return Array.from(indices, (index) => ({
    index,
    ...(classes ? { label: (data[split].y as Int32Array)[index]! } : {}),
    text: exampleText(spec, data, split, index),
    dataIndex: inTask[index]!,
  }));
}

/** The first `cap` training examples (all when cap is 0): the task's split is already shuffled. */
export function trainSubset(n: number, cap: number): Int32Array {
  const count = cap > 0 ? Math.min(cap, n) : n;
  return Int32Array.from({ length: count }, (_, i) => i);
}

/** The rows a query spec picks, and what it is in words. Throws with the field when it picks nothing. */
export function queryIndices(
  query: QuerySpec,
  data: TaskData,
): { split: "train" | "test"; indices: Int32Array; description: string } {
  switch (query.kind) {
    case "test": {
      const n = Math.min(query.count, data.test.n);
      if (n === 0)
        throw new Error(
          'analyses query: the task has no test examples; use { kind: "indices", split: "train", indices: [...] }',
        );
      return {
        split: "test",
        indices: Int32Array.from({ length: n }, (_, i) => i),
        description: n === 1 ? "1 test example" : `${n} test examples`,
      };
    }
    case "class": {
      if (data.output.kind !== "classes") throw new Error('analyses query: kind "class" needs a classification task');
      const ys = data.test.y as Int32Array;
      const picked: number[] = [];
      for (let i = 0; i < data.test.n && picked.length < query.count; i++) if (ys[i] === query.label) picked.push(i);
      if (picked.length === 0) throw new Error(`analyses query: no test example has label ${query.label}`);
      return {
        split: "test",
        indices: Int32Array.from(picked),
        description: `${picked.length} test examples of class ${query.label}`,
      };
    }
    case "indices": {
      const n = data[query.split].n;
      const bad = query.indices.filter((i) => i >= n);
      if (bad.length)
        throw new Error(
          `analyses query: indices ${bad.slice(0, 5).join(", ")} are out of range (the ${query.split} split has ${n} examples)`,
        );
      const count = query.indices.length;
      return {
        split: query.split,
        indices: Int32Array.from(query.indices),
        description:
          count === 1 ? `${query.split} example ${query.indices[0]}` : `${count} hand-picked ${query.split} examples`,
      };
    }
  }
}

/** Rows of a split as tensors the target's output and loss take (caller disposes x and y). */
export function examplesOf(system: SystemInstance, split: "train" | "test", indices: Int32Array): Examples {
  const s = system[split];
  const idx = tf.tensor1d(indices, "int32");
  try {
    return { x: tf.gather(s.x, idx), y: tf.gather(s.y, idx), indices };
  } finally {
    idx.dispose();
  }
}
