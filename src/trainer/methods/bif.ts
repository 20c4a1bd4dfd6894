// The Bayesian influence function (Kreer et al. 2025, "Bayesian Influence Functions for
// Hessian-Free Data Attribution"; docs/analyses.md, "Bayesian influence function"): for a
// training example z_i and a query φ,
//   BIF(z_i, φ) = −Cov(ℓ_i(w), φ(w))
// under the localized tempered posterior around the checkpoint w* (the target's current params),
// sampled with SGLD (./sgld.ts). φ_j(w) is the mean loss over the examples of query j. At every
// kept draw the per-example losses of all training examples and of the query examples are
// evaluated and folded into running covariances (./crossCovariance.ts): memory O(n·q), not
// O(n·draws). Draws of all chains are pooled (devinterp's "stack"); per-chain covariances give a
// standard error. Chains that diverge are dropped with a message; traces of L_n(w) and φ(w) per
// chain feed split R-hat and ESS (./mcmcDiagnostics.ts), and a warning says when they look unmixed.
import * as tf from "@tensorflow/tfjs-core";
import { CrossCovariance } from "./crossCovariance";
import { effectiveSampleSize, mean, splitRhat } from "./mcmcDiagnostics";
import { type ChainOutcome, type SgldOptions, resolveSgldOptions, runSgld } from "./sgld";
import type { AnalysisTarget, Examples } from "./target";
import { maxOf, minOf } from "../../measures/extent";

export { resolveSgldOptions, type SgldOptions, type ChainOutcome } from "./sgld";

/** The observables φ_j: mean per-example loss over groups of the query examples. */
export interface BifQueries {
  examples: Examples;
  /** Query index (0..q−1) of each example; omitted: each example is its own query (q = number of examples). */
  groups?: Int32Array;
  /** Names of the q queries (default "q0", "q1", …). */
  names?: readonly string[];
}

export interface BifOptions extends Partial<SgldOptions> {
  /** Rows of `train` (positions 0..n−1, not dataset indices) whose BIF to report; default all. L_n(w) always uses every row. */
  rows?: Int32Array;
  /** Examples per forward pass when evaluating per-example losses at a draw (bounds memory); default 4096. */
  evalBatchSize?: number;
  /** Split R-hat above this warns (default 1.1). */
  maxRhat?: number;
  /** An effective sample size below this warns (default 50). */
  minEss?: number;
  /** φ traces are kept for at most this many queries (the first ones; default 16). */
  maxTracedQueries?: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

/** Per chain: the values at each kept draw. */
export interface ChainTrace {
  outcome: ChainOutcome;
  /** L_n(w), the mean loss over all training examples, at each kept draw. */
  loss: Float64Array;
  /** φ_j(w) for the traced queries, row-major [draws, tracedQueries]. */
  query: Float64Array;
}

export interface MixingDiagnostics {
  /** Split R-hat of the L_n trace across the completed chains (NaN when not computable). */
  lossRhat: number;
  lossEss: number;
  /** The same per traced query. */
  queryRhat: Float64Array;
  queryEss: Float64Array;
  /** Worst of the above (max R-hat, min ESS), NaN when none is computable. */
  maxRhat: number;
  minEss: number;
}

interface BifCommon {
  options: SgldOptions;
  /** The checkpoint's full-batch loss L_n(w*). */
  initLoss: number;
  traces: ChainTrace[];
  wallMs: number;
}

export type BifResult =
  | (BifCommon & {
      kind: "ok";
      /** Dataset indices (train.indices) of the reported rows. */
      rowIndices: Int32Array;
      queryNames: string[];
      /** −Cov(ℓ_i, φ_j), row-major [rows, queries], over the pooled draws of the completed chains. */
      bif: Float64Array;
      /**
       * Standard error of each entry: the spread of the per-chain covariances / √K over the K completed
       * chains (NaN with one). It has K − 1 degrees of freedom, so it is itself rough with 4 chains.
       */
      stdErr: Float64Array;
      /** Posterior means E[ℓ_i] of the reported rows and E[φ_j]. */
      rowMeanLoss: Float64Array;
      queryMean: Float64Array;
      /** Kept draws pooled over the completed chains. */
      drawsUsed: number;
      /** devinterp's local learning coefficient estimate nβ·(E[L_n(w)] − L_n(w*)), a by-product. */
      llc: number;
      diagnostics: MixingDiagnostics;
      /** Empty when the chains look mixed and none diverged. */
      warnings: string[];
    })
  | (BifCommon & {
      kind: "diverged";
      /** Why, naming the chains and the step size to try. */
      message: string;
    });

/** Per-example losses of `ex` at the current params, in float64, evaluated `batch` rows at a time. */
function perExampleLosses(target: AnalysisTarget, ex: Examples, batch: number): Float64Array {
  const n = ex.x.shape[0]!;
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const part = tf.tidy(() => {
      const x = size === n ? ex.x : tf.slice(ex.x, start, size);
      const y = size === n ? ex.y : tf.slice(ex.y, start, size);
      return target.perExampleLoss(target.output(x), y).dataSync();
    });
    out.set(part, start);
  }
  return out;
}

