// One line describing a resolved system, for `lm list`, run.json and the code lenses.
import type { SystemSpec } from "../spec";

/** A number as people write it in configs: 1e-3, 3e-4, 0.1, 20000. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return "0";
  const a = Math.abs(n);
  if (a < 0.01 || a >= 1e6) return Number(n.toPrecision(6)).toExponential().replace("e+", "e");
  return String(Number(n.toPrecision(6)));
}

function percent(f: number): string {
  return `${formatNumber(Math.round(f * 1000) / 10)}%`;
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function describeTask(t: SystemSpec["task"]): string {
  switch (t.kind) {
    case "modularArithmetic":
      return `modularArithmetic p=${t.p} ${t.op} ${percent(t.trainFraction)}${t.equalsToken ? " [a,b,=]" : ""}`;
    case "sparseParity":
      return `sparseParity bits=${t.bits} k=${t.k} n=${t.trainSize}`;
    case "teacherStudent":
      return `teacherStudent d=${t.dim} ${t.teacher === "linear" ? "linear" : `singleIndex ${t.link}`} n=${t.trainSize}${t.noise > 0 ? ` noise=${formatNumber(t.noise)}` : ""}`;
    case "hierarchical":
      return `hierarchical depth=${t.depth} branching=${t.branching}${t.featureNoise > 0 ? ` noise=${formatNumber(t.featureNoise)}` : ""}`;
    case "inContextRegression":
      return `inContextRegression d=${t.dim} points=${t.points}${t.noise > 0 ? ` noise=${formatNumber(t.noise)}` : ""}${t.tasks !== undefined ? ` tasks=${t.tasks}` : ""}${t.trainSequences !== undefined ? ` n=${t.trainSequences}` : " fresh"}`;
    case "file":
      return `file ${basename(t.train)} ${t.targets}`;
    case "custom":
      return `custom task ${t.name}`;
  }
}

function describeModel(m: SystemSpec["model"]): string {
  const init = (s: number): string => (s !== 1 ? ` init×${formatNumber(s)}` : "");
  switch (m.kind) {
    case "mlp": {
      const embed = m.embed === "onehot" ? "onehot" : `embed=${m.embed}`;
      const alpha = m.alpha !== 1 ? ` α=${formatNumber(m.alpha)}` : "";
      const centered = m.centered !== (m.alpha !== 1) ? (m.centered ? " centered" : " uncentered") : "";
      return `mlp ${embed} [${m.hidden.join(",")}] ${m.activation}${init(m.initScale)}${alpha}${centered}${m.bias ? "" : " no-bias"}`;
    }
    case "transformer":
      return `transformer ${m.layers}L d=${m.dModel} h=${m.heads} mlp=${m.dMlp} ${m.activation}${m.layerNorm ? " LN" : ""}${init(m.initScale)}${m.readout === "everyPosition" ? " every-position" : ""}`;
    case "deepLinear":
      return `deepLinear [${m.hidden.join(",")}] init=${formatNumber(m.initScale)}`;
    case "randomFeatures":
      return `randomFeatures p=${m.features} ${m.activation}${m.normalize ? "" : " unnormalized"}`;
    case "custom":
      return `custom model ${m.name}`;
  }
}

function describeOptimizer(o: SystemSpec["optimizer"]): string {
  let s = `${o.kind} lr=${formatNumber(o.lr)}`;
  if (o.kind === "sgd" && o.momentum > 0) s += ` momentum=${formatNumber(o.momentum)}${o.nesterov ? " nesterov" : ""}`;
  if (o.weightDecay > 0) s += ` wd=${formatNumber(o.weightDecay)}`;
  if (o.schedule.warmupSteps > 0) s += ` warmup=${o.schedule.warmupSteps}`;
  if (o.schedule.decay !== "constant")
    s += ` ${o.schedule.decay}${o.schedule.minLrFraction > 0 ? `→${formatNumber(o.schedule.minLrFraction)}` : ""}`;
  return s;
}

/**
 * One line describing a resolved system, e.g.
 * `modularArithmetic p=97 add 30% · mlp onehot [256] relu · adamw lr=1e-3 wd=1 · 20000 steps full-batch`.
 */
export function describeSystem(spec: SystemSpec): string {
  const batch = spec.batchSize === "full" ? "full-batch" : `batch=${spec.batchSize}`;
  return [
    describeTask(spec.task),
    describeModel(spec.model),
    describeOptimizer(spec.optimizer),
    `${spec.steps} steps ${batch}`,
  ].join(" · ");
}
