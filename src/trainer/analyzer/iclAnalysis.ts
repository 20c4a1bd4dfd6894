// In-context learning (Garg et al. 2022) for inContextRegression systems: at each analysed
// checkpoint, the fixed test set's mean squared error at each context position k (the prediction
// of y_k at x_k's token, after k − 1 pairs), beside the least-squares and Bayes-optimal ridge
// baselines on the same sequences. The baselines are plain arithmetic (src/measures/inContext.ts),
// computed once when the analysis is built and written in the file's header.
import * as tf from "@tensorflow/tfjs-core";
import { bayesRidgeLambda, inContextBaseline } from "../../measures/index";
import type { InContextRegressionSpec } from "../../sdk/spec";
import type { IclBaselines, IclRecord } from "../../shared/analysisFormat";
import type { SystemInstance } from "../system";
import { sequencePairs } from "../tasks/index";
import { type Analysis, cadence } from "./analysis";

/** Test sequences per forward pass: bounds the attention's memory (batch · heads · (2·points)²). */
const CHUNK = 256;

/** Why the in-context analysis does not apply to a system, or undefined when it does. */
export function iclUnsupported(system: SystemInstance): string | undefined {
  const task = system.spec.task;
  if (task.kind !== "inContextRegression") return `the task is ${task.kind}, not inContextRegression`;
  return undefined;
}

/** The baselines on the system's test sequences (they depend on the task alone). */
export function iclBaselines(task: InContextRegressionSpec, system: SystemInstance): IclBaselines {
  const test = system.data.test;
  const sequences = Array.from({ length: test.n }, (_, s) => sequencePairs(task, test, s));
  const lambda = bayesRidgeLambda(task.noise, task.dim);
  return {
    leastSquares: inContextBaseline(sequences, 0),
    ridge: inContextBaseline(sequences, lambda),
    ridgeLambda: lambda,
    noiseVariance: task.noise * task.noise,
    sequences: test.n,
    dim: task.dim,
  };
}

/** Per position k: the mean over sequences of (output − target)², outputs and targets [n, points]. */
export function positionLosses(out: Float32Array, y: Float32Array | Int32Array, n: number, points: number): number[] {
  const sums = new Float64Array(points);
  for (let s = 0; s < n; s++)
    for (let k = 0; k < points; k++) {
      const e = out[s * points + k]! - y[s * points + k]!;
      sums[k]! += e * e;
    }
  return Array.from(sums, (v) => v / Math.max(1, n));
}

export function createIclAnalysis(system: SystemInstance, settings: { every: number }): Analysis<"icl"> {
  const task = system.spec.task as InContextRegressionSpec;
  const { test } = system;
  const points = task.points;
  const baselines = iclBaselines(task, system);
  return {
    name: "icl",
    settings: { ...settings },
    needs: "model",
    due: cadence(settings.every),
    header: { baselines },
    compute(step: number): IclRecord {
      const out = new Float32Array(test.n * points);
      for (let i = 0; i < test.n; i += CHUNK) {
        const size = Math.min(CHUNK, test.n - i);
        const chunk = tf.tidy(() => system.output(tf.slice(test.x, i, size)).dataSync() as Float32Array);
        out.set(chunk, i * points);
      }
      const loss = positionLosses(out, system.data.test.y, test.n, points);
      return { step, loss, mean: loss.reduce((a, b) => a + b, 0) / Math.max(1, points) };
    },
    dispose: () => {},
  };
}