function resolveQueries(q: BifQueries): { groups: Int32Array; count: number; sizes: Float64Array; names: string[] } {
  const m = q.examples.x.shape[0]!;
  if (m < 1) throw new RangeError("BIF queries: no query examples");
  const groups = q.groups ?? Int32Array.from({ length: m }, (_, i) => i);
  if (groups.length !== m) throw new RangeError(`BIF queries: ${groups.length} group labels for ${m} examples`);
  let count = 0;
  for (const g of groups) {
    if (!Number.isInteger(g) || g < 0)
      throw new RangeError(`BIF queries: group label ${g} is not a non-negative integer`);
    count = Math.max(count, g + 1);
  }
  const sizes = new Float64Array(count);
  for (const g of groups) sizes[g]!++;
  const empty = sizes.indexOf(0);
  if (empty >= 0) throw new RangeError(`BIF queries: query ${empty} has no examples`);
  if (q.names && q.names.length !== count)
    throw new RangeError(`BIF queries: ${q.names.length} names for ${count} queries`);
  return { groups, count, sizes, names: q.names ? [...q.names] : Array.from({ length: count }, (_, j) => `q${j}`) };
}

/**
 * BIF of training examples (rows of `train`) against queries, at the target's current params w*.
 * The params are moved during sampling and restored to w* before this returns or throws.
 */
