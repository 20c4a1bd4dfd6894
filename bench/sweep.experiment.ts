// The sweep benchmark's system (bench/sweep.ts): a small MLP trained for a few seconds, over 4 seeds.
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

export const seeds4 = modelSystem({
  task: tasks.modularArithmetic({ p: 23, op: "add", trainFraction: 0.5 }),
  model: models.mlp({ embed: 16, hidden: [64] }),
  optimizer: optimizers.adamw({ lr: 3e-3, weightDecay: 0.1 }),
  steps: 400,
  evalEvery: 50,
  checkpointEvery: 200,
  // The analyses are not part of training: off, so a run is its training alone.
  analyses: {
    weights: { every: 0 },
    conservation: { every: 0 },
    kernel: { every: 0 },
    fourier: { every: 0 },
    tracin: { every: 0 },
    sharpness: { every: 0 },
  },
  sweep: { seeds: 4 },
});
