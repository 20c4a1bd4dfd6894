// The TypeScript trainer ↔ PyTorch worker boundary (`python -m learning_mechanics.worker`): JSON
// lines over stdio, mirrored by python/learning_mechanics/protocol.py (a test compares the two).
// Tensors never travel as JSON: the trainer writes data, step-0 parameters and optimizer state to a
// safetensors file and names it in `start`; the worker hands parameters back in safetensors files
// it writes into `exchangeDir`. The trainer stays the one writer of the run folder.
// Prose, sequence and tensor names: docs/worker-protocol.md. Bump WORKER_PROTOCOL_VERSION on any
// incompatible change; `hello` carries it and the client refuses a mismatch.

import type { DeepLinearSpec, InputKind, MlpSpec, OptimizerSpec, OutputKind, TransformerSpec } from "../sdk/spec";
import type { InterventionAction } from "./interventionFormat";

// 2: `mask/<param>` tensors (lottery tickets), per-example loss weights, the every-position
// transformer. A version-1 worker would ignore the masks and train a dense model: refused instead.
export const WORKER_PROTOCOL_VERSION = 2;

/** The models the worker implements (custom tfjs models run on the tfjs backends only). */
export type WorkerModelSpec = MlpSpec | TransformerSpec | DeepLinearSpec;
export const WORKER_MODEL_KINDS: readonly WorkerModelSpec["kind"][] = ["mlp", "transformer", "deepLinear"];

/** Everything the worker needs besides tensors: the resolved system, its shapes and its parameters. */
export interface WorkerSystem {
  model: WorkerModelSpec;
  optimizer: OptimizerSpec;
  input: InputKind;
  output: OutputKind;
  /** Total updates of the run. */
  steps: number;
  batchSize: "full" | number;
  evalEvery: number;
  checkpointEvery: number;
  /** The minibatch order is derived from it (src/trainer/batches.ts, python/learning_mechanics/batches.py). */
  seed: number;
  /** Every parameter in creation order; the worker checks its model has exactly these. */
  params: Array<{ name: string; shape: number[] }>;
  /**
   * Fresh training sequences every step (tasks.inContextRegression without `trainSequences`): the
   * worker draws update t's batch from (seed, t) with the generator of src/sdk/rng.ts, as
   * src/trainer/tasks/inContextRegression.ts does (python/learning_mechanics/batches.py).
   */
  freshSequences?: { dim: number; points: number; noise: number; tasks?: number; dataSeed: number };
  /**
   * An intervention branch (docs/interventions.md): the chosen training rows and what happens to
   * them, applied as per-example loss weights with the minibatch divisor unchanged
   * (src/trainer/intervention.ts, python/learning_mechanics/intervention.py).
   */
  exampleWeights?: { action: InterventionAction; examples: number[] };
}

/** Devices the worker accepts: "cpu", "cuda", "cuda:N", "mps". */
export type WorkerDevice = string;

/** Why the worker could not do what it was asked. */
export type WorkerErrorKind = "device" | "spec" | "data" | "protocol" | "io" | "internal";

/** Trainer → worker. */
export type WorkerRequest =
  /** Train: load `tensorsFile`, continue from `fromStep` (0: a new run) with `optimizerT` updates applied. */
  | {
      type: "start";
      protocol: number;
      system: WorkerSystem;
      tensorsFile: string;
      exchangeDir: string;
      device: WorkerDevice;
      /** torch.set_num_threads; absent: PyTorch's default. */
      threads?: number;
      fromStep: number;
      optimizerT: number;
    }
  /** Finish the current step, evaluate, hand back a checkpoint, report `finished` "stopped", exit. */
  | { type: "stop" };

/** Worker → trainer. */
export type WorkerEvent =
  /** First line: the worker runs and speaks this protocol; what PyTorch it has. */
  | { type: "hello"; protocol: number; pid: number; python: string; torch: string; cuda: boolean; devices: string[] }
  /** `start` was accepted: data and parameters are on `device`. */
  | { type: "ready"; device: string; deviceName: string; threads: number; fromStep: number }
  /** Throttled (about 5 per second): the latest step, its training loss and the rate. */
  | { type: "progress"; step: number; loss: number; stepsPerSecond: number }
  /** An evaluation at `step` (non-finite values as null). */
  | { type: "metrics"; step: number; values: Record<string, number | null> }
  /** Parameters and optimizer state at `step` in `file` (in exchangeDir; the trainer reads and deletes it). */
  | { type: "checkpoint"; step: number; file: string; optimizerT: number }
  /** Training stopped: the loss or the weights became non-finite at `step`. The worker exits after it. */
  | { type: "diverged"; step: number; reason: string }
  /** Training ended at `step`; the worker exits after this line. */
  | { type: "finished"; status: "finished" | "stopped"; step: number }
  /** Free text for the trainer's log. */
  | { type: "log"; level: "info" | "warn" | "error"; message: string }
  /** The worker cannot go on; it exits after this line. */
  | { type: "error"; kind: WorkerErrorKind; message: string };

export const WORKER_EVENT_TYPES: readonly WorkerEvent["type"][] = [
  "hello",
  "ready",
  "progress",
  "metrics",
  "checkpoint",
  "diverged",
  "finished",
  "log",
  "error",
];
export const WORKER_REQUEST_TYPES: readonly WorkerRequest["type"][] = ["start", "stop"];

/** Tensor names in the files both sides exchange (docs/worker-protocol.md). */
export const WORKER_TENSORS = {
  /** Data: `data/train.x`, `data/train.y`, `data/test.x`, `data/test.y`. */
  data: "data/",
  /** Parameters to start from (in `start`), or reached (in `checkpoint`). */
  param: "param/",
  /** The step-0 parameters, when a centred model resumes (f(w₀, x) is recomputed from them). */
  init: "init/",
  /** Optimizer state `optimizer/<slot>/<param>`, as in run checkpoints. */
  optimizer: "optimizer/",
  /** Weight masks `mask/<param>` (0/1, the parameter's shape; a parameter without one is dense): src/trainer/masks.ts. */
  mask: "mask/",
} as const;

export function encodeWorkerMessage(message: WorkerRequest | WorkerEvent): string {
  return `${JSON.stringify(message)}\n`;
}

/** Parses one line of the worker's stdout; undefined when it is not a worker event. */
export function parseWorkerEvent(line: string): WorkerEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || !("type" in value)) return undefined;
  const type = value.type;
  return typeof type === "string" && (WORKER_EVENT_TYPES as readonly string[]).includes(type)
    ? (value as WorkerEvent)
    : undefined;
}
