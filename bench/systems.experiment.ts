// The canonical systems timed by bench/train.bench.mjs, identical to bench/reference_torch.py.
// Evaluation and checkpoints only at the first and last step, so the timing is of training steps;
// the `…Default` twins keep the SDK's default cadence (metrics every 100 steps, a checkpoint every
// 1,000), what a user's run pays (bench/train.bench.mjs --cadence default).
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

const quiet = { evalEvery: 1_000_000, checkpointEvery: 1_000_000 };

/** Modular addition p = 97, one-hot inputs, hidden 256 ReLU, full batch (2,823 examples), Adam lr 1e-3. */
export const mlp = modelSystem({
  task: tasks.modularArithmetic({ p: 97, op: "add", trainFraction: 0.3 }),
  model: models.mlp({ embed: "onehot", hidden: [256], activation: "relu" }),
  optimizer: optimizers.adam({ lr: 1e-3 }),
  steps: 100,
  ...quiet,
});

/** Nanda et al. 2023: p = 113, [a, b, =], 1 layer, d_model 128, 4 heads, d_mlp 512, no LayerNorm, AdamW. */
export const transformer = modelSystem({
  task: tasks.modularArithmetic({ p: 113, op: "add", trainFraction: 0.3, equalsToken: true }),
  model: models.transformer({ layers: 1, dModel: 128, heads: 4, dMlp: 512, activation: "relu", layerNorm: false }),
  optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1, betas: [0.9, 0.98] }),
  steps: 30,
  ...quiet,
});

const { evalEvery: _e, checkpointEvery: _c, ...mlpDefaultInput } = mlp.input;
export const mlpDefault = modelSystem(mlpDefaultInput);
const { evalEvery: _e2, checkpointEvery: _c2, ...transformerDefaultInput } = transformer.input;
export const transformerDefault = modelSystem(transformerDefaultInput);
