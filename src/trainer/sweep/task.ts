// `lm sweep-task SWEEP_DIR INDEX`: one point of a sweep, trained into its run folder
// (SWEEP_DIR/<sweepRunName(INDEX)>). What a local launcher's child and a Slurm array task run.
// A point already finished (or diverged) is left alone; one with checkpoints is resumed from the
// last; one whose run never reached a checkpoint is started again. The point's status in
// sweep.json follows: "running" while it trains, then what its run.json says.
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunSweepPoint } from "../../shared/runFormat";
import { pidAlive } from "../../shared/runLock";
import type { SweepPointStatus } from "../../shared/sweepFormat";
import { UsageError } from "../errors";
import { RunFolder } from "../runFolder";
import type { RunRequest } from "../session";
import { loadSweep, runState, setPointStatus, statusFromRun, sweepPoint } from "./folder";

/** The tfjs or torch backend a task trains on (as `lm train`'s options). */
export interface TaskBackend {
  backend?: string;
  device?: string;
  python?: string;
  threads?: number;
}

export type SweepTask =
  /** Nothing to do: the point's run already ended so. */
  | { kind: "done"; runDir: string; status: "finished" | "diverged"; step: number }
  | { kind: "run"; runDir: string; request: RunRequest; resumed: boolean };

/**
 * Decides what point `index` of the sweep in `dir` needs, clears a run that never reached a
 * checkpoint, and marks the point "running" when it is to train. Throws UsageError for a folder
 * that is not a sweep, an index out of range, a run another live process is training.
 */
export function prepareSweepTask(dir: string, index: number, backend: TaskBackend = {}): SweepTask {
  const sweepDir = resolve(dir);
  const manifest = loadSweep(sweepDir);
  if (manifest.imp) throw new UsageError(`${sweepDir} is an IMP folder: lm imp --resume ${sweepDir} continues it`, 1);
  const point = sweepPoint(manifest, index, sweepDir);
  const runDir = join(sweepDir, point.run);
  const state = runState(sweepDir, point);
  if (state.kind === "run") {
    if (state.status === "finished" || state.status === "diverged") {
      setPointStatus(sweepDir, [index], state.status);
      return { kind: "done", runDir, status: state.status, step: state.step };
    }
    if (state.status === "running" && state.pid !== undefined && state.pid !== process.pid && pidAlive(state.pid))
      throw new UsageError(`sweep point ${index} is being trained by pid ${state.pid} (${runDir})`, 1);
  }
  const folder = new RunFolder(runDir);
  let resumed = false;
  if (state.kind !== "absent") {
    if (state.kind === "run" && folder.checkpointSteps().length > 0) resumed = true;
    // Nothing to resume from (no checkpoint, or a run.json that cannot be read): start it again.
    // Only ever a folder of this sweep, named by it (sweepFormat checks run names are plain).
    else rmSync(runDir, { recursive: true, force: true });
  }
  const choice = {
    ...(backend.backend !== undefined ? { backend: backend.backend } : {}),
    ...(backend.device !== undefined ? { device: backend.device } : {}),
    ...(backend.python !== undefined ? { python: backend.python } : {}),
    ...(backend.threads !== undefined ? { threads: backend.threads } : {}),
  };
  const sweepPointField: RunSweepPoint = { dir: "..", index, values: point.values, seed: point.seed };
  const iv = manifest.intervention;
  const request: RunRequest = resumed
    ? { kind: "resume", runDir, ...choice }
    : iv
      ? {
          // A calibration sweep's point: a branch of the parent without one random subset (lm calibrate).
          kind: "branch",
          parentDir: iv.parent,
          step: iv.step,
          runDir,
          intervention: {
            kind: "intervention",
            action: { kind: "remove" },
            examples: iv.subsets[index] ?? [],
            selection: { kind: "random", fraction: iv.fraction, seed: iv.seed, subset: index },
          },
          ...(manifest.steps === undefined ? {} : { steps: manifest.steps }),
          ...choice,
        }
      : {
          kind: "train",
          file: manifest.experiment,
          system: manifest.system,
          runDir,
          sweepPoint: sweepPointField,
          ...(manifest.steps === undefined ? {} : { steps: manifest.steps }),
          ...choice,
        };
  setPointStatus(sweepDir, [index], "running");
  return { kind: "run", runDir, request, resumed };
}

/**
 * After the task's training ended (or failed before it began): the point's status from its
 * run.json, "failed" when the run never started. Returns the status written.
 */
export function finishSweepTask(dir: string, index: number): SweepPointStatus {
  const sweepDir = resolve(dir);
  const point = sweepPoint(loadSweep(sweepDir), index, sweepDir);
  const state = runState(sweepDir, point);
  // This process is ending: a run.json still "running" under our pid was cut short.
  const status =
    state.kind === "run" && state.status === "running" && state.pid === process.pid
      ? "failed"
      : (statusFromRun(state) ?? "failed");
  setPointStatus(sweepDir, [index], status);
  return status;
}
