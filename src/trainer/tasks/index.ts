// The built-in tasks, one module each, generated as plain typed arrays (no tensor library):
//   modularArithmetic.ts  (a op b) mod p over all pairs, seeded train/test split
//   sparseParity.ts       parity of the first k of n ±1 bits
//   teacherStudent.ts     Gaussian inputs, linear or single-index teacher
//   inContextRegression.ts  sequences of random linear functions (Garg et al. 2022), fresh per step or fixed
//   hierarchical.ts       Saxe et al.'s hierarchically structured items, and their modes
//   fileData.ts, npy.ts   .npy / .csv / .json files
//   custom.ts             user generators, checked by validateData.ts
import type { TaskSpec } from "../../sdk/spec";
import { SystemError } from "../errors";
import { generateCustomTask } from "./custom";
import { loadFileTask } from "./fileData";
import { generateHierarchical } from "./hierarchical";
import { generateInContextRegression } from "./inContextRegression";
import { generateModularArithmetic } from "./modularArithmetic";
import { generateSparseParity } from "./sparseParity";
import type { TaskContext, TaskData } from "./task";
import { generateTeacherStudent } from "./teacherStudent";
import { validateTaskData } from "./validateData";

export type { TaskContext, TaskData } from "./task";
export { validateTaskData } from "./validateData";
export {
  hierarchicalModes,
  hierarchicalFeatures,
  symmetricEigenvalues,
  type HierarchicalModes,
  type HierarchyLevel,
} from "./hierarchical";
export { modInverse, modularOp } from "./modularArithmetic";
export { linkFunction, teacherVector } from "./teacherStudent";
export { parseNpy, type NpyArray } from "./npy";
export { freshSequences, sequencePairs, sequenceWidth, type SequenceBatch } from "./inContextRegression";

/** The data of a (validated, defaults filled) task spec. Throws an Error naming the task and the problem. */
export function generateTask(spec: TaskSpec, ctx: TaskContext): TaskData {
  switch (spec.kind) {
    case "modularArithmetic":
      return checked(generateModularArithmetic(spec), "modularArithmetic");
    case "sparseParity":
      return checked(generateSparseParity(spec), "sparseParity");
    case "teacherStudent":
      return checked(generateTeacherStudent(spec), "teacherStudent");
    case "hierarchical":
      return checked(generateHierarchical(spec), "hierarchical");
    case "inContextRegression":
      return checked(generateInContextRegression(spec), "inContextRegression");
    case "file":
      // Whatever is wrong with the files (missing, a bad cell, ragged rows) is the user's data to fix.
      try {
        return checked(loadFileTask(spec, ctx), `file task ${spec.train}`);
      } catch (e) {
        throw new SystemError("task", e instanceof Error ? e.message : String(e), { cause: e });
      }
    case "custom":
      // Validated inside, with the task's name in the message.
      return generateCustomTask(spec);
    default: {
      const unknown: never = spec;
      throw new Error(`unknown task kind ${JSON.stringify((unknown as { kind: unknown }).kind)}`);
    }
  }
}

/** Built-in tasks pass through the same check as custom ones: a failure here is a bug in this folder or bad file data. */
function checked(data: TaskData, label: string): TaskData {
  validateTaskData(data, label);
  return data;
}
