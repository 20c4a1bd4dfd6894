// The sweep folder (docs/sweeps.md): `<runs root>/<system>-sweep-<YYYYMMDD-HHMMSS>/` with
// sweep.json and one run folder per point. What every launcher shares (local.ts, slurm.ts) and
// `lm sweep-task` uses: create or load the folder and its manifest, change point statuses under
// the folder's lock, and list the points still to run.
//
// sweep.json is rewritten atomically (src/shared/atomicFile.ts) under `<sweep>/.lock`, taken with
// the run lock's protocol (src/shared/runLock.ts): several `lm sweep-task` processes and the
// launcher update it at once, each a read-modify-write of a moment. A point's own run.json stays
// the truth for how its training ended; `reconcile` brings sweep.json in line with it.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SweepPlan } from "../../sdk/sweep";
import { writeFileAtomicSync } from "../../shared/atomicFile";
import { readManifestSync } from "../../shared/manifestFile";
import type { RunStatus } from "../../shared/runFormat";
import { acquireRunLock, pidAlive, RunLockedError } from "../../shared/runLock";
import { FileRefusedError, readRegularTextSync } from "../../shared/safeRead";
import {
  parseSweepManifest,
  SWEEP_FORMAT,
  SWEEP_FORMAT_VERSION,
  SWEEP_MANIFEST,
  type SweepLauncher,
  type SweepIntervention,
  type SweepManifest,
  type SweepPoint,
  type SweepPointStatus,
  sweepRunName,
} from "../../shared/sweepFormat";
import { UsageError } from "../errors";

/** The sweep folder's lock file (the same protocol as a run's `.lock`). */
export const SWEEP_LOCK = ".lock";
/** sweep.json of 10,000 points with a few fields is about 2 MB; this bounds what is read. */
export const SWEEP_MANIFEST_BYTES = 32 << 20;
/** How long a writer waits for another to release the sweep folder's lock (each holds it for a moment). */
const LOCK_WAIT_MS = 30_000;

/** `<system>-sweep-20261203-101500` (UTC). */
export function sweepDirName(system: string, now: Date = new Date()): string {
  const t = now.toISOString();
  return `${system}-sweep-${t.slice(0, 10).replace(/-/g, "")}-${t.slice(11, 19).replace(/:/g, "")}`;
}

export interface NewSweep {
  /** The folder the sweep folder is created in (the runs root). */
  runsRoot: string;
  /** The experiment file, absolute. */
  experiment: string;
  system: string;
  plan: SweepPlan;
  launcher: SweepLauncher;
  /** `lm sweep --steps N`: every point's training length (a swept `steps` wins). */
  steps?: number;
  /** A calibration sweep (`lm calibrate`): each point is a branch without one subset. */
  intervention?: SweepIntervention;
}

/**
 * Creates the sweep folder (a fresh name: a second sweep started in the same second gets "-2")
 * and its sweep.json, every point "pending". Returns the folder (absolute) and the manifest.
 */
export function createSweepFolder(sweep: NewSweep): { dir: string; manifest: SweepManifest } {
  const root = resolve(sweep.runsRoot);
  mkdirSync(root, { recursive: true });
  const base = sweepDirName(sweep.system);
  let dir = join(root, base);
  for (let n = 2; ; n++) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || n > 100) throw e;
      dir = join(root, `${base}-${n}`);
    }
  }
  const manifest: SweepManifest = {
    format: SWEEP_FORMAT,
    version: SWEEP_FORMAT_VERSION,
    experiment: sweep.experiment,
    system: sweep.system,
    createdAt: new Date().toISOString(),
    fields: sweep.plan.fields,
    mode: sweep.plan.mode,
    seeds: sweep.plan.seeds,
    points: sweep.plan.points.map((p) => ({
      index: p.index,
      values: p.values,
      seed: p.seed,
      run: sweepRunName(p.index),
      status: "pending",
    })),
    launcher: sweep.launcher,
    ...(sweep.steps === undefined ? {} : { steps: sweep.steps }),
    ...(sweep.intervention === undefined ? {} : { intervention: sweep.intervention }),
  };
  withSweepLock(dir, () => writeSweepManifest(dir, manifest));
  return { dir, manifest };
}

/** Reads and checks `<dir>/sweep.json`; a folder that is not a sweep is the user's mistake (UsageError). */
export function loadSweep(dir: string): SweepManifest {
  const path = join(dir, SWEEP_MANIFEST);
  let text: string;
  try {
    text = readRegularTextSync(path, SWEEP_MANIFEST_BYTES);
  } catch (e) {
    if (e instanceof FileRefusedError) throw new UsageError(`${path} ${e.detail}`, 1);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new UsageError(
        `${dir} is not a sweep folder (it has no ${SWEEP_MANIFEST}; lm sweep FILE --system NAME makes one)`,
        1,
      );
    throw e;
  }
  const parsed = parseSweepManifest(text);
  if (!parsed.ok) throw new UsageError(`${path} is damaged: ${parsed.problems.slice(0, 5).join("; ")}`, 1);
  return parsed.manifest;
}

