// The public SDK: what `import { ... } from "learning-mechanics"` gives an experiment file.
// Builders only assemble plain spec objects (see spec.ts); `validate.ts` checks them when the
// trainer loads the file, so a typo shows up as a problem on the field, not as a thrown error.
export * from "./spec";
export { Rng } from "./rng";
export {
  analysesDefaults,
  callerLocation,
  isModelSystem,
  modelSystem,
  models,
  optimizers,
  schedules,
  systemDefaults,
  tasks,
} from "./builders";
export type { Options } from "./builders";
/** TensorFlow.js core (the trainer's instance), for custom tasks and models. */
export * as tf from "@tensorflow/tfjs-core";