export async function computeBif(
  target: AnalysisTarget,
  train: Examples,
  queries: BifQueries,
  given: BifOptions = {},
): Promise<BifResult> {
  const t0 = performance.now();
  const n = train.x.shape[0]!;
  const o = resolveSgldOptions(n, given);
  const evalBatch = given.evalBatchSize ?? 4096;
  const rowSel = given.rows ?? Int32Array.from({ length: n }, (_, i) => i);
  for (const r of rowSel)
    if (!(r >= 0 && r < n && Number.isInteger(r)))
      throw new RangeError(`BIF rows: ${r} is not a row of the training set (0..${n - 1})`);
  const qs = resolveQueries(queries);
  const q = qs.count;
  const traced = Math.min(q, given.maxTracedQueries ?? 16);
  const nr = rowSel.length;

  const initLoss = mean(perExampleLosses(target, train, evalBatch));
  // Per-chain accumulator, folded into the pooled one (and into the per-chain spread) when the chain completes.
  const chainCov = new CrossCovariance(nr, q);
  const pooled = new CrossCovariance(nr, q);
  const spreadMean = new Float64Array(nr * q);
  const spreadM2 = new Float64Array(nr * q);
  let chainsFolded = 0;
  let lossSum = 0;
  let lossCount = 0;
  const traces: ChainTrace[] = [];
  let cur: { loss: number[]; query: number[] } = { loss: [], query: [] };
  const rowLoss = new Float64Array(nr);
  const phi = new Float64Array(q);

  const outcomes = await runSgld(
    target,
    train,
    o,
    {
      onChainStart: () => {
        chainCov.reset();
        cur = { loss: [], query: [] };
      },
      onDraw: () => {
        const all = perExampleLosses(target, train, evalBatch);
        const qLoss = perExampleLosses(target, queries.examples, evalBatch);
        const l = mean(all);
        if (!Number.isFinite(l)) return `the training loss at a draw became ${l}`;
        phi.fill(0);
        for (let k = 0; k < qLoss.length; k++) phi[qs.groups[k]!]! += qLoss[k]!;
        for (let j = 0; j < q; j++) phi[j]! /= qs.sizes[j]!;
        for (let j = 0; j < q; j++)
          if (!Number.isFinite(phi[j]!)) return `the query loss φ_${j} at a draw became ${phi[j]}`;
        for (let k = 0; k < nr; k++) rowLoss[k] = all[rowSel[k]!]!;
        chainCov.push(rowLoss, phi);
        cur.loss.push(l);
        for (let j = 0; j < traced; j++) cur.query.push(phi[j]!);
        return undefined;
      },
      onChainEnd: (_chain, outcome) => {
        traces.push({ outcome, loss: Float64Array.from(cur.loss), query: Float64Array.from(cur.query) });
        if (outcome.kind !== "completed") return;
        pooled.merge(chainCov);
        for (const l of cur.loss) lossSum += l;
        lossCount += cur.loss.length;
        // Welford over chains of each entry's per-chain covariance.
        chainsFolded++;
        const c = chainCov.covariance();
        for (let k = 0; k < c.length; k++) {
          const d = c[k]! - spreadMean[k]!;
          spreadMean[k]! += d / chainsFolded;
          spreadM2[k]! += d * (c[k]! - spreadMean[k]!);
        }
      },
      ...(given.onProgress ? { onProgress: given.onProgress } : {}),
    },
    given.signal ? { signal: given.signal } : {},
  );

  const common: BifCommon = { options: o, initLoss, traces, wallMs: performance.now() - t0 };
  const diverged = outcomes.map((oc, c) => ({ oc, c })).filter((x) => x.oc.kind === "diverged");
  const divergedText = diverged.map(({ oc }) => (oc.kind === "diverged" ? oc.message : "")).join(" ");
  if (chainsFolded === 0) {
    return { ...common, kind: "diverged", message: `All ${o.chains} SGLD chains diverged; no BIF. ${divergedText}` };
  }

  const cov = pooled.covariance();
  const bif = new Float64Array(cov.length);
  const stdErr = new Float64Array(cov.length);
  for (let k = 0; k < cov.length; k++) {
    bif[k] = -cov[k]!;
    stdErr[k] = chainsFolded > 1 ? Math.sqrt(spreadM2[k]! / (chainsFolded - 1) / chainsFolded) : NaN;
  }

  const completed = traces.filter((t) => t.outcome.kind === "completed");
  const queryRhat = new Float64Array(traced);
  const queryEss = new Float64Array(traced);
  for (let j = 0; j < traced; j++) {
    const series = completed.map((t) => t.query.filter((_, k) => k % traced === j));
    queryRhat[j] = splitRhat(series);
    queryEss[j] = effectiveSampleSize(series);
  }
  const lossSeries = completed.map((t) => t.loss);
  const lossRhat = splitRhat(lossSeries);
  const lossEss = effectiveSampleSize(lossSeries);
  const rhats = [lossRhat, ...queryRhat].filter((x) => !Number.isNaN(x));
  const esses = [lossEss, ...queryEss].filter((x) => !Number.isNaN(x));
  const diagnostics: MixingDiagnostics = {
    lossRhat,
    lossEss,
    queryRhat,
    queryEss,
    maxRhat: rhats.length ? maxOf(rhats) : NaN,
    minEss: esses.length ? minOf(esses) : NaN,
  };

  const warnings: string[] = [];
  if (diverged.length)
    warnings.push(`${diverged.length} of ${o.chains} chains diverged and were left out. ${divergedText}`);
  const maxRhat = given.maxRhat ?? 1.1;
  const minEss = given.minEss ?? 50;
  if (diagnostics.maxRhat > maxRhat) {
    warnings.push(
      `The chains have not mixed: split R-hat ${diagnostics.maxRhat.toFixed(3)} > ${maxRhat} (loss ${lossRhat.toFixed(3)}). ` +
        `Run more draws or burn-in, or a larger step size; the BIF values are unreliable.`,
    );
  } else if (Number.isNaN(diagnostics.maxRhat)) {
    warnings.push(`Mixing cannot be checked: split R-hat needs at least 4 draws per chain.`);
  }
  if (diagnostics.minEss < minEss) {
    warnings.push(
      `Effective sample size ${diagnostics.minEss.toFixed(1)} < ${minEss} (of ${pooled.count} draws): the BIF estimate is noisy; run more draws.`,
    );
  }

  return {
    ...common,
    kind: "ok",
    rowIndices: Int32Array.from(rowSel, (r) => train.indices[r]!),
    queryNames: qs.names,
    bif,
    stdErr,
    rowMeanLoss: Float64Array.from(pooled.meanX),
    queryMean: Float64Array.from(pooled.meanY),
    drawsUsed: pooled.count,
    llc: o.nBeta * (lossSum / lossCount - initLoss),
    diagnostics,
    warnings,
    wallMs: performance.now() - t0,
  };
}
