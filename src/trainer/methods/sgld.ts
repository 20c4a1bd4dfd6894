// SGLD on the localized tempered posterior around a checkpoint w* (docs/analyses.md, "Bayesian
// influence function"; the sampler of devinterp's LLC and BIF estimators):
//   p(w) ∝ exp(−nβ·L_n(w) − (γ/2)‖w − w*‖²),
//   w ← w − (ε/2)·(nβ·∇L_batch(w) + γ·(w − w*)) + √ε·N(0, I),
// where L_batch is the mean loss over a minibatch of the training set (the whole set when the
// batch size is ≥ n). The target's own variables are moved in place and put back to w* at the end,
// also when a hook throws or the caller aborts. Noise and minibatch order come from the project's
// seeded RNG (src/sdk/rng.ts), so a seed gives the same chains on every backend up to float
// rounding of the model's kernels.
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../sdk/rng";
import type { AnalysisTarget, Examples } from "./target";

/** Sampler settings. Defaults: `resolveSgldOptions`. */
export interface SgldOptions {
  /** ε, the SGLD step (noise variance per step). */
  stepSize: number;
  /** nβ, the inverse temperature times n. */
  nBeta: number;
  /** γ, the strength of the Gaussian localization around w*. */
  localization: number;
  chains: number;
  /** Kept draws per chain. */
  draws: number;
  /** Steps discarded at the start of each chain. */
  burnIn: number;
  /** Steps between kept draws (1 keeps every step after burn-in). */
  thin: number;
  /** Minibatch size for ∇L_batch; ≥ n means the full batch. */
  batchSize: number;
  seed: number;
  /** Each chain starts at w* + initSpread·N(0, I) (devinterp's `init_noise`); 0 starts every chain at w*. */
  initSpread: number;
}

/**
 * Defaults, for n training examples. They follow devinterp's sampler (4 chains, SGLD with
 * localization) and Watanabe's temperature; ε, thinning and the draw counts were set from the
 * measurement in bench/README.md ("BIF cost": the grokking MLP on wasm, ~13 cpu-s per checkpoint):
 * - nBeta = n / ln n (β = 1/ln n, the WBIC temperature, with n the size of the set whose mean loss
 *   is L_n). devinterp's `default_nbeta` uses the minibatch size in place of n; we keep the
 *   posterior a property of the data, not of a memory setting (the two agree at full batch).
 * - localization γ = 100 (devinterp's usual LLC setting).
 * - stepSize ε = 1e-3: on the grokking MLP (two checkpoints) the LLC by-product moved +6 %/+12 %
 *   from 1e-3 to 3e-3 and +45 %/+94 % at 1e-2 (discretization bias), while at 1e-4 the loss was
 *   still drifting after the burn-in (split R-hat 1.7).
 * - chains 4, burnIn 100 (five relaxation times 2/(εγ) of the flattest directions), draws 100,
 *   thin 2, batchSize min(n, 256), initSpread 0, seed 0.
 */
export function resolveSgldOptions(n: number, given: Partial<SgldOptions> = {}): SgldOptions {
  const o: SgldOptions = {
    stepSize: given.stepSize ?? 1e-3,
    nBeta: given.nBeta ?? (n > 1 ? n / Math.log(n) : 1),
    localization: given.localization ?? 100,
    chains: given.chains ?? 4,
    draws: given.draws ?? 100,
    burnIn: given.burnIn ?? 100,
    thin: given.thin ?? 2,
    batchSize: Math.min(n, given.batchSize ?? 256),
    seed: given.seed ?? 0,
    initSpread: given.initSpread ?? 0,
  };
  const positive = (k: keyof SgldOptions, integer: boolean, min: number) => {
    const v = o[k];
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new RangeError(`SGLD option ${k} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got ${v}`);
    }
  };
  positive("stepSize", false, Number.MIN_VALUE);
  positive("nBeta", false, 0);
  positive("localization", false, 0);
  positive("chains", true, 1);
  positive("draws", true, 1);
  positive("burnIn", true, 0);
  positive("thin", true, 1);
  positive("batchSize", true, 1);
  positive("initSpread", false, 0);
  if (!Number.isInteger(o.seed)) throw new RangeError(`SGLD option seed must be an integer, got ${o.seed}`);
  return o;
}

/** How a chain ended. A diverged chain stops at the step where it was detected. */
export type ChainOutcome =
  | { kind: "completed"; draws: number }
  | { kind: "diverged"; draws: number; step: number; message: string };

export interface SgldHooks {
  /** Called at each kept draw with the target's params set to it; returns a reason to declare the chain diverged, if any. */
  onDraw(chain: number, draw: number): string | undefined;
  onChainStart?(chain: number): void;
  onChainEnd?(chain: number, outcome: ChainOutcome): void;
  /** Steps done and total, every few steps. */
  onProgress?(done: number, total: number): void;
}

export interface SgldRun {
  signal?: AbortSignal;
  /** Yield to the event loop every this many steps (so an abort or a progress message gets through); default 25. */
  yieldEvery?: number;
}

/** Minibatch of rows `idx` (a view when it is the whole set). */
function rows(ex: Examples, idx: Int32Array | undefined): { x: tf.Tensor; y: tf.Tensor } {
  if (!idx) return { x: ex.x, y: ex.y };
  const i = tf.tensor1d(idx, "int32");
  const out = { x: tf.gather(ex.x, i), y: tf.gather(ex.y, i) };
  i.dispose();
  return out;
}

