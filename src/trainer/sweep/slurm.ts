// A sweep on Slurm (docs/sweeps.md, "Slurm"): one job array per submission, task N training point
// N with `lm sweep-task SWEEP_DIR N` into its run folder on the shared filesystem. No daemon of
// ours: Slurm runs the tasks; the status is squeue merged with the run folders (slurmStatus.ts);
// cancelling is scancel; a resubmission is a new array of the points that are not done.
// sweep.json records each submitted array (launcher.jobIds) and each point's task ("1234_7": array
// 1234, task 7, which is point 7 unless the sweep needed several arrays: arrayChunks).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeFileAtomicSync } from "../../shared/atomicFile";
import { findOnPath } from "../../shared/findOnPath";
import { SWEEP_SLURM_DIR, type SweepManifest, type SweepPoint, type SweepPointStatus } from "../../shared/sweepFormat";
import { UsageError } from "../errors";
import { runState } from "./folder";
import {
  arrayChunks,
  arrayScript,
  type ArrayScript,
  type SlurmOptions,
  scriptProblem,
  slurmOptionsRecord,
} from "./slurmScript";
import {
  logShowsCancel,
  parseSqueue,
  type PointStatus,
  pointStatus,
  type QueueEntry,
  type RunFolderState,
  type TaskLogState,
} from "./slurmStatus";

/** Reads and changes a sweep folder's sweep.json; `update` holds the sweep's lock around `change`. */
export interface SweepStore {
  read(sweepDir: string): SweepManifest;
  update(sweepDir: string, change: (manifest: SweepManifest) => void): SweepManifest;
}

/** The Slurm commands are not on PATH: not a login node (or Slurm's tools are not loaded). */
export class SlurmMissingError extends UsageError {
  constructor(command: string) {
    super(
      `${command} not found on PATH: --slurm needs a Slurm login node (a machine where sbatch, squeue and ` +
        `scancel work; on some clusters after \`module load slurm\`); without --slurm the sweep runs on this machine`,
      2,
    );
  }
}

/** sbatch refused the submission; `stderr` is its message, verbatim. */
export class SbatchRejectedError extends Error {
  constructor(
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(stderr.trim() || `sbatch exited with code ${exitCode}`);
  }
}

/** How the CLI talks to Slurm: the environment (PATH, SLURM_CONF) and where `lm` itself is. */
export interface SlurmContext {
  store: SweepStore;
  env: NodeJS.ProcessEnv;
  /** Absolute paths of node and of dist/trainer/cli.js: what each array task runs. */
  node: string;
  cli: string;
  /** More arguments for each task's `lm sweep-task` (the backend: `--backend torch`, …). */
  taskArgs?: readonly string[];
}

/** Throws SlurmMissingError unless sbatch is on PATH: call before creating anything. */
export function requireSbatch(env: NodeJS.ProcessEnv): void {
  if (findOnPath("sbatch", env) === undefined) throw new SlurmMissingError("sbatch");
}

interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): CommandResult {
  const r = spawnSync(command, args, {
    env,
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    ...(cwd ? { cwd } : {}),
  });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") throw new SlurmMissingError(command);
    throw r.error;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Points a (re)submission trains: all but those done (finished, diverged) or still in Slurm's hands. */
const SKIP_ON_SUBMIT: ReadonlySet<SweepPointStatus> = new Set(["finished", "diverged", "queued", "running"]);

/** One job array of a submission: its id, the points it trains and its batch script. */
export interface SubmittedArray {
  jobId: string;
  indices: number[];
  script: string;
}

/** Slurm's default MaxArraySize, used when `scontrol show config` cannot say the site's. */
export const DEFAULT_MAX_ARRAY_SIZE = 1001;

/** The site's MaxArraySize (array indices must be below it), from `scontrol show config`. */
export function maxArraySize(env: NodeJS.ProcessEnv): number {
  try {
    const r = run("scontrol", ["show", "config"], env);
    const m = /^MaxArraySize\s*=\s*(\d+)\s*$/m.exec(r.stdout);
    const n = m ? Number(m[1]) : Number.NaN;
    return r.status === 0 && Number.isSafeInteger(n) && n >= 1 ? n : DEFAULT_MAX_ARRAY_SIZE;
  } catch (e) {
    if (e instanceof SlurmMissingError) return DEFAULT_MAX_ARRAY_SIZE;
    throw e;
  }
}

/** sbatch refused an array after earlier ones of the same submission were accepted (those stay submitted). */
export class PartialSubmissionError extends SbatchRejectedError {
  constructor(
    rejected: SbatchRejectedError,
    readonly submitted: readonly SubmittedArray[],
  ) {
    super(rejected.stderr, rejected.exitCode);
  }
}

/**
 * Submits the points of `sweepDir` that are not done as job arrays (one unless the sweep has
 * points at or above the site's MaxArraySize: arrayChunks), and records each in sweep.json. The
 * points are marked queued before sbatch runs (a task may start before sbatch returns; its own
 * "running" must not be overwritten) and put back if sbatch refuses them. Returns undefined when
 * there is nothing to submit.
 */
export function submitSweep(sweepDir: string, options: SlurmOptions, ctx: SlurmContext): SubmittedArray[] | undefined {
  requireSbatch(ctx.env);
  const dir = resolve(sweepDir);
  const statuses = refreshSlurmStatus(dir, ctx);
  const indices = statuses.points.filter((p) => !SKIP_ON_SUBMIT.has(p.status)).map((p) => p.index);
  if (indices.length === 0) return undefined;
  const manifest = ctx.store.read(dir);
  const slurmDir = join(dir, SWEEP_SLURM_DIR);
  const chunks = arrayChunks(indices, maxArraySize(ctx.env));
  const scripts = chunks.map(({ base, indices: chunk }) => {
    const spec: ArrayScript = {
      sweepDir: dir,
      slurmDir,
      workDir: dirname(manifest.experiment),
      indices: chunk,
      base,
      jobName: `lm-${basename(dir)}`,
      options,
      node: ctx.node,
      cli: ctx.cli,
      ...(ctx.taskArgs ? { taskArgs: ctx.taskArgs } : {}),
    };
    const problem = scriptProblem(spec);
    if (problem) throw new UsageError(problem, 1);
    return { spec, path: join(slurmDir, base === 0 ? "array.sh" : `array-${base}.sh`) };
  });
  fs.mkdirSync(slurmDir, { recursive: true });
  for (const { spec, path } of scripts) {
    writeFileAtomicSync(path, arrayScript(spec));
    fs.chmodSync(path, 0o755);
  }

  const before = new Map<number, SweepPoint>();
  ctx.store.update(dir, (m) => {
    const jobIds = m.launcher.kind === "slurm" ? m.launcher.jobIds : [];
    m.launcher = { kind: "slurm", jobIds, options: slurmOptionsRecord(options) };
    for (const i of indices) {
      const p = m.points[i];
      if (!p) continue;
      before.set(i, { ...p });
      p.status = "queued";
      delete p.slurmJob;
    }
  });
  const submitted: SubmittedArray[] = [];
  for (const { spec, path } of scripts) {
    const base = spec.base ?? 0;
    let jobId: string;
    try {
      jobId = sbatch(path, slurmDir, ctx.env);
    } catch (e) {
      // This array and the ones after it were not submitted: their points go back as they were.
      const unsent = new Set(scripts.slice(submitted.length).flatMap((x) => x.spec.indices));
      restore(dir, ctx.store, new Map([...before].filter(([i]) => unsent.has(i))));
      if (e instanceof SbatchRejectedError && submitted.length > 0) throw new PartialSubmissionError(e, submitted);
      throw e;
    }
    ctx.store.update(dir, (m) => {
      if (m.launcher.kind === "slurm") m.launcher.jobIds.push(jobId);
      for (const i of spec.indices) {
        const p = m.points[i];
        if (p) p.slurmJob = `${jobId}_${i - base}`;
      }
    });
    submitted.push({ jobId, indices: [...spec.indices], script: path });
  }
  return submitted;
}

/** Submits one batch script; its job id. Throws SbatchRejectedError with sbatch's message. */
function sbatch(script: string, slurmDir: string, env: NodeJS.ProcessEnv): string {
  // From the slurm/ folder, which exists (the script itself cds to the experiment's folder).
  const result = run("sbatch", ["--parsable", script], env, slurmDir);
  // --parsable prints "<job id>" or "<job id>;<cluster>".
  const jobId = /^(\d+)(;\S+)?\s*$/.exec(result.stdout.trim())?.[1];
  if (result.status !== 0 || jobId === undefined) throw new SbatchRejectedError(result.stderr, result.status);
  return jobId;
}

/** Puts the points marked queued for a submission that did not happen back as they were. */
function restore(dir: string, store: SweepStore, before: ReadonlyMap<number, SweepPoint>): void {
  store.update(dir, (m) => {
    for (const [i, old] of before) {
      const p = m.points[i];
      if (p && p.status === "queued") m.points[i] = old;
    }
  });
}

export interface SlurmSweepStatus {
  points: PointStatus[];
  /** Set when squeue could not be asked (not a login node): the statuses come from the folders alone. */
  queueProblem?: string;
}

/**
 * The status of every point of a Slurm sweep: squeue for its jobs, merged with the run folders
 * and the tasks' logs (slurmStatus.ts). What changed is written back to sweep.json, so a
 * cancellation seen now is still known after Slurm forgets the job.
 */
export function refreshSlurmStatus(sweepDir: string, ctx: SlurmContext): SlurmSweepStatus {
  const dir = resolve(sweepDir);
  const manifest = ctx.store.read(dir);
  const jobIds = manifest.launcher.kind === "slurm" ? manifest.launcher.jobIds : [];
  let queue: QueueEntry[] = [];
  let queueProblem: string | undefined;
  try {
    queue = squeue(jobIds, ctx.env);
  } catch (e) {
    if (!(e instanceof SlurmMissingError || e instanceof SqueueError)) throw e;
    queueProblem = e.message;
  }
  const byTask = new Map(queue.map((q) => [q.task, q]));
  const points = manifest.points.map((point) => {
    const log = taskLog(dir, point);
    const run = runFolder(dir, point);
    if (queueProblem !== undefined) {
      // Without squeue only an ended run is news; the rest stays as sweep.json last saw it.
      const ended = run.kind === "run" && run.status !== "running" && run.status !== "stopped";
      return {
        index: point.index,
        status: ended ? run.status : point.status,
        ...(log.kind === "log" ? { log: log.path } : {}),
      };
    }
    const queued = point.slurmJob ? byTask.get(point.slurmJob) : undefined;
    return pointStatus({ point, run, log, ...(queued ? { queue: queued } : {}) });
  });
  if (queueProblem === undefined && points.some((p, i) => manifest.points[i]?.status !== p.status))
    ctx.store.update(dir, (m) => {
      for (const s of points) {
        const p = m.points[s.index];
        // Only where sweep.json still says what it said when read: a submission may have run since.
        if (p && p.slurmJob === manifest.points[s.index]?.slurmJob) p.status = s.status;
      }
    });
  return { points, ...(queueProblem !== undefined ? { queueProblem } : {}) };
}

class SqueueError extends Error {}

/** The tasks of these array jobs that squeue still lists (all states: ended ones for MinJobAge). */
function squeue(jobIds: readonly string[], env: NodeJS.ProcessEnv): QueueEntry[] {
  if (jobIds.length === 0) return [];
  const ask = (ids: readonly string[]) =>
    run("squeue", ["-h", "-r", "-t", "all", "-j", ids.join(","), "-o", "%i|%T|%R"], env);
  const all = ask(jobIds);
  if (all.status === 0) return parseSqueue(all.stdout);
  // squeue fails on a job id it has forgotten (after MinJobAge): ask job by job, skipping those.
  if (!/invalid job id/i.test(all.stderr)) throw new SqueueError(`squeue failed: ${all.stderr.trim()}`);
  const out: QueueEntry[] = [];
  for (const id of jobIds) {
    const one = ask([id]);
    if (one.status === 0) out.push(...parseSqueue(one.stdout));
    else if (!/invalid job id/i.test(one.stderr)) throw new SqueueError(`squeue failed: ${one.stderr.trim()}`);
  }
  return out;
}

/** What the point's run folder says (folder.ts's reading; not its pid: that may be another node's). */
function runFolder(dir: string, point: SweepPoint): RunFolderState {
  const state = runState(dir, point);
  if (state.kind === "absent") return { kind: "none" };
  if (state.kind === "unreadable") return state;
  return { kind: "run", status: state.status, step: state.step, totalSteps: state.totalSteps };
}

/** The log of the point's current task, and whether Slurm wrote a cancellation into it. */
function taskLog(dir: string, point: SweepPoint): TaskLogState {
  if (!point.slurmJob || !/^\d+_\d+$/.test(point.slurmJob)) return { kind: "none" };
  const path = join(dir, SWEEP_SLURM_DIR, `${point.slurmJob}.out`);
  const tail = readTail(path, 16 * 1024);
  return tail === undefined ? { kind: "none" } : { kind: "log", path, cancelled: logShowsCancel(tail) };
}

/** The last `bytes` of a regular file (never a FIFO or a symlink's target), or undefined. */
function readTail(path: string, bytes: number): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    const length = Math.min(bytes, stat.size);
    const buffer = Buffer.alloc(length);
    const read = fs.readSync(fd, buffer, 0, length, stat.size - length);
    return buffer.subarray(0, read).toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

export interface Cancellation {
  jobIds: string[];
  /** The points marked cancelled (they were queued or running). */
  cancelled: number[];
}

/**
 * `lm sweep-cancel`: scancel every job of the sweep, then mark the points that were queued or
 * running cancelled. A job Slurm has already ended or forgotten is not an error.
 */
export function cancelSweep(sweepDir: string, ctx: SlurmContext): Cancellation {
  const dir = resolve(sweepDir);
  const manifest = ctx.store.read(dir);
  if (manifest.launcher.kind !== "slurm")
    throw new UsageError(`${join(dir, "sweep.json")}: not a Slurm sweep (launcher "${manifest.launcher.kind}")`, 1);
  const jobIds = [...manifest.launcher.jobIds];
  if (jobIds.length === 0) return { jobIds, cancelled: [] };
  if (findOnPath("scancel", ctx.env) === undefined) throw new SlurmMissingError("scancel");
  // Which points Slurm holds now, before scancel changes that.
  const held = new Set(
    refreshSlurmStatus(dir, ctx)
      .points.filter((p) => p.status === "queued" || p.status === "running")
      .map((p) => p.index),
  );
  const r = run("scancel", jobIds, ctx.env);
  const problems = r.stderr
    .split("\n")
    .filter((l) => l.trim() && !/already completing or completed|invalid job id/i.test(l));
  if (r.status !== 0 && problems.length > 0) throw new SbatchRejectedError(r.stderr, r.status);
  const cancelled: number[] = [];
  ctx.store.update(dir, (m) => {
    for (const p of m.points) {
      if (!held.has(p.index)) continue;
      // A run that reached its end while scancel ran keeps it.
      const run = runFolder(dir, p);
      if (run.kind === "run" && (run.status === "finished" || run.status === "diverged")) continue;
      p.status = "cancelled";
      cancelled.push(p.index);
    }
  });
  return { jobIds, cancelled };
}
