// Binary weight masks (lottery tickets, docs/lottery-tickets.md): a run may carry one mask per
// parameter tensor in `mask.safetensors` in its run folder, fixed for the run's whole life. A
// masked weight is zero from the first step on and stays exactly zero: its gradient is zeroed
// before every update (so Adam's moments and SGD's momentum, zero for it, stay zero and cannot
// revive it) and the mask is applied to the weights after every update and to the optimizer's
// state at every restore (a branch from a dense checkpoint carries moments for pruned weights).
// A parameter without a mask tensor is dense.
import * as tf from "@tensorflow/tfjs-core";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../shared/atomicFile";
import { encodeSafetensors, readSafetensorsSync, SafetensorsError } from "../shared/safetensors";
import { UsageError } from "./errors";
import type { NamedVariable } from "./models/model";
import type { OptimizerSnapshot } from "./optimizers";

export const MASK_FILE = "mask.safetensors";
export const MASK_FORMAT = "learning-mechanics/mask";

/** One parameter's mask: 1 keeps the weight, 0 prunes it. */
export interface MaskTensor {
  shape: number[];
  values: Float32Array;
}
/** Masks by parameter name (only the parameters that are pruned). */
export type MaskSet = Map<string, MaskTensor>;

/** The mask file of a run folder. */
export function maskPath(runDir: string): string {
  return join(runDir, MASK_FILE);
}

/** Weights kept and weights masked over the tensors of a mask set. */
export function maskCounts(masks: MaskSet): { kept: number; total: number } {
  let kept = 0;
  let total = 0;
  for (const m of masks.values()) {
    total += m.values.length;
    for (const v of m.values) kept += v;
  }
  return { kept, total };
}

/** Writes a mask set (F32 0/1 tensors named by parameter), atomically. */
export function writeMaskFile(path: string, masks: MaskSet, metadata: Record<string, string> = {}): void {
  const { kept, total } = maskCounts(masks);
  const buf = encodeSafetensors(
    [...masks].map(([name, m]) => ({ name, dtype: "F32" as const, shape: [...m.shape], data: m.values })),
    { format: MASK_FORMAT, kept: String(kept), total: String(total), ...metadata },
  );
  writeFileAtomicSync(path, buf);
}

/** Reads a mask file; a value other than 0 or 1 is refused with the tensor and the index. */
export function readMaskFile(path: string): MaskSet {
  const decoded = readSafetensorsSync(path);
  const masks: MaskSet = new Map();
  for (const t of decoded.tensors) {
    // A copy: the mask outlives the file's buffer.
    const values = Float32Array.from(t.data as ArrayLike<number>);
    const bad = values.findIndex((v) => v !== 0 && v !== 1);
    if (bad >= 0)
      throw new SafetensorsError(`mask "${t.name}" holds ${values[bad]} at index ${bad}: a mask is 0 or 1`, path);
    masks.set(t.name, { shape: t.shape, values });
  }
  return masks;
}

/** A mask set checked against a model's parameters: every mask names a parameter of the same shape. */
export function checkMasks(masks: MaskSet, params: readonly NamedVariable[], path: string): void {
  for (const [name, m] of masks) {
    const p = params.find((q) => q.name === name);
    if (!p)
      throw new UsageError(
        `${path}: mask "${name}" names no parameter of this model (it has: ${params.map((q) => q.name).join(", ")})`,
        1,
      );
    if (m.shape.join(",") !== p.variable.shape.join(","))
      throw new UsageError(
        `${path}: mask "${name}" has shape [${m.shape}], the parameter has [${p.variable.shape}]`,
        1,
      );
  }
}

/** A mask set on the backend: what the training loop calls around each update. */
export class AppliedMasks {
  private readonly tensors = new Map<string, tf.Tensor>();

  constructor(
    /** The 0/1 values, as read (the torch backend hands them to its worker). */
    readonly masks: MaskSet,
    private readonly params: readonly NamedVariable[],
  ) {
    for (const [name, m] of masks) this.tensors.set(name, tf.tensor(m.values, m.shape, "float32"));
  }

  /** Zeroes the masked weights. */
  maskParams(): void {
    tf.tidy(() => {
      for (const p of this.params) {
        const m = this.tensors.get(p.name);
        if (m) p.variable.assign(tf.mul(p.variable, m));
      }
    });
  }

  /** Zeroes the masked entries of the optimizer's slots (`m/<param>`, `v/<param>`, `momentum/<param>`). */
  maskSlots(snapshot: OptimizerSnapshot): void {
    tf.tidy(() => {
      for (const s of snapshot.slots) {
        const m = this.tensors.get(s.name.slice(s.name.indexOf("/") + 1));
        if (m && s.tensor instanceof tf.Variable) s.tensor.assign(tf.mul(s.tensor, m));
      }
    });
  }

  /** The gradients with the masked entries zeroed (new tensors, in the caller's tidy scope). */
  maskGrads(grads: ReadonlyMap<string, tf.Tensor>): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, g] of grads) {
      const m = this.tensors.get(name);
      out.set(name, m ? tf.mul(g, m) : g);
    }
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/**
 * The masks a run trains with, and the file they were read from: a resumed run's own
 * mask.safetensors; for a new run or a branch the file given (`--mask`), else a branch's parent's.
 * Undefined: a dense run. Every backend applies them (on torch, the PyTorch worker: worker.py).
 */
export function runMasks(
  req: { runDir: string; mask?: string; branch?: { parentDir: string } },
  resumed: boolean,
): { path: string; masks: MaskSet } | undefined {
  const own = maskPath(req.runDir);
  const inherited = req.branch ? maskPath(req.branch.parentDir) : undefined;
  const path = resumed
    ? existsSync(own)
      ? own
      : undefined
    : (req.mask ?? (inherited !== undefined && existsSync(inherited) ? inherited : undefined));
  if (path === undefined) return undefined;
  if (!existsSync(path)) throw new UsageError(`mask file ${path} does not exist`, 1);
  return { path, masks: readMaskFile(path) };
}