function divergenceMessage(chain: number, step: number, what: string, o: SgldOptions): string {
  return (
    `SGLD chain ${chain} diverged at step ${step}: ${what}. The step size ε = ${o.stepSize} is too large for this ` +
    `posterior (nβ = ${o.nBeta.toPrecision(4)}, γ = ${o.localization}); try ε ≤ ${(o.stepSize / 10).toPrecision(2)}.`
  );
}

/**
 * Runs `o.chains` SGLD chains one after the other on `train`, calling `hooks.onDraw` at every kept
 * draw. Params are restored to w* before returning or throwing. Throws an AbortError-named Error
 * when `run.signal` aborts.
 */
export async function runSgld(
  target: AnalysisTarget,
  train: Examples,
  o: SgldOptions,
  hooks: SgldHooks,
  run: SgldRun = {},
): Promise<ChainOutcome[]> {
  const n = train.x.shape[0]!;
  if (n < 1) throw new RangeError("SGLD needs at least one training example");
  const vars = target.params.map((p) => p.variable);
  if (vars.length === 0) throw new RangeError("SGLD needs at least one parameter");
  const anchor = vars.map((v) => tf.keep(v.clone()));
  const sizes = vars.map((v) => v.size);
  const yieldEvery = run.yieldEvery ?? 25;
  const stepsPerChain = o.burnIn + o.draws * o.thin;
  const total = o.chains * stepsPerChain;
  const fullBatch = o.batchSize >= n;
  const half = o.stepSize / 2;
  const shrink = 1 - half * o.localization;
  const pull = anchor.map((a) => tf.keep(tf.mul(a, half * o.localization)));
  const noiseStd = Math.sqrt(o.stepSize);
  const outcomes: ChainOutcome[] = [];
  let done = 0;

  const lossOf = (x: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.mean(target.perExampleLoss(target.output(x), y));
  const restore = () =>
    vars.forEach((v, k) => {
      v.assign(anchor[k]!);
    });
  const checkAbort = () => {
    if (run.signal?.aborted) {
      const e = new Error("BIF sampling was cancelled");
      e.name = "AbortError";
      throw e;
    }
  };

  try {
    for (let chain = 0; chain < o.chains; chain++) {
      checkAbort();
      const chainRng = new Rng(o.seed, "sgld", chain);
      const noiseRng = chainRng.fork("noise");
      const batchRng = chainRng.fork("batch");
      restore();
      if (o.initSpread > 0) {
        tf.tidy(() =>
          vars.forEach((v, k) => {
            v.assign(tf.add(v, tf.tensor(noiseRng.normals(sizes[k]!, o.initSpread), v.shape, "float32")));
          }),
        );
      }
      hooks.onChainStart?.(chain);
      let order = fullBatch ? undefined : batchRng.permutation(n);
      let cursor = 0;
      let kept = 0;
      let outcome: ChainOutcome | undefined;
      for (let step = 1; step <= stepsPerChain && !outcome; step++) {
        // Minibatches walk through a fresh permutation each epoch (as the trainer's batches do).
        let idx: Int32Array | undefined;
        if (order) {
          if (cursor + o.batchSize > n) {
            order = batchRng.permutation(n);
            cursor = 0;
          }
          idx = order.subarray(cursor, cursor + o.batchSize);
          cursor += o.batchSize;
        }
        const loss = tf.tidy(() => {
          const b = rows(train, idx);
          const { value, grads } = tf.variableGrads(() => lossOf(b.x, b.y), vars);
          vars.forEach((v, k) => {
            // w − (ε/2)(nβ·g + γ(w − w*)) + ξ, regrouped as w·(1 − εγ/2) − (εnβ/2)·g + (εγ/2)·w* + ξ (fewer kernels).
            const g = grads[v.name]!;
            const noise = tf.tensor(noiseRng.normals(sizes[k]!, noiseStd), v.shape, "float32");
            v.assign(tf.add(tf.sub(tf.mul(v, shrink), tf.mul(g, half * o.nBeta)), tf.add(pull[k]!, noise)));
          });
          return value.dataSync()[0]!;
        });
        done++;
        if (!Number.isFinite(loss)) {
          outcome = {
            kind: "diverged",
            draws: kept,
            step,
            message: divergenceMessage(chain, step, `the minibatch loss became ${loss}`, o),
          };
          break;
        }
        if (step > o.burnIn && (step - o.burnIn) % o.thin === 0) {
          const reason = hooks.onDraw(chain, kept);
          kept++;
          if (reason !== undefined)
            outcome = { kind: "diverged", draws: kept - 1, step, message: divergenceMessage(chain, step, reason, o) };
        }
        if (done % yieldEvery === 0) {
          hooks.onProgress?.(done, total);
          await new Promise<void>((resolve) => setImmediate(resolve));
          checkAbort();
        }
      }
      // A diverged chain's remaining steps count as done for progress purposes.
      done = (chain + 1) * stepsPerChain;
      outcome ??= { kind: "completed", draws: kept };
      outcomes.push(outcome);
      hooks.onChainEnd?.(chain, outcome);
    }
    hooks.onProgress?.(total, total);
    return outcomes;
  } finally {
    restore();
    anchor.forEach((t) => {
      t.dispose();
    });
    pull.forEach((t) => {
      t.dispose();
    });
  }
}
