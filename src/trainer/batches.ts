// Minibatch order as a pure function of (seed, step): each epoch is a fresh permutation drawn from
// Rng(seed, "batch", epoch), cut into floor(n / size) batches (the remainder is dropped). Because
// nothing else is carried from step to step, a resumed run sees exactly the batches an
// uninterrupted one would.
import { Rng } from "../sdk/rng";

export class BatchSchedule {
  private epoch = -1;
  private perm: Int32Array = new Int32Array(0);
  readonly perEpoch: number;

  constructor(
    private readonly n: number,
    readonly size: number,
    private readonly seed: number,
  ) {
    this.perEpoch = Math.max(1, Math.floor(n / size));
  }

  /** Indices of the examples of update `t` (1-based). */
  indices(t: number): Int32Array {
    const epoch = Math.floor((t - 1) / this.perEpoch);
    const j = (t - 1) % this.perEpoch;
    if (epoch !== this.epoch) {
      this.perm = new Rng(this.seed, "batch", epoch).permutation(this.n);
      this.epoch = epoch;
    }
    return this.perm.subarray(j * this.size, (j + 1) * this.size);
  }
}
