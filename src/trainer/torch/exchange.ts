// What crosses to the worker and back, besides JSON: the resolved system as a `WorkerSystem`, the
// data and parameters in a safetensors file (`writeWorkerInputs`), and the parameters and optimizer
// state the worker hands back (`readWorkerCheckpoint`). Tensor names: WORKER_TENSORS.
import { writeFileSync } from "node:fs";
import type { ModelSpec, SystemSpec, TaskData } from "../../sdk/spec";
import type { InterventionChange } from "../../shared/interventionFormat";
import { encodeSafetensors, readSafetensorsSync, type TensorToEncode } from "../../shared/safetensors";
import {
  WORKER_MODEL_KINDS,
  WORKER_TENSORS,
  type WorkerModelSpec,
  type WorkerSystem,
} from "../../shared/workerProtocol";
import type { CheckpointData } from "../runFolder";

/** A parameter's values in row-major order ([in, out] for weight matrices, as in checkpoints). */
export interface ParamValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** A system the worker cannot run (a custom tfjs model), with what to do instead. */
export class TorchUnsupportedError extends Error {}

function isWorkerModel(m: ModelSpec): m is WorkerModelSpec {
  return (WORKER_MODEL_KINDS as readonly string[]).includes(m.kind);
}

/**
 * Why the torch backend cannot train this model (a custom tfjs model), naming the system and the
 * backends that can; undefined for a built-in model. Takes the unvalidated input too (`auto`
 * decides before validation), so anything that is not a built-in model kind counts as custom.
 */
export function torchUnsupportedReason(systemName: string, model: unknown): string | undefined {
  const kind = typeof model === "object" && model !== null && "kind" in model ? model.kind : undefined;
  if (typeof kind === "string" && (WORKER_MODEL_KINDS as readonly string[]).includes(kind)) return undefined;
  if (kind === "randomFeatures")
    return `system "${systemName}": the randomFeatures model runs on the tfjs backends only; train it with --backend wasm, cpu, native or gpu (the torch backend runs the built-in models mlp, transformer and deepLinear)`;
  const named =
    typeof model === "object" && model !== null && "name" in model && typeof model.name === "string"
      ? ` "${model.name}"`
      : "";
  return `system "${systemName}": its custom model${named} is tfjs code, which the torch backend cannot run; train it with --backend wasm, cpu, native or gpu (the torch backend runs the built-in models mlp, transformer and deepLinear)`;
}

/** The worker's view of a resolved system; a custom model is refused naming the system. */
export function workerSystem(
  systemName: string,
  spec: SystemSpec,
  data: TaskData,
  params: readonly ParamValues[],
  /** An intervention branch's change: its examples are weighted in the worker's loss. */
  intervention?: InterventionChange,
): WorkerSystem {
  const model = spec.model;
  if (!isWorkerModel(model))
    throw new TorchUnsupportedError(
      torchUnsupportedReason(systemName, model) ?? `system "${systemName}": not a built-in model`,
    );
  const task = spec.task;
  const fresh =
    task.kind === "inContextRegression" && task.trainSequences === undefined
      ? {
          freshSequences: {
            dim: task.dim,
            points: task.points,
            noise: task.noise,
            ...(task.tasks !== undefined ? { tasks: task.tasks } : {}),
            dataSeed: task.dataSeed,
          },
        }
      : {};
  return {
    ...fresh,
    ...(intervention ? { exampleWeights: { action: intervention.action, examples: [...intervention.examples] } } : {}),
    model,
    optimizer: spec.optimizer,
    input: data.input,
    output: data.output,
    steps: spec.steps,
    batchSize: spec.batchSize,
    evalEvery: spec.evalEvery,
    checkpointEvery: spec.checkpointEvery,
    seed: spec.seed,
    params: params.map((p) => ({ name: p.name, shape: [...p.shape] })),
  };
}

export interface WorkerInputs {
  data: TaskData;
  /** Parameters to start from: step 0, or the checkpoint a resumed run continues from. */
  params: readonly ParamValues[];
  /** The step-0 parameters when a centred model resumes (the worker recomputes f(w₀, x) from them). */
  init?: readonly ParamValues[];
  /** Optimizer state `<slot>/<param>` of a resumed run. */
  optimizer?: ReadonlyMap<string, { shape: number[]; values: Float32Array }>;
  /** Weight masks by parameter (0/1; a lottery ticket, src/trainer/masks.ts); absent: dense. */
  masks?: ReadonlyMap<string, { shape: number[]; values: Float32Array }>;
}

/** Writes the tensors file named in `start`; returns its size in bytes. */
export function writeWorkerInputs(path: string, inputs: WorkerInputs): number {
  const { data } = inputs;
  const tensors: TensorToEncode[] = [];
  for (const which of ["train", "test"] as const) {
    const s = data[which];
    const xShape = data.input.kind === "tokens" ? [s.n, data.input.length] : [s.n, data.input.dim];
    const yShape = data.output.kind === "classes" ? [s.n] : [s.n, data.output.dim];
    tensors.push({
      name: `${WORKER_TENSORS.data}${which}.x`,
      dtype: s.x instanceof Int32Array ? "I32" : "F32",
      shape: xShape,
      data: s.x,
    });
    tensors.push({
      name: `${WORKER_TENSORS.data}${which}.y`,
      dtype: s.y instanceof Int32Array ? "I32" : "F32",
      shape: yShape,
      data: s.y,
    });
  }
  for (const p of inputs.params)
    tensors.push({ name: WORKER_TENSORS.param + p.name, dtype: "F32", shape: p.shape, data: p.values });
  for (const p of inputs.init ?? [])
    tensors.push({ name: WORKER_TENSORS.init + p.name, dtype: "F32", shape: p.shape, data: p.values });
  for (const [name, t] of inputs.optimizer ?? [])
    tensors.push({ name: WORKER_TENSORS.optimizer + name, dtype: "F32", shape: t.shape, data: t.values });
  for (const [name, m] of inputs.masks ?? [])
    tensors.push({ name: WORKER_TENSORS.mask + name, dtype: "F32", shape: m.shape, data: m.values });
  const buf = encodeSafetensors(tensors);
  writeFileSync(path, buf);
  return buf.length;
}

/** Reads a checkpoint handed back by the worker into the shape of a run checkpoint. */
export function readWorkerCheckpoint(file: string): CheckpointData {
  const decoded = readSafetensorsSync(file);
  const params = new Map<string, { shape: number[]; values: Float32Array }>();
  const optimizer = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const t of decoded.tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${file}: tensor "${t.name}" is ${t.dtype}, expected F32`);
    if (t.name.startsWith(WORKER_TENSORS.param))
      params.set(t.name.slice(WORKER_TENSORS.param.length), { shape: t.shape, values: t.data });
    else if (t.name.startsWith(WORKER_TENSORS.optimizer))
      optimizer.set(t.name.slice(WORKER_TENSORS.optimizer.length), { shape: t.shape, values: t.data });
    else throw new Error(`${file}: unexpected tensor "${t.name}"`);
  }
  const step = Number(decoded.metadata["step"]);
  const optimizerT = Number(decoded.metadata["optimizer_t"]);
  if (!Number.isInteger(step) || !Number.isInteger(optimizerT))
    throw new Error(`${file}: metadata needs integer "step" and "optimizer_t"`);
  return { step, params, optimizer, optimizerT };
}
