// The edge of stability (Cohen, Kaur, Li, Kolter & Talwalkar 2021): full-batch gradient descent on
// a small tanh MLP regression (64 noisy examples, so the network must keep fitting). The sharpness
// (the top eigenvalue of the training loss's Hessian) rises during training — progressive
// sharpening — until it reaches 2/η, then stays there while the loss keeps falling,
// non-monotonically. At a 5× smaller learning rate the same network sharpens too, past the first
// run's 2/η, but stays far below its own 2/η. The Sharpness panel draws both, with the LLC.
// Measured (docs/analyses.md, "4. The edge of stability"): η = 0.1 goes from 9.7 to 20.2 by step
// 600 and stays within 2% of 2/η = 20; η = 0.02 reaches 24.4 at step 3000 (2/η = 100).
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

const task = tasks.teacherStudent({
  dim: 8,
  teacher: "singleIndex",
  link: "tanh",
  trainSize: 64,
  testSize: 64,
  noise: 0.5,
});

function gd(lr: number) {
  return modelSystem({
    task,
    model: models.mlp({ hidden: [32, 32], activation: "tanh" }),
    optimizer: optimizers.sgd({ lr }),
    batchSize: "full",
    steps: 3_000,
    evalEvery: 10,
    checkpointEvery: 100,
    seed: 0,
    analyses: { sharpness: { every: 1 }, llc: { every: 2 } },
    description: `full-batch GD, η = ${lr}`,
  });
}

export const eos = gd(0.1);
export const eosSmallLr = gd(0.02);
