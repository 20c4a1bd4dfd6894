// How much memory a model system needs, counted from its config before anything is allocated, so
// that a model too large for the machine fails at once as a config error on the field that makes
// it large, instead of as an allocation error deep in tfjs (or after minutes of swapping).
// The limit and the estimate are documented in docs/experiments.md ("Size limits").
import { freemem, totalmem } from "node:os";
import type { ModelSpec, OptimizerSpec, RandomFeaturesSpec, SystemSpec, TaskData } from "../sdk/spec";
import type { ModelIO } from "./models/model";
import type { Location } from "../shared/trainerProtocol";
import { ConfigError } from "./errors";

/** The most a training may need, whatever the machine: these are small model systems. */
export const TRAINING_MEMORY_LIMIT = 2 * 1024 ** 3;
/** The share of the memory available now that a training may plan to use. */
export const AVAILABLE_MEMORY_SHARE = 0.75;
const FLOAT_BYTES = 4;

/** Trainable parameters of a built-in model for these inputs and outputs; undefined for a custom model (its code decides). */
export function parameterCount(model: ModelSpec, io: ModelIO): number | undefined {
  const out = io.output.kind === "classes" ? io.output.count : io.output.dim;
  const flatInput = io.input.kind === "features" ? io.input.dim : io.input.length * io.input.vocab;
  const chain = (widths: readonly number[], bias: boolean): number => {
    let n = 0;
    for (let i = 0; i + 1 < widths.length; i++) n += widths[i]! * widths[i + 1]! + (bias ? widths[i + 1]! : 0);
    return n;
  };
  switch (model.kind) {
    case "mlp": {
      if (io.input.kind === "tokens" && model.embed !== "onehot") {
        return io.input.vocab * model.embed + chain([io.input.length * model.embed, ...model.hidden, out], model.bias);
      }
      return chain([flatInput, ...model.hidden, out], model.bias);
    }
    case "deepLinear":
      return chain([flatInput, ...model.hidden, out], false);
    case "randomFeatures":
      return featureCount(model, io) * out;
    case "transformer": {
      const d = model.dModel;
      const block = 4 * d * d + 2 * d * model.dMlp + model.dMlp + d + (model.layerNorm ? 4 * d : 0);
      const lnf = model.layerNorm ? 2 * d : 0;
      if (io.input.kind === "features") {
        // A vector sequence (readout "everyPosition"): a linear read-in and a scalar readout.
        const seq = io.input.sequence;
        if (seq === undefined || model.readout !== "everyPosition") return undefined; // refused by the model itself
        return seq.tokenDim * d + seq.length * d + model.layers * block + lnf + d;
      }
      return io.input.vocab * d + io.input.length * d + model.layers * block + lnf + d * out;
    }
    case "custom":
      return undefined;
  }
}

/** Copies of the parameters alive while training: weights, gradients, optimizer slots, the checkpoint's download, the centring model. */
function parameterCopies(model: ModelSpec, optimizer: OptimizerSpec): number {
  const slots = optimizer.kind === "sgd" ? (optimizer.momentum > 0 ? 1 : 0) : 2;
  const centred = model.kind === "mlp" && model.centered ? 1 : 0;
  return 3 + slots + centred;
}

/** The config field that makes a model large, for the message. */
function sizeField(model: ModelSpec): string {
  switch (model.kind) {
    case "mlp":
    case "deepLinear":
      return "model.hidden";
    case "transformer":
      return "model.dModel";
    case "randomFeatures":
      return "model.features";
    case "custom":
      return "model";
  }
}

function widestLayer(model: ModelSpec, io: ModelIO): number {
  const flatInput = io.input.kind === "features" ? io.input.dim : io.input.length * io.input.vocab;
  if (model.kind === "mlp" || model.kind === "deepLinear") return Math.max(flatInput, ...model.hidden);
  if (model.kind === "transformer")
    return (
      (io.input.kind === "tokens" ? io.input.length : (io.input.sequence?.length ?? 1)) *
      Math.max(model.dModel, model.dMlp)
    );
  if (model.kind === "randomFeatures") return Math.max(flatInput, featureCount(model, io));
  return 0;
}

/** Width p of a random-features model. */
function featureCount(model: RandomFeaturesSpec, io: ModelIO): number {
  const flatInput = io.input.kind === "features" ? io.input.dim : io.input.length * io.input.vocab;
  return model.features === "inputs" ? flatInput : model.features;
}

/**
 * Bytes a model holds besides its parameters: a random-features model's fixed W [d, p] (float32) and,
 * with `normalize`, the float64 training features [n, p] its scale is computed from.
 */
function fixedBytes(model: ModelSpec, io: ModelIO, data: TaskData): number {
  if (model.kind !== "randomFeatures" || io.input.kind !== "features") return 0;
  const p = featureCount(model, io);
  return (
    (model.features === "inputs" ? 0 : io.input.dim * p * FLOAT_BYTES) + (model.normalize ? data.train.n * p * 8 : 0)
  );
}

export interface MemoryEstimate {
  parameters: number | undefined;
  bytes: number;
}

/** Bytes a training of `spec` needs: parameter copies, the data (as arrays and as tensors), one evaluation chunk's activations. */
export function estimateMemory(spec: SystemSpec, io: ModelIO, data: TaskData): MemoryEstimate {
  const parameters = parameterCount(spec.model, io);
  const dataBytes =
    2 * (data.train.x.byteLength + data.train.y.byteLength + data.test.x.byteLength + data.test.y.byteLength);
  const batch = Math.min(8192, Math.max(data.train.n, data.test.n));
  const activations = 3 * batch * widestLayer(spec.model, io) * FLOAT_BYTES;
  const bytes =
    (parameters ?? 0) * FLOAT_BYTES * parameterCopies(spec.model, spec.optimizer) +
    dataBytes +
    activations +
    fixedBytes(spec.model, io, data);
  return { parameters, bytes };
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.ceil(n / 1024)} KiB`;
}

/**
 * Throws a ConfigError on the field that makes the system large when its estimate exceeds
 * TRAINING_MEMORY_LIMIT or AVAILABLE_MEMORY_SHARE of the memory available now.
 */
export function checkMemory(
  system: { name: string; location?: Location | undefined },
  spec: SystemSpec,
  io: ModelIO,
  data: TaskData,
  available = { free: freemem(), total: totalmem() },
): void {
  const { parameters, bytes } = estimateMemory(spec, io, data);
  const budget = Math.min(TRAINING_MEMORY_LIMIT, AVAILABLE_MEMORY_SHARE * available.free);
  if (bytes <= budget) return;
  const limit =
    budget === TRAINING_MEMORY_LIMIT
      ? `the limit of ${formatBytes(TRAINING_MEMORY_LIMIT)} per training`
      : `${Math.round(AVAILABLE_MEMORY_SHARE * 100)}% of the ${formatBytes(available.free)} available now (of ${formatBytes(available.total)})`;
  const what = parameters === undefined ? "the data" : `${parameters.toLocaleString("en-US")} parameters`;
  const field = parameters === undefined ? "task" : sizeField(spec.model);
  const problem = {
    path: field,
    message: `too large: ${what} need about ${formatBytes(bytes)} to train, over ${limit}`,
  };
  throw new ConfigError(
    system.name,
    [system.location ? { ...problem, location: system.location } : problem],
    system.location,
  );
}
