// The experiment file "Create Example Experiment…" writes (the walkthrough's first step): the
// grokking system of examples/grokking.experiment.ts, so what the docs measured for `modAdd` holds
// for the newcomer's copy (test/integration/exampleExperiment.test.ts checks both list the same system).

export const EXAMPLE_FILE_NAME = "grokking.experiment.ts";

export function exampleExperimentText(): string {
  return `// Grokking on modular addition (Power et al. 2022; Nanda et al. 2023): train accuracy reaches 1
// early, test accuracy only much later, driven by weight decay. Press "▶ Train modAdd" above the
// system (about 8,000 full-batch steps; the loss-curves panel opens as it trains), then open the
// grokking panel from the run's row in the Runs view. Hover any field for its default and unit.
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

export const modAdd = modelSystem({
  task: tasks.modularArithmetic({ p: 59, op: "add", trainFraction: 0.4 }),
  model: models.mlp({ embed: "onehot", hidden: [256], activation: "relu" }),
  optimizer: optimizers.adamw({ lr: 3e-3, weightDecay: 1, betas: [0.9, 0.98] }),
  steps: 8_000,
  evalEvery: 50,
  checkpointEvery: 250,
  seed: 0,
});
`;
}
