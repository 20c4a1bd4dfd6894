// Linear mode connectivity and instability (Frankle et al. 2020) on a small system, on the CPU in
// about two minutes (docs/branching.md):
//   npx lm train examples/lmc.experiment.ts --system modAddSgd --run-dir runs/lmc-a --backend cpu
//   npx lm train examples/lmc.experiment.ts --system modAddSgdSeed1 --run-dir runs/lmc-b --backend cpu
//   npx lm lmc runs/lmc-a runs/lmc-b --backend cpu                       (two inits: a barrier)
//   npx lm instability runs/lmc-a --at 0,25,100,300 --backend cpu         (two data orders per k)
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

/**
 * a + b mod 23 (60% of pairs trained), a one-hidden-layer MLP on one-hot inputs, SGD with momentum
 * 0.9, minibatches of 32, 600 steps: it memorizes (train accuracy 1 by step 200, train loss 0.017)
 * and does not generalize (test accuracy 0), which keeps it small; the connectivity is about the
 * training loss and error. Measured (cpu backend):
 * - modAddSgd vs modAddSgdSeed1 (different inits and orders): train loss 0.017 at both ends, 1.45
 *   at α = 0.5; barrier: train loss 1.44, train error 0.476.
 * - instability of modAddSgd, data seeds 1 and 2: train-loss barrier 0.0040 (k = 0), 0.0024 (25),
 *   0.00049 (100), 0 (300); train-error barrier 0 at every k: stable from initialization, as
 *   Frankle et al. found for small networks on MNIST.
 */
const base = {
  task: tasks.modularArithmetic({ p: 23, op: "add", trainFraction: 0.6 }),
  model: models.mlp({ embed: "onehot", hidden: [128] }),
  optimizer: optimizers.sgd({ lr: 0.2, momentum: 0.9 }),
  batchSize: 32,
  steps: 600,
  evalEvery: 25,
  checkpointEvery: 25,
};

export const modAddSgd = modelSystem({ ...base, seed: 0 });
export const modAddSgdSeed1 = modelSystem({ ...base, seed: 1 });
