// SGD (momentum, Nesterov), Adam and AdamW, with learning-rate schedules. Written out by hand
// rather than with tfjs's optimizers because tfjs has no decoupled weight decay, and because the
// state must be named tensors we can checkpoint and restore exactly (resume = uninterrupted run).
// Update rules follow PyTorch's torch.optim so runs compare one to one with reference scripts.
import * as tf from "@tensorflow/tfjs-core";
import type { OptimizerSpec, ScheduleSpec } from "../sdk/spec";
import type { NamedVariable } from "./models/model";

/** Learning rate for update number `t` (1-based: the t-th update of the run) of `total`. */
export function scheduledLr(base: number, s: ScheduleSpec, t: number, total: number): number {
  if (s.warmupSteps > 0 && t <= s.warmupSteps) return (base * t) / s.warmupSteps;
  if (s.decay === "constant") return base;
  const span = Math.max(1, total - s.warmupSteps);
  const progress = Math.min(1, Math.max(0, (t - s.warmupSteps) / span));
  const floor = base * s.minLrFraction;
  if (s.decay === "linear") return floor + (base - floor) * (1 - progress);
  return floor + ((base - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** Named optimizer state, as stored in checkpoints under `optimizer/<slot>/<param>`. */
export interface OptimizerSnapshot {
  /** Updates applied so far (Adam's bias correction depends on it). */
  t: number;
  slots: Array<{ name: string; tensor: tf.Tensor }>;
}

export class Optimizer {
  /** Updates applied so far. */
  t = 0;
  private readonly slots = new Map<string, tf.Variable>();

  constructor(
    readonly spec: OptimizerSpec,
    private readonly params: readonly NamedVariable[],
    private readonly totalSteps: number,
  ) {
    const slotNames = spec.kind === "sgd" ? (spec.momentum > 0 ? ["momentum"] : []) : ["m", "v"];
    for (const p of params) {
      for (const slot of slotNames) {
        this.slots.set(`${slot}/${p.name}`, tf.variable(tf.zerosLike(p.variable), false));
      }
    }
  }

  /** Learning rate the next update will use. */
  nextLr(): number {
    return scheduledLr(this.spec.lr, this.spec.schedule, this.t + 1, this.totalSteps);
  }

  /** Applies one update with gradients keyed by parameter name. Does not dispose `grads`. */
  apply(grads: ReadonlyMap<string, tf.Tensor>): void {
    const lr = this.nextLr();
    this.t += 1;
    const spec = this.spec;
    tf.tidy(() => {
      for (const p of this.params) {
        const g0 = grads.get(p.name);
        if (!g0) continue; // parameter not used by the loss
        const w = p.variable;
        if (spec.kind === "sgd") {
          let g: tf.Tensor = spec.weightDecay ? tf.add(g0, tf.mul(w, spec.weightDecay)) : g0;
          if (spec.momentum > 0) {
            const buf = this.slots.get(`momentum/${p.name}`)!;
            // PyTorch: buf = momentum·buf + g (dampening 0; zero-initialized buf gives buf = g first).
            buf.assign(tf.add(tf.mul(buf, spec.momentum), g));
            g = spec.nesterov ? tf.add(g, tf.mul(buf, spec.momentum)) : buf;
          }
          w.assign(tf.sub(w, tf.mul(g, lr)));
        } else {
          const [b1, b2] = spec.betas;
          const m = this.slots.get(`m/${p.name}`)!;
          const v = this.slots.get(`v/${p.name}`)!;
          let g = g0;
          if (spec.kind === "adam" && spec.weightDecay) g = tf.add(g, tf.mul(w, spec.weightDecay));
          m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
          v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
          const c1 = 1 - b1 ** this.t;
          const c2 = 1 - b2 ** this.t;
          // PyTorch: denom = sqrt(v)/sqrt(c2) + eps; step = lr/c1 · m/denom.
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(c2)), spec.eps);
          const decayed = spec.kind === "adamw" && spec.weightDecay ? tf.mul(w, 1 - lr * spec.weightDecay) : w;
          w.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / c1)));
        }
      }
    });
  }

  snapshot(): OptimizerSnapshot {
    return { t: this.t, slots: [...this.slots].map(([name, tensor]) => ({ name, tensor })) };
  }

  /** Restores state saved by `snapshot`; every slot must be present with the right shape. */
  restore(t: number, slots: ReadonlyMap<string, { shape: number[]; values: Float32Array }>): void {
    for (const [name, variable] of this.slots) {
      const saved = slots.get(name);
      if (!saved) throw new Error(`checkpoint has no optimizer state "${name}"`);
      if (saved.shape.join(",") !== variable.shape.join(",")) {
        throw new Error(`optimizer state "${name}" has shape [${saved.shape}], expected [${variable.shape}]`);
      }
      variable.assign(tf.tensor(saved.values, variable.shape, "float32"));
    }
    this.t = t;
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}
