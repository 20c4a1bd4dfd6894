// One training run on the PyTorch worker, as the trainer sees it: the inputs written to an
// exchange folder, the worker spawned and started, a stop request passed on, and its events turned
// into calls on a `WorkerRunSink` (which writes the run folder: train.ts). The exchange folder and
// the process are gone when this returns or throws.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SystemSpec, TaskData } from "../../sdk/spec";
import type { InterventionChange } from "../../shared/interventionFormat";
import type { WorkerErrorKind } from "../../shared/workerProtocol";
import type { CheckpointData } from "../runFolder";
import { type ParamValues, readWorkerCheckpoint, workerSystem, writeWorkerInputs } from "./exchange";
import { TorchWorker } from "./worker";

export interface WorkerRunSink {
  ready(device: string, deviceName: string, threads: number): void;
  metrics(step: number, values: Record<string, number | null>): void;
  /** A checkpoint handed back; the returned promise settles once it is written (a throw ends the run). */
  checkpoint(step: number, data: CheckpointData): Promise<void>;
  progress(step: number, loss: number, stepsPerSecond: number): void;
  log(level: "info" | "warn" | "error", message: string): void;
}

export type WorkerRunEnd =
  | { status: "finished" | "stopped"; step: number }
  | { status: "diverged"; step: number; reason: string };

export interface WorkerRunStart {
  python: string;
  device: string;
  threads?: number | undefined;
  systemName: string;
  spec: SystemSpec;
  data: TaskData;
  /** The parameters to start from (step 0, or the checkpoint a resume continues from). */
  params: readonly ParamValues[];
  /** Step-0 parameters, for a centred model that resumes. */
  init?: readonly ParamValues[] | undefined;
  optimizer?: ReadonlyMap<string, { shape: number[]; values: Float32Array }> | undefined;
  /** Weight masks (a lottery ticket): the worker keeps the masked weights exactly zero. */
  masks?: ReadonlyMap<string, { shape: number[]; values: Float32Array }> | undefined;
  fromStep: number;
  optimizerT: number;
  /** An intervention branch's change (per-example loss weights in the worker). */
  intervention?: InterventionChange | undefined;
}

/** The worker said it cannot go on (kind as in the worker protocol). */
export class WorkerRunError extends Error {
  constructor(
    readonly kind: WorkerErrorKind | "crash",
    message: string,
  ) {
    super(message);
  }
}

/** How often a stop request is looked for while the worker trains (ms). */
const STOP_POLL_MS = 50;

export async function runOnWorker(
  start: WorkerRunStart,
  sink: WorkerRunSink,
  shouldStop: () => boolean,
): Promise<WorkerRunEnd> {
  // Refused before anything is spawned: a custom model names the system and the backends that run it.
  const system = workerSystem(start.systemName, start.spec, start.data, start.params, start.intervention);
  const exchangeDir = mkdtempSync(join(tmpdir(), "lm-torch-"));
  let worker: TorchWorker | undefined;
  let poll: NodeJS.Timeout | undefined;
  try {
    const tensorsFile = join(exchangeDir, "inputs.safetensors");
    writeWorkerInputs(tensorsFile, {
      data: start.data,
      params: start.params,
      ...(start.init ? { init: start.init } : {}),
      ...(start.optimizer ? { optimizer: start.optimizer } : {}),
      ...(start.masks ? { masks: start.masks } : {}),
    });
    // Polled from now on, while Python starts (importing torch takes seconds on a loaded machine):
    // asking is what acknowledges a stop to the job host (worker.ts), whose grace is 3 s. A stop
    // asked before `start` is sent right behind it.
    let stopWanted = false;
    let stopSent = false;
    let started: TorchWorker | undefined;
    const passStop = () => {
      if (!stopWanted && shouldStop()) stopWanted = true;
      if (stopWanted && !stopSent && started) {
        stopSent = true;
        started.stop();
      }
    };
    poll = setInterval(passStop, STOP_POLL_MS);
    worker = await TorchWorker.spawn({ python: start.python });
    const w = worker;
    w.start({
      system,
      tensorsFile,
      exchangeDir,
      device: start.device,
      ...(start.threads !== undefined ? { threads: start.threads } : {}),
      fromStep: start.fromStep,
      optimizerT: start.optimizerT,
    });
    started = w;
    // A stop asked for while Python started is sent at once, right behind `start`: the worker then
    // stops after its first step (with step 0 recorded), however fast its steps are.
    passStop();
    for await (const e of w) {
      switch (e.type) {
        case "ready":
          sink.ready(e.device, e.deviceName, e.threads);
          break;
        case "progress":
          sink.progress(e.step, e.loss, e.stepsPerSecond);
          break;
        case "metrics":
          sink.metrics(e.step, e.values);
          break;
        case "checkpoint": {
          const data = readWorkerCheckpoint(e.file);
          rmSync(e.file, { force: true });
          await sink.checkpoint(e.step, data);
          break;
        }
        case "log":
          sink.log(e.level, `PyTorch worker: ${e.message}`);
          break;
        case "diverged":
          return { status: "diverged", step: e.step, reason: e.reason };
        case "finished":
          return { status: e.status, step: e.step };
        case "error":
          throw new WorkerRunError(e.kind, `the PyTorch worker: ${e.message}`);
        case "hello":
          break;
      }
    }
    const exit = await w.exited;
    const how = exit.signal ?? `code ${String(exit.code)}`;
    throw new WorkerRunError(
      "crash",
      `the PyTorch worker (${start.python}) exited (${how}) before the run ended${exit.stderrTail ? `:\n${exit.stderrTail}` : ""}`,
    );
  } finally {
    if (poll) clearInterval(poll);
    worker?.dispose();
    rmSync(exchangeDir, { recursive: true, force: true });
  }
}
