// Lazy vs rich (Chizat, Oyallon & Bach 2019): the same network and data, with the output scaled by
// α and centred at initialization. Large α trains lazily (weights barely move, the kernel stays
// fixed); small α learns features. The loss is divided by α², so every α sees the same lazy limit.
// Measured (wasm, 2000 steps): α = 0.1 moves ‖w‖ by 0.39 and reaches test loss 0.004 (it learns
// the teacher's direction); α ≥ 1 moves it by < 0.01 and stops near 0.043 (the kernel solution).
// The learning rate must stay below the kernel's stability limit: at lr 0.05 the lazy runs grow
// their loss (they cannot lower their curvature as the rich ones do), at 0.1 all diverge.
//
// `alphaSweep` declares the same as a sweep over model.alpha (docs/sweeps.md), with a smaller
// budget; the sweep panel shows it as final relative weight change against α with the c/α line:
//   lm sweep examples/lazy-rich.experiment.ts --system alphaSweep
//   lm analyze <sweep folder>/0000 --only weights,kernel   (each point; the extension does it itself)
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

const task = tasks.teacherStudent({ dim: 16, teacher: "singleIndex", link: "relu", trainSize: 256, testSize: 1024 });

function sweep(alpha: number) {
  return modelSystem({
    task,
    model: models.mlp({ hidden: [256], activation: "relu", alpha }),
    optimizer: optimizers.sgd({ lr: 0.02 }),
    steps: 2_000,
    evalEvery: 20,
    checkpointEvery: 200,
    seed: 0,
    description: `α = ${alpha}`,
  });
}

export const alpha0_1 = sweep(0.1);
export const alpha1 = sweep(1);
export const alpha10 = sweep(10);
export const alpha100 = sweep(100);

/**
 * The α sweep declared: 7 α, one seed, 1,000 steps each (the runs above, as one sweep). `centered`
 * is said outright so that the α = 1 point is centred too: by default each point is centred exactly
 * when its α ≠ 1.
 */
export const alphaSweep = modelSystem({
  task,
  model: models.mlp({ hidden: [256], activation: "relu", alpha: 1, centered: true }),
  optimizer: optimizers.sgd({ lr: 0.02 }),
  steps: 1_000,
  evalEvery: 50,
  checkpointEvery: 250,
  seed: 0,
  description: "α sweep: lazy (large α) to rich (small α)",
  sweep: { grid: { "model.alpha": [0.03, 0.1, 0.3, 1, 3, 10, 100] } },
});
