// Hierarchically structured data (Saxe, McClelland & Ganguli 2019, "A mathematical theory of
// semantic development in deep neural networks"), the toy of Lee et al. 2025 for stagewise influence.
//
// Construction. A tree of `depth` levels below the root, each node with `branching` children.
// The items are its leaves (branching^depth of them, numbered left to right); the input of an item is
// its one-hot identity. There is one output feature per tree node (root included), in breadth-first
// order (root, then level 1 left to right, then level 2, ...). An item has feature +1 for every node on
// its path from the root (the node "owns" the item, like "can grow" / "can move" / "can fly" for a
// canary in Saxe et al.'s example) and 0 for every other node.
//
// Why this encoding: the item×item Gram matrix is then YYᵀ[i][j] = (depth of the deepest common
// ancestor of i and j) + 1, whose eigenvectors are the tree's Haar-like contrasts, one group per level
// l = 0..depth, with eigenvalues λ_l = Σ_{m=l..depth} branching^(depth−m): strictly decreasing with
// the level, so a deep linear network from small initialization learns the levels one after another
// (coarse distinctions first). A ±1 "contrast within the parent" encoding does not have this
// property: for a binary tree its root mode and its level-2 modes get the same singular value.
import { Rng } from "../../sdk/rng";
import type { HierarchicalSpec } from "../../sdk/spec";
import type { TaskData } from "./task";

/** items × features entries beyond this would be hundreds of MB (binary trees up to depth 11). */
const MAX_ENTRIES = 1 << 24;

export interface HierarchyShape {
  items: number;
  /** Number of tree nodes = number of output features. */
  features: number;
}

export function hierarchyShape(spec: Pick<HierarchicalSpec, "depth" | "branching">): HierarchyShape {
  const { depth, branching } = spec;
  if (!Number.isInteger(depth) || depth < 1)
    throw new Error(`hierarchical: depth must be an integer ≥ 1, got ${depth}`);
  if (!Number.isInteger(branching) || branching < 2)
    throw new Error(`hierarchical: branching must be an integer ≥ 2, got ${branching}`);
  const items = branching ** depth;
  const features = (branching ** (depth + 1) - 1) / (branching - 1);
  if (items * features > MAX_ENTRIES)
    throw new Error(
      `hierarchical: depth ${depth} with branching ${branching} gives ${items} items × ${features} features; at most ${MAX_ENTRIES} entries are supported`,
    );
  return { items, features };
}

/** The clean items × features target matrix (row-major, float64), as documented at the top of this file. */
export function hierarchicalFeatures(spec: Pick<HierarchicalSpec, "depth" | "branching">): Float64Array {
  const { items, features } = hierarchyShape(spec);
  const { depth, branching } = spec;
  const y = new Float64Array(items * features);
  for (let i = 0; i < items; i++) {
    let levelOffset = 0; // index of the first node of level l in breadth-first order
    for (let l = 0; l <= depth; l++) {
      const ancestor = Math.floor(i / branching ** (depth - l)); // position of i's level-l ancestor within level l
      y[i * features + levelOffset + ancestor] = 1;
      levelOffset += branching ** l;
    }
  }
  return y;
}

export function generateHierarchical(spec: HierarchicalSpec): TaskData {
  const { items, features } = hierarchyShape(spec);
  const { featureNoise, dataSeed } = spec;
  if (!(featureNoise >= 0 && Number.isFinite(featureNoise)))
    throw new Error(`hierarchical: featureNoise must be a finite number ≥ 0, got ${featureNoise}`);
  const clean = Float32Array.from(hierarchicalFeatures(spec));
  const x = new Float32Array(items * items);
  for (let i = 0; i < items; i++) x[i * items + i] = 1;

  const trainY = clean.slice();
  if (featureNoise > 0) {
    const rng = new Rng(dataSeed, "hierarchical");
    for (let i = 0; i < trainY.length; i++) trainY[i]! += featureNoise * rng.normal();
  }
  return {
    input: { kind: "features", dim: items },
    output: { kind: "regression", dim: features },
    train: { n: items, x, y: trainY },
    // The test set is the same items with clean targets (a separate copy, so nobody aliases the train arrays).
    test: { n: items, x: x.slice(), y: clean },
  };
}

/** One level of the hierarchy's modes. */
export interface HierarchyLevel {
  /** 0 = the root (the mean over all items), 1 = the split into the root's children, ... */
  level: number;
  /** Singular value of Σyx shared by this level's modes. */
  singularValue: number;
  /** How many modes the level has: 1 for the root, branching^(l−1)·(branching − 1) below it. */
  multiplicity: number;
}

export interface HierarchicalModes {
  /**
   * All singular values of the input–output correlation Σyx = (1/n)·Σ_i y_i x_iᵀ = Yᵀ/n (one-hot inputs,
   * n = items), largest first, one per item; computed numerically (Jacobi on YYᵀ).
   */
  singularValues: number[];
  /** The same values grouped by tree level, from the closed form √λ_l / n (largest first). */
  levels: HierarchyLevel[];
}

/**
 * The modes of the clean data. With Σxx = I/n, a deep linear network from small initialization learns
 * the mode with singular value s on a timescale ∝ 1/s (Saxe et al. 2019), so these order the stages.
 */
export function hierarchicalModes(spec: Pick<HierarchicalSpec, "depth" | "branching">): HierarchicalModes {
  const { items, features } = hierarchyShape(spec);
  const { depth, branching } = spec;
  const y = hierarchicalFeatures(spec);

  const levels: HierarchyLevel[] = [];
  for (let l = 0; l <= depth; l++) {
    let lambda = 0;
    for (let m = l; m <= depth; m++) lambda += branching ** (depth - m);
    levels.push({
      level: l,
      singularValue: Math.sqrt(lambda) / items,
      multiplicity: l === 0 ? 1 : branching ** (l - 1) * (branching - 1),
    });
  }

  let singularValues: number[];
  if (items <= 64) {
    // Gram matrix YYᵀ (items × items); its eigenvalues are the squared singular values of Y.
    const gram = new Float64Array(items * items);
    for (let i = 0; i < items; i++) {
      for (let j = i; j < items; j++) {
        let s = 0;
        for (let f = 0; f < features; f++) s += y[i * features + f]! * y[j * features + f]!;
        gram[i * items + j] = s;
        gram[j * items + i] = s;
      }
    }
    singularValues = symmetricEigenvalues(gram, items)
      .map((lambda) => Math.sqrt(Math.max(0, lambda)) / items)
      .sort((a, b) => b - a);
  } else {
    // Jacobi is O(items³) per sweep (256 items take seconds); beyond 64 items the closed form stands in.
    singularValues = levels.flatMap((lv) => new Array<number>(lv.multiplicity).fill(lv.singularValue));
  }
  return { singularValues, levels };
}

/**
 * Eigenvalues of a symmetric n×n matrix (row-major; not modified) by the cyclic Jacobi method:
 * rotate away each off-diagonal entry in turn until the off-diagonal mass is negligible.
 */
export function symmetricEigenvalues(matrix: Float64Array, n: number): number[] {
  if (matrix.length !== n * n)
    throw new Error(`symmetricEigenvalues: expected ${n}·${n} entries, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i]! * a[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! * a[i * n + j]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        // Choose the rotation angle θ that zeroes a[p][q]: t = tan θ, the smaller root for stability.
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // Columns p and q.
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // Rows p and q.
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(a[i * n + i]!);
  return out;
}
