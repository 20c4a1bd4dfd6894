// Stagewise learning in a deep linear network on hierarchically structured data (Saxe, McClelland &
// Ganguli 2019; the toy of Lee et al. 2025). From a small initialization the network learns the
// modes of the input–output correlation one at a time, strongest first: the loss falls in steps.
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

export const hierarchy = modelSystem({
  task: tasks.hierarchical({ depth: 3, branching: 2 }),
  model: models.deepLinear({ hidden: [32, 32], initScale: 0.01 }),
  optimizer: optimizers.sgd({ lr: 0.05 }),
  steps: 4_000,
  evalEvery: 10,
  checkpointEvery: 100,
  seed: 0,
});