function writeSweepManifest(dir: string, manifest: SweepManifest): void {
  writeFileAtomicSync(join(dir, SWEEP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}

const waitCell = new Int32Array(new SharedArrayBuffer(4));
/** Sleeps synchronously: lock holders keep it for a moment, and every caller is a short read-modify-write. */
function sleep(ms: number): void {
  Atomics.wait(waitCell, 0, 0, ms);
}

/** Whether `pid` has exited and awaits its parent's wait() (Linux: state "Z" in /proc/PID/stat). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}

/** Runs `fn` holding the sweep folder's lock, waiting for another holder to finish. */
export function withSweepLock<T>(dir: string, fn: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let lock: ReturnType<typeof acquireRunLock>;
    try {
      lock = acquireRunLock(dir, SWEEP_LOCK, "sweep");
    } catch (e) {
      if (!(e instanceof RunLockedError) || Date.now() > deadline) throw e;
      // A holder that died is a zombie until its parent reaps it, and the parent may be this
      // process, waiting here (the launcher's tasks write sweep.json too): a zombie holds nothing.
      if (isZombie(e.owner.pid)) rmSync(e.lockPath, { force: true });
      else sleep(10 + Math.random() * 20);
      continue;
    }
    try {
      return fn();
    } finally {
      lock.release();
    }
  }
}

/**
 * Reads sweep.json, lets `change` edit it, writes it back: all under the folder's lock, so writers
 * never lose each other's changes. Returns the manifest as written.
 */
export function updateSweep(dir: string, change: (manifest: SweepManifest) => void): SweepManifest {
  return withSweepLock(dir, () => {
    const manifest = loadSweep(dir);
    change(manifest);
    writeSweepManifest(dir, manifest);
    return manifest;
  });
}

/** Sets the status (and, for Slurm, the job) of the points `indices`. */
export function setPointStatus(
  dir: string,
  indices: readonly number[],
  status: SweepPointStatus,
  slurmJob?: (index: number) => string,
): SweepManifest {
  return updateSweep(dir, (m) => {
    for (const i of indices) {
      const p = m.points[i];
      if (p === undefined) continue;
      p.status = status;
      if (slurmJob) p.slurmJob = slurmJob(i);
    }
  });
}

/** The point `index` of a sweep, or a UsageError naming the range. */
export function sweepPoint(manifest: SweepManifest, index: number, dir: string): SweepPoint {
  const p = Number.isInteger(index) ? manifest.points[index] : undefined;
  if (p === undefined)
    throw new UsageError(`${dir} has points 0 to ${manifest.points.length - 1}; there is no point ${index}`, 2);
  return p;
}

/** What a point's run folder says, read from its run.json; "absent" when it has none. */
export type RunState =
  | { kind: "absent" }
  | { kind: "unreadable"; problem: string }
  | { kind: "run"; status: RunStatus; pid: number | undefined; step: number; totalSteps: number };

export function runState(sweepDir: string, point: SweepPoint): RunState {
  const read = readManifestSync(join(sweepDir, point.run, "run.json"));
  if (read.ok) {
    const m = read.manifest;
    return { kind: "run", status: m.status, pid: m.pid, step: m.step, totalSteps: m.totalSteps };
  }
  return "missing" in read ? { kind: "absent" } : { kind: "unreadable", problem: read.problems.join("; ") };
}

/**
 * Whether a point is done: its run ended finished or diverged (a diverged point is a result of
 * the sweep, and training it again diverges again). Every other point is still to run.
 */
export function pointDone(sweepDir: string, point: SweepPoint): boolean {
  const state = runState(sweepDir, point);
  return state.kind === "run" && (state.status === "finished" || state.status === "diverged");
}

/**
 * The points still to run, by index, from their run folders: not finished, not diverged, and not
 * being trained right now by a live process of this machine (another launcher's task). A run.json
 * pid is only meaningful on the machine that wrote it: a launcher whose tasks run elsewhere (Slurm)
 * asks its scheduler which of these are still queued or running.
 */
export function pointsToRun(sweepDir: string, manifest: SweepManifest = loadSweep(sweepDir)): number[] {
  return manifest.points
    .filter((p) => {
      const state = runState(sweepDir, p);
      if (state.kind !== "run") return true;
      if (state.status === "finished" || state.status === "diverged") return false;
      return !(state.status === "running" && state.pid !== undefined && pidAlive(state.pid));
    })
    .map((p) => p.index);
}

/**
 * The status a point's run folder gives it: its run.json's status, "failed" for a run left
 * "running" by a process that is gone, undefined when the run folder says nothing (no run yet).
 */
export function statusFromRun(state: RunState): SweepPointStatus | undefined {
  if (state.kind === "absent") return undefined;
  if (state.kind === "unreadable") return "failed";
  if (state.status === "running" && (state.pid === undefined || !pidAlive(state.pid))) return "failed";
  return state.status;
}

/**
 * Brings sweep.json in line with the run folders (the truth for how a run ended): each point whose
 * run.json says something else than its status gets the run's. Points without a run keep theirs
 * (pending, queued, cancelled: only the launcher knows).
 */
export function reconcile(sweepDir: string): SweepManifest {
  return updateSweep(sweepDir, (m) => {
    for (const p of m.points) {
      const s = statusFromRun(runState(sweepDir, p));
      if (s !== undefined) p.status = s;
    }
  });
}
