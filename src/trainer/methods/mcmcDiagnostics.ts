// Convergence diagnostics for several MCMC chains of one scalar (e.g. the loss at each SGLD draw):
// split R-hat and the effective sample size, as in Gelman et al., "Bayesian Data Analysis" (3rd
// ed., §11.4–11.5) and Stan's estimators (Vehtari et al. 2021, without rank normalization: the
// traced quantities are losses, continuous and finite whenever a chain has not diverged).
// Each chain is split in half first, so a drift within a chain shows up like a disagreement
// between chains.
import { minOf } from "../../measures/extent";

/** The two halves of every chain, all of the same length (the shortest chain sets it; an odd middle draw is dropped). */
function splitHalves(chains: readonly ArrayLike<number>[]): number[][] {
  const len = minOf(chains.map((c) => c.length));
  const half = Math.floor(len / 2);
  const out: number[][] = [];
  for (const c of chains) {
    // The last `2·half` draws: the end of a chain is the part closest to stationarity.
    const start = c.length - 2 * half;
    out.push(Array.from({ length: half }, (_, i) => c[start + i]!));
    out.push(Array.from({ length: half }, (_, i) => c[start + half + i]!));
  }
  return out;
}

export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** Within-chain variance W, and var⁺ = (n−1)/n·W + B/n, of equally long sequences. */
function varianceParts(seqs: readonly number[][]): { w: number; varPlus: number; n: number; means: number[] } {
  const n = seqs[0]!.length;
  const m = seqs.length;
  const means = seqs.map(mean);
  const grand = mean(means);
  let b = 0;
  for (const mu of means) b += (mu - grand) ** 2;
  b *= n / (m - 1);
  let w = 0;
  seqs.forEach((s, j) => {
    let ss = 0;
    for (const x of s) ss += (x - means[j]!) ** 2;
    w += ss / (n - 1);
  });
  w /= m;
  return { w, varPlus: ((n - 1) / n) * w + b / n, n, means };
}

/**
 * Split R-hat: √(var⁺ / W) over the halves of all chains. 1 when the chains agree; above ~1.1 they
 * have not mixed. NaN with fewer than 4 draws per chain (each half needs two) or fewer than one
 * chain; +Infinity when every half is constant but the halves differ.
 */
export function splitRhat(chains: readonly ArrayLike<number>[]): number {
  if (chains.length < 1 || minOf(chains.map((c) => c.length)) < 4) return NaN;
  const { w, varPlus } = varianceParts(splitHalves(chains));
  if (w === 0) return varPlus === 0 ? 1 : Infinity;
  return Math.sqrt(varPlus / w);
}

/**
 * Effective sample size of all chains together (Stan's estimator on split chains): M·n / τ with
 * τ = −1 + 2·Σ P_k, P_k = ρ̂_{2k} + ρ̂_{2k+1} summed while positive and made non-increasing
 * (Geyer's initial monotone sequence), and ρ̂_t = 1 − (W − mean_j autocov_j(t)) / var⁺.
 * NaN when splitRhat is; the total number of draws when the sequences are constant.
 */
export function effectiveSampleSize(chains: readonly ArrayLike<number>[]): number {
  if (chains.length < 1 || minOf(chains.map((c) => c.length)) < 4) return NaN;
  const seqs = splitHalves(chains);
  const { w, varPlus, n, means } = varianceParts(seqs);
  const m = seqs.length;
  if (varPlus === 0) return m * n;
  const autocov = (t: number): number => {
    // Mean over sequences of the biased (÷n) lag-t autocovariance.
    let total = 0;
    seqs.forEach((s, j) => {
      let acc = 0;
      for (let i = 0; i + t < n; i++) acc += (s[i]! - means[j]!) * (s[i + t]! - means[j]!);
      total += acc / n;
    });
    return total / m;
  };
  const rho = (t: number): number => 1 - (w - autocov(t)) / varPlus;
  let sum = 0;
  let prev = Infinity;
  for (let k = 0; 2 * k + 1 < n; k++) {
    let p = rho(2 * k) + rho(2 * k + 1);
    if (!(p > 0)) break;
    p = Math.min(p, prev);
    prev = p;
    sum += p;
  }
  const tau = Math.max(-1 + 2 * sum, 1 / Math.log10(m * n));
  return (m * n) / tau;
}
