// Online cross-covariance of two vectors observed together, Cov(x_i, y_j) for all i, j, without
// keeping the observations: Welford's update of the means and the co-moment
// C = Σ (x − x̄)(y − ȳ)ᵀ, in float64, and Chan et al.'s rule to merge two accumulators (one per
// MCMC chain into the pooled one). Memory is O(nx·ny) whatever the number of observations.

export class CrossCovariance {
  count = 0;
  readonly meanX: Float64Array;
  readonly meanY: Float64Array;
  /** Row-major [nx, ny]: Σ (x_i − x̄_i)(y_j − ȳ_j). */
  readonly comoment: Float64Array;
  private readonly dy: Float64Array;

  constructor(
    readonly nx: number,
    readonly ny: number,
  ) {
    this.meanX = new Float64Array(nx);
    this.meanY = new Float64Array(ny);
    this.comoment = new Float64Array(nx * ny);
    this.dy = new Float64Array(ny);
  }

  /** Adds one joint observation (x of length nx, y of length ny). */
  push(x: ArrayLike<number>, y: ArrayLike<number>): void {
    const { nx, ny, meanX, meanY, comoment, dy } = this;
    this.count++;
    const k = this.count;
    // C_k = C_{k−1} + (x − x̄_k)(y − ȳ_{k−1})ᵀ: the new mean on one side, the old on the other.
    for (let j = 0; j < ny; j++) {
      dy[j] = y[j]! - meanY[j]!;
      meanY[j]! += dy[j]! / k;
    }
    for (let i = 0; i < nx; i++) {
      const xi = x[i]!;
      meanX[i]! += (xi - meanX[i]!) / k;
      const dx = xi - meanX[i]!;
      const row = i * ny;
      for (let j = 0; j < ny; j++) comoment[row + j]! += dx * dy[j]!;
    }
  }

  /** Folds `other` (same sizes) into this one, as if its observations had been pushed here. */
  merge(other: CrossCovariance): void {
    if (other.nx !== this.nx || other.ny !== this.ny) throw new Error("CrossCovariance.merge: sizes differ");
    if (other.count === 0) return;
    const na = this.count,
      nb = other.count,
      n = na + nb;
    const { nx, ny, meanX, meanY, comoment } = this;
    const dy = this.dy;
    for (let j = 0; j < ny; j++) dy[j] = other.meanY[j]! - meanY[j]!;
    const f = (na * nb) / n;
    for (let i = 0; i < nx; i++) {
      const dx = other.meanX[i]! - meanX[i]!;
      const row = i * ny;
      for (let j = 0; j < ny; j++) comoment[row + j]! += other.comoment[row + j]! + dx * dy[j]! * f;
      meanX[i]! += (dx * nb) / n;
    }
    for (let j = 0; j < ny; j++) meanY[j]! += (dy[j]! * nb) / n;
    this.count = n;
  }

  /** Unbiased sample covariance [nx, ny] (÷ count − 1); NaN with fewer than two observations. */
  covariance(): Float64Array {
    const out = new Float64Array(this.nx * this.ny);
    const d = this.count - 1;
    for (let k = 0; k < out.length; k++) out[k] = d > 0 ? this.comoment[k]! / d : NaN;
    return out;
  }

  reset(): void {
    this.count = 0;
    this.meanX.fill(0);
    this.meanY.fill(0);
    this.comoment.fill(0);
  }
}
