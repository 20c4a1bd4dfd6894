// Double descent (Belkin, Hsu, Ma & Mandal 2019; Nakkiran et al. 2020) in random-features
// regression: a noisy linear teacher, relu features of a fixed random first layer, and a readout
// trained by full-batch gradient descent from zero, which converges to the minimum-norm
// least-squares fit (docs/experiments.md, "Double descent"). The test error rises as the number of
// features p approaches the number of training examples n = 100, peaks at p = n, where the readout
// must interpolate the noise with a badly conditioned feature matrix, and falls again beyond it.
// The same peak appears against the training-set size at fixed width, at n = p.
//
// Measured (3 seeds, wasm): test error 0.59 at p = 20, 5.0 at p = n = 100, 0.29 at p = 1000; against
// n at p = 100: 0.54 at n = 20, 5.0 at n = 100, 0.12 at n = 500 (docs/experiments.md has the tables
// and figures, made by scripts/docs-figures-double-descent.ts).
//
// Step size: `normalize` (the default) scales the features so that lr 1 is the step 1/λ_max of the
// squared loss at every width; heavy-ball momentum 0.9 keeps the iterates in the span of the
// training features (so the limit is still the minimum-norm fit) and is ~10× faster on the slow
// modes. Training matches the minimum-norm solution's test error to four digits except for
// 90 ≤ p ≤ 125, where the condition number reaches 10⁴–10⁷: there 10,000 steps stop short, and the
// trained peak is finite (the closed form's is 42 to 10⁷ at p = n), an early-stopping regularization.
//
//   lm sweep examples/double-descent.experiment.ts --system width
//   lm sweep examples/double-descent.experiment.ts --system trainingSize
import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

/** Gaussian inputs in 20 dimensions, y = β·x + noise with ‖β‖ = 1 and noise std 0.5 (train labels only). */
const task = tasks.teacherStudent({ dim: 20, teacher: "linear", trainSize: 100, testSize: 2000, noise: 0.5 });

const training = {
  optimizer: optimizers.sgd({ lr: 1, momentum: 0.9 }),
  steps: 10_000,
  evalEvery: 250,
  checkpointEvery: 10_000,
};

/** Test error against width p at n = 100 training examples: the peak at p = n. */
export const width = modelSystem({
  task,
  model: models.randomFeatures({ features: 100, activation: "relu" }),
  ...training,
  description: "random-features regression, test error against width (n = 100)",
  sweep: {
    grid: { "model.features": [10, 20, 40, 60, 80, 90, 100, 110, 125, 150, 200, 300, 500, 1000] },
    seeds: 3,
  },
});

/** Test error against the training-set size n at width p = 100: the peak at n = p. */
export const trainingSize = modelSystem({
  task,
  model: models.randomFeatures({ features: 100, activation: "relu" }),
  ...training,
  description: "random-features regression, test error against training-set size (p = 100)",
  sweep: {
    grid: { "task.trainSize": [20, 40, 60, 80, 90, 100, 110, 125, 150, 200, 300, 500] },
    seeds: 3,
  },
});
