// Sparse parity (Barak et al. 2022): x uniform on {−1, +1}^bits, label 1 when the product of the
// first k bits is −1 (an odd number of −1s among them), else 0.
import { Rng } from "../../sdk/rng";
import type { SparseParitySpec } from "../../sdk/spec";
import type { Split, TaskData } from "./task";

export function generateSparseParity(spec: SparseParitySpec): TaskData {
  const { bits, k, trainSize, testSize, dataSeed } = spec;
  if (!Number.isInteger(bits) || bits < 1)
    throw new Error(`sparseParity: bits must be a positive integer, got ${bits}`);
  if (!Number.isInteger(k) || k < 1 || k > bits)
    throw new Error(`sparseParity: k must be an integer in [1, bits = ${bits}], got ${k}`);
  if (!Number.isInteger(trainSize) || trainSize < 1)
    throw new Error(`sparseParity: trainSize must be a positive integer, got ${trainSize}`);
  if (!Number.isInteger(testSize) || testSize < 0)
    throw new Error(`sparseParity: testSize must be a non-negative integer, got ${testSize}`);

  // Train and test come from separate forks, so the test set does not change with trainSize.
  const rng = new Rng(dataSeed, "sparseParity");
  const trainRng = rng.fork("train");
  const testRng = rng.fork("test");
  return {
    input: { kind: "features", dim: bits },
    output: { kind: "classes", count: 2 },
    train: sample(trainRng, trainSize, bits, k),
    test: sample(testRng, testSize, bits, k),
  };
}

function sample(rng: Rng, n: number, bits: number, k: number): Split {
  const x = new Float32Array(n * bits);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let negatives = 0;
    for (let j = 0; j < bits; j++) {
      const negative = (rng.nextUint32() & 1) === 1;
      x[i * bits + j] = negative ? -1 : 1;
      if (negative && j < k) negatives++;
    }
    y[i] = negatives & 1;
  }
  return { n, x, y };
}
