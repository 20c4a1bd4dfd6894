// The rules of each task kind (the builders in ../builders.ts fill the defaults).
import { buildFields, CUSTOM_DEFAULTS, FILE_TASK_DEFAULTS, tasks } from "../builders";
import { checkedNumber, fieldsOf, unreachable } from "./fields";
import type { Kind } from "./parts";
import type { TaskSpec } from "../spec";
import {
  arrayOf,
  boolean,
  dataFile,
  func,
  interval,
  isInt,
  MAX_ITEMS,
  MAX_P,
  nonEmptyString,
  nonNegativeNumber,
  npyFile,
  oneOf,
  optional,
  positiveInt,
  rule,
  seed,
} from "./rules";

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** Bounds of an in-context regression: a sequence is 2·points tokens of dim + 1 numbers. */
const MAX_ICL_DIM = 256;
const MAX_ICL_POINTS = 256;

export const TASKS: Record<string, Kind<TaskSpec>> = {
  modularArithmetic: {
    build: (g) => fieldsOf(tasks.modularArithmetic(g)),
    template: () => tasks.modularArithmetic(),
    fields: {
      p: rule((v) => isInt(v) && v >= 2 && v <= MAX_P, `must be an integer in [2, ${MAX_P}]`),
      op: oneOf(["add", "sub", "mul", "div"]),
      trainFraction: interval(0, 1, "(]"),
      splitSeed: seed,
      equalsToken: boolean,
    },
    cross: (o, ok, path, problems) => {
      if (ok.has("p") && ok.has("op") && o["op"] === "div" && !isPrime(checkedNumber(o, "p")))
        problems.add(`${path}.p`, 'must be a prime for op "div"');
      if (ok.has("p") && ok.has("op") && ok.has("trainFraction")) {
        const p = checkedNumber(o, "p");
        const pairs = o["op"] === "div" ? p * (p - 1) : p * p;
        if (checkedNumber(o, "trainFraction") * pairs < 1)
          problems.add(`${path}.trainFraction`, "must select at least one training pair");
      }
    },
  },
  sparseParity: {
    build: (g) => fieldsOf(tasks.sparseParity(g)),
    template: () => tasks.sparseParity(),
    fields: { bits: positiveInt, k: positiveInt, trainSize: positiveInt, testSize: positiveInt, dataSeed: seed },
    cross: (o, ok, path, problems) => {
      if (ok.has("bits") && ok.has("k") && checkedNumber(o, "k") > checkedNumber(o, "bits"))
        problems.add(`${path}.k`, `must be ≤ ${path}.bits`);
    },
  },
  teacherStudent: {
    build: (g) => fieldsOf(tasks.teacherStudent(g)),
    template: () => tasks.teacherStudent(),
    fields: {
      dim: positiveInt,
      teacher: oneOf(["linear", "singleIndex"]),
      link: oneOf(["relu", "tanh", "square", "cubeHermite"]),
      trainSize: positiveInt,
      testSize: positiveInt,
      noise: nonNegativeNumber,
      dataSeed: seed,
    },
  },
  hierarchical: {
    build: (g) => fieldsOf(tasks.hierarchical(g)),
    template: () => tasks.hierarchical(),
    fields: {
      depth: positiveInt,
      branching: rule((v) => isInt(v) && v >= 2, "must be an integer ≥ 2"),
      featureNoise: nonNegativeNumber,
      dataSeed: seed,
    },
    cross: (o, ok, path, problems) => {
      if (
        ok.has("depth") &&
        ok.has("branching") &&
        checkedNumber(o, "branching") ** checkedNumber(o, "depth") > MAX_ITEMS
      ) {
        problems.add(`${path}.depth`, `must keep branching^depth ≤ ${MAX_ITEMS} (the number of items)`);
      }
    },
  },
  inContextRegression: {
    build: (g) => fieldsOf(tasks.inContextRegression(g)),
    template: () => tasks.inContextRegression(),
    fields: {
      dim: rule((v) => isInt(v) && v >= 1 && v <= MAX_ICL_DIM, `must be an integer in [1, ${MAX_ICL_DIM}]`),
      points: rule((v) => isInt(v) && v >= 1 && v <= MAX_ICL_POINTS, `must be an integer in [1, ${MAX_ICL_POINTS}]`),
      noise: nonNegativeNumber,
      trainSequences: optional(positiveInt),
      tasks: optional(positiveInt),
      testSequences: positiveInt,
      dataSeed: seed,
    },
  },
  file: {
    build: (g) => buildFields("file", FILE_TASK_DEFAULTS, g),
    template: () => tasks.fromFile({ train: "" }),
    fields: {
      train: dataFile,
      test: optional(dataFile),
      inputColumns: optional(arrayOf(nonEmptyString, "must be a non-empty array of column names", true)),
      targetColumn: optional(nonEmptyString),
      trainTargets: optional(npyFile),
      testTargets: optional(npyFile),
      targets: oneOf(["classes", "regression"]),
      testFraction: interval(0, 1, "[)"),
      splitSeed: seed,
    },
    cross: (o, ok, path, problems) => {
      const npy = (f: unknown): boolean => typeof f === "string" && /\.npy$/i.test(f.trim());
      if (ok.has("train") && npy(o["train"]) && o["trainTargets"] === undefined)
        problems.add(`${path}.trainTargets`, `is required when ${path}.train is a .npy file`);
      if (ok.has("test") && npy(o["test"]) && o["testTargets"] === undefined)
        problems.add(`${path}.testTargets`, `is required when ${path}.test is a .npy file`);
      if (o["testTargets"] !== undefined && o["test"] === undefined)
        problems.add(`${path}.testTargets`, `requires ${path}.test`);
      if (ok.has("train") && npy(o["train"])) {
        for (const key of ["inputColumns", "targetColumn"])
          if (o[key] !== undefined) problems.add(`${path}.${key}`, "applies to .csv and .json files only");
      } else if (ok.has("train")) {
        for (const key of ["trainTargets", "testTargets"])
          if (o[key] !== undefined) problems.add(`${path}.${key}`, "applies to .npy files only");
      }
    },
  },
  custom: {
    build: (g) => buildFields("custom", CUSTOM_DEFAULTS, g),
    template: () => tasks.custom({ generate: unreachable }),
    fields: { name: nonEmptyString, generate: func },
  },
};
