// Spearman's rank correlation: the Pearson correlation of the ranks (ties share their average
// rank). The linear datamodeling score (Park et al. 2023, TRAK) is this correlation between the
// predicted and the actual effects of retraining on random subsets (docs/interventions.md).

/** 1-based ranks, ties given the mean of the ranks they span. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]!] === values[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Pearson's correlation; undefined when either side is constant or there are fewer than 2 pairs. */
export function pearson(x: readonly number[], y: readonly number[]): number | undefined {
  const n = x.length;
  if (n !== y.length) throw new Error(`pearson: ${n} x values but ${y.length} y values`);
  if (n < 2) return undefined;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? undefined : sxy / Math.sqrt(sxx * syy);
}

/**
 * Spearman's ρ of paired values (non-finite pairs dropped); undefined with fewer than 3 pairs or
 * a constant side, where a rank correlation says nothing.
 */
export function spearman(x: readonly number[], y: readonly number[]): number | undefined {
  if (x.length !== y.length) throw new Error(`spearman: ${x.length} x values but ${y.length} y values`);
  const keep = x.map((_, i) => i).filter((i) => Number.isFinite(x[i]) && Number.isFinite(y[i]));
  if (keep.length < 3) return undefined;
  return pearson(averageRanks(keep.map((i) => x[i]!)), averageRanks(keep.map((i) => y[i]!)));
}
