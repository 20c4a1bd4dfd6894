// Binary operations mod p (Power et al. 2022; Nanda et al. 2023): every pair (a, b) once, labelled
// (a op b) mod p, split into train/test by a seeded shuffle that is independent of the training seed.
import { Rng } from "../../sdk/rng";
import type { ModularArithmeticSpec } from "../../sdk/spec";
import type { TaskData } from "./task";

/** p² pairs beyond this would take hundreds of MB as token arrays; far beyond any grokking setup. */
const MAX_PAIRS = 1 << 24;

/** Inverse of b mod p by the extended Euclidean algorithm; undefined when gcd(b, p) ≠ 1. */
export function modInverse(b: number, p: number): number | undefined {
  let [oldR, r] = [((b % p) + p) % p, p];
  let [oldS, s] = [1, 0];
  while (r !== 0) {
    const q = Math.floor(oldR / r);
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1) return undefined;
  return ((oldS % p) + p) % p;
}

/** (a op b) mod p, non-negative. */
export function modularOp(op: ModularArithmeticSpec["op"], a: number, b: number, p: number): number {
  switch (op) {
    case "add":
      return (a + b) % p;
    case "sub":
      return (((a - b) % p) + p) % p;
    case "mul":
      // a, b < p ≤ 4096 (MAX_PAIRS), so a·b is exact in a double.
      return (a * b) % p;
    case "div": {
      const inv = modInverse(b, p);
      if (inv === undefined)
        throw new Error(`modularArithmetic: ${b} has no inverse mod ${p} (div needs a prime p; ${p} is not prime)`);
      return (a * inv) % p;
    }
  }
}

/**
 * The seeded train/test split of the `total` pairs (indices in a-major order, pair (a, b) at
 * a·(p − b₀) + (b − b₀), b₀ = 1 for div and 0 otherwise), each split in increasing order: the one
 * computation of the split, for the data and for the run folder's data.json.
 */
export function modularArithmeticSplit(
  total: number,
  trainFraction: number,
  splitSeed: number,
): { train: Int32Array; test: Int32Array } {
  const order = new Rng(splitSeed, "split").permutation(total);
  const nTrain = Math.min(total, Math.max(1, Math.round(trainFraction * total)));
  // Within each split the pairs stay in (a, b) order, which makes the arrays easy to inspect.
  return { train: order.subarray(0, nTrain).sort(), test: order.subarray(nTrain).sort() };
}

export function generateModularArithmetic(spec: ModularArithmeticSpec): TaskData {
  const { p, op, trainFraction, splitSeed, equalsToken } = spec;
  if (!Number.isInteger(p) || p < 2) throw new Error(`modularArithmetic: p must be an integer ≥ 2, got ${p}`);
  if (!(trainFraction > 0 && trainFraction <= 1))
    throw new Error(`modularArithmetic: trainFraction must be in (0, 1], got ${trainFraction}`);
  const bStart = op === "div" ? 1 : 0;
  const total = p * (p - bStart);
  if (total > MAX_PAIRS)
    throw new Error(`modularArithmetic: p = ${p} gives ${total} pairs; at most ${MAX_PAIRS} (p ≤ 4096) are supported`);

  // All pairs in a-major order, with their labels.
  const as = new Int32Array(total);
  const bs = new Int32Array(total);
  const labels = new Int32Array(total);
  let k = 0;
  for (let a = 0; a < p; a++) {
    for (let b = bStart; b < p; b++) {
      as[k] = a;
      bs[k] = b;
      labels[k] = modularOp(op, a, b, p);
      k++;
    }
  }

  const split = modularArithmeticSplit(total, trainFraction, splitSeed);
  const length = equalsToken ? 3 : 2;
  const take = (rows: Int32Array) => {
    const n = rows.length;
    const x = new Int32Array(n * length);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const j = rows[i]!;
      x[i * length] = as[j]!;
      x[i * length + 1] = bs[j]!;
      if (equalsToken) x[i * length + 2] = p;
      y[i] = labels[j]!;
    }
    return { n, x, y };
  };

  return {
    input: { kind: "tokens", vocab: equalsToken ? p + 1 : p, length },
    output: { kind: "classes", count: p },
    train: take(split.train),
    test: take(split.test),
  };
}
