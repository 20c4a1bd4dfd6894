// Conservation laws from symmetries (Kunin et al. 2021, "Neural mechanics"): a ReLU MLP classifier
// trained by full-batch gradient descent, without and with weight decay. Its symmetries (a rescale
// per hidden unit between consecutive layers, the translation of the softmax readout) each conserve
// a quantity under gradient flow; weight decay λ shrinks it by a_t² = ∏(1 − ηλ)² (a_t for the
// translation), and a finite step η leaves a drift of order η (the η²‖g‖² term per step over
// t/η steps). Open the Conservation Laws panel on the runs (docs/analyses.md, "Conservation laws").
// Run: `npx lm train examples/conservation.experiment.ts --system noDecay` (then withDecay, halfLr).
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

const task = tasks.modularArithmetic({ p: 23, op: "add", trainFraction: 0.5 });
const model = models.mlp({ embed: "onehot", hidden: [128, 128], activation: "relu" });
const common = { task, model, evalEvery: 50, seed: 0 } as const;

/** Full-batch GD at η = 0.05, no weight decay: the conserved quantities stay put up to the η² term. */
export const noDecay = modelSystem({
  ...common,
  optimizer: optimizers.sgd({ lr: 0.05 }),
  steps: 2_000,
  checkpointEvery: 100,
  description: "GD η = 0.05, no weight decay",
});

/** The same with weight decay λ = 0.01 (coupled L2): every quantity decays as ∏(1 − ηλ)². */
export const withDecay = modelSystem({
  ...common,
  optimizer: optimizers.sgd({ lr: 0.05, weightDecay: 0.01 }),
  steps: 2_000,
  checkpointEvery: 100,
  description: "GD η = 0.05, weight decay λ = 0.01",
});

/** noDecay at half the step for twice the steps (the same gradient-flow time ηt): half the drift. */
export const halfLr = modelSystem({
  ...common,
  optimizer: optimizers.sgd({ lr: 0.025 }),
  steps: 4_000,
  checkpointEvery: 200,
  description: "GD η = 0.025, no weight decay",
});
