// Lazy vs rich (Chizat, Oyallon & Bach 2019): the same network and data, with the output scaled by
// α and centred at initialization. Large α trains lazily (weights barely move, the kernel stays
// fixed); small α learns features. The loss is divided by α², so every α sees the same lazy limit.
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

const task = tasks.teacherStudent({ dim: 16, teacher: "singleIndex", link: "relu", trainSize: 256, testSize: 1024 });

function sweep(alpha: number) {
  return modelSystem({
    task,
    model: models.mlp({ hidden: [256], activation: "relu", alpha }),
    optimizer: optimizers.sgd({ lr: 0.5 }),
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
