// The local learning coefficient (Lau et al. 2023, "Quantifying degeneracy in singular models via
// the learning coefficient"; devinterp's `estimate_learning_coeff`; docs/analyses.md, "Local
// learning coefficient"): around the checkpoint w*,
//   λ̂ = nβ · (E_w[L_n(w)] − L_n(w*)),
// the expectation over the localized tempered posterior sampled by SGLD (./sgld.ts, the BIF's
// sampler), L_n the mean loss over every training example, evaluated at each kept draw. Draws of
// all completed chains are pooled; each chain's own estimate gives a standard error, and split R̂
// and ESS of the L_n traces (./mcmcDiagnostics.ts) a warning when the chains look unmixed.
import * as tf from "@tensorflow/tfjs-core";
import { effectiveSampleSize, mean, splitRhat } from "./mcmcDiagnostics";
import { type ChainOutcome, type SgldOptions, resolveSgldOptions, runSgld } from "./sgld";
import type { AnalysisTarget, Examples } from "./target";

export interface LlcOptions extends Partial<SgldOptions> {
  /** Rows per forward pass when evaluating L_n at a draw (default 4096). */
  evalBatchSize?: number;
  /** Split R-hat above this warns (default 1.1). */
  maxRhat?: number;
  /** An effective sample size below this warns (default 50). */
  minEss?: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

export interface LlcResult {
  options: SgldOptions;
  /** L_n(w*). */
  initLoss: number;
  /** λ̂ over the pooled draws of the completed chains; NaN when every chain diverged. */
  llc: number;
  /** Standard deviation of the per-chain estimates / √K (NaN with fewer than two completed chains). */
  stdErr: number;
  /** λ̂ of each completed chain. */
  chainLlc: number[];
  /** L_n at each kept draw, per chain (diverged chains included, up to where they stopped). */
  traces: { outcome: ChainOutcome; loss: Float64Array }[];
  rhat: number;
  ess: number;
  /** Empty when the chains look mixed and none diverged. */
  warnings: string[];
}

/** L_n at the current parameters: the mean per-example loss over `ex`, `batch` rows at a time, in float64. */
export function fullLoss(target: AnalysisTarget, ex: Examples, batch = 4096): number {
  const n = ex.x.shape[0]!;
  let sum = 0;
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const part = tf.tidy(() => {
      const x = size === n ? ex.x : tf.slice(ex.x, start, size);
      const y = size === n ? ex.y : tf.slice(ex.y, start, size);
      return target.perExampleLoss(target.output(x), y).dataSync();
    });
    for (const v of part) sum += v;
  }
  return sum / n;
}

/** λ̂ at the target's current parameters w* (moved during sampling, restored before returning or throwing). */
export async function computeLlc(target: AnalysisTarget, train: Examples, given: LlcOptions = {}): Promise<LlcResult> {
  const n = train.x.shape[0]!;
  const o = resolveSgldOptions(n, given);
  const batch = given.evalBatchSize ?? 4096;
  const initLoss = fullLoss(target, train, batch);
  const traces: LlcResult["traces"] = [];
  let cur: number[] = [];
  const outcomes = await runSgld(
    target,
    train,
    o,
    {
      onChainStart: () => {
        cur = [];
      },
      onDraw: () => {
        const l = fullLoss(target, train, batch);
        if (!Number.isFinite(l)) return `the training loss at a draw became ${l}`;
        cur.push(l);
        return undefined;
      },
      onChainEnd: (_c, outcome) => {
        traces.push({ outcome, loss: Float64Array.from(cur) });
      },
      ...(given.onProgress ? { onProgress: given.onProgress } : {}),
    },
    given.signal ? { signal: given.signal } : {},
  );
  const completed = traces.filter((t) => t.outcome.kind === "completed" && t.loss.length > 0);
  const chainLlc = completed.map((t) => o.nBeta * (mean(t.loss) - initLoss));
  let pooledSum = 0;
  let pooledCount = 0;
  for (const t of completed) {
    for (const l of t.loss) pooledSum += l;
    pooledCount += t.loss.length;
  }
  const llc = pooledCount > 0 ? o.nBeta * (pooledSum / pooledCount - initLoss) : Number.NaN;
  const k = chainLlc.length;
  const m = k > 0 ? mean(chainLlc) : Number.NaN;
  const stdErr = k > 1 ? Math.sqrt(chainLlc.reduce((s, x) => s + (x - m) ** 2, 0) / (k - 1) / k) : Number.NaN;
  const series = completed.map((t) => t.loss);
  const rhat = splitRhat(series);
  const ess = effectiveSampleSize(series);
  const warnings: string[] = [];
  const diverged = outcomes.filter((x) => x.kind === "diverged");
  if (diverged.length)
    warnings.push(
      `${diverged.length} of ${o.chains} chains diverged${k ? " and were left out" : ""}. ${diverged
        .map((d) => (d.kind === "diverged" ? d.message : ""))
        .join(" ")}`,
    );
  const maxRhat = given.maxRhat ?? 1.1;
  const minEss = given.minEss ?? 50;
  if (rhat > maxRhat)
    warnings.push(
      `The chains have not mixed: split R-hat ${rhat.toFixed(3)} > ${maxRhat}. Run more draws or burn-in, or a larger step size; λ̂ is unreliable.`,
    );
  if (ess < minEss)
    warnings.push(
      `Effective sample size ${ess.toFixed(1)} < ${minEss} (of ${pooledCount} draws): λ̂ is noisy; run more draws.`,
    );
  if (llc < 0)
    warnings.push(
      "λ̂ < 0: the chains found lower loss than the checkpoint, which is not at a local minimum (or the step size is too large).",
    );
  return { options: o, initLoss, llc, stdErr, chainLlc, traces, rhat, ess, warnings };
}
