// The Slurm side of the `lm` command line: `lm sweep … --slurm [options]` (a new sweep or
// `--resume`), `lm sweep-cancel SWEEP_DIR`, and the Slurm statuses `lm sweep-status` shows. The
// sweep folder itself is made by the sweep core (folder.ts); this submits, asks and cancels.
import { join } from "node:path";
import { SWEEP_SLURM_DIR, type SweepPointStatus } from "../../shared/sweepFormat";
import { UsageError } from "../errors";
import { loadSweep, updateSweep } from "./folder";
import {
  cancelSweep,
  PartialSubmissionError,
  refreshSlurmStatus,
  requireSbatch,
  SbatchRejectedError,
  type SlurmContext,
  type SubmittedArray,
  submitSweep,
} from "./slurm";
import { arrayRanges, type SlurmOptions } from "./slurmScript";
import type { SweepStatus, SweepStatusRow } from "./status";

/** The command-line options that only mean something with `--slurm`. */
export const SLURM_FLAGS = ["partition", "time", "gpus", "cpus-per-task", "mem", "account", "sbatch-arg"] as const;

export interface SlurmFlagValues {
  slurm?: boolean | undefined;
  parallel?: string | undefined;
  partition?: string | undefined;
  time?: string | undefined;
  gpus?: string | undefined;
  "cpus-per-task"?: string | undefined;
  mem?: string | undefined;
  account?: string | undefined;
  "sbatch-arg"?: string[] | undefined;
}

/** The sbatch options from the command line; a UsageError for a Slurm flag without --slurm. */
export function slurmOptionsFrom(values: SlurmFlagValues): SlurmOptions {
  const stray = SLURM_FLAGS.find((f) => values[f] !== undefined);
  if (!values.slurm) {
    if (stray) throw new UsageError(`--${stray} is an sbatch option: it needs --slurm`);
    return { sbatchArgs: [] };
  }
  const options: SlurmOptions = { sbatchArgs: values["sbatch-arg"] ?? [] };
  if (values.partition !== undefined) options.partition = values.partition;
  if (values.time !== undefined) options.time = values.time;
  if (values.gpus !== undefined) options.gpus = values.gpus;
  if (values["cpus-per-task"] !== undefined) options.cpusPerTask = values["cpus-per-task"];
  if (values.mem !== undefined) options.mem = values.mem;
  if (values.account !== undefined) options.account = values.account;
  if (values.parallel !== undefined) {
    const n = Number(values.parallel);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(`--parallel must be a positive integer, got "${values.parallel}"`);
    options.maxParallel = n;
  }
  return options;
}

/**
 * The options of `lm sweep … --slurm`, checked before anything is created: a Slurm flag without
 * --slurm, a bad --parallel, or no sbatch on PATH (SlurmMissingError) throw a UsageError.
 * Undefined without --slurm (a local sweep).
 */
export function slurmPreflight(
  values: SlurmFlagValues,
  env: NodeJS.ProcessEnv = process.env,
): SlurmOptions | undefined {
  const options = slurmOptionsFrom(values);
  if (!values.slurm) return undefined;
  requireSbatch(env);
  return options;
}

/** The backend options `lm sweep` was given, as arguments for each task's `lm sweep-task`. */
export function taskArgsOf(backend: {
  backend?: string;
  device?: string;
  python?: string;
  threads?: number;
}): string[] {
  return [
    ...(backend.backend !== undefined ? ["--backend", backend.backend] : []),
    ...(backend.device !== undefined ? ["--device", backend.device] : []),
    ...(backend.python !== undefined ? ["--python", backend.python] : []),
    ...(backend.threads !== undefined ? ["--threads", String(backend.threads)] : []),
  ];
}

/** How `lm` reaches Slurm from this process: its environment, node and own CLI file. */
export function slurmContext(
  cli: string,
  taskArgs: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): SlurmContext {
  return { store: { read: loadSweep, update: updateSweep }, env, node: process.execPath, cli, taskArgs };
}

/**
 * Submits the sweep in `dir` (new, or resumed) to Slurm and says so on stderr; stdout gets the
 * sweep folder's path alone. sbatch's refusal is printed verbatim (exit 1), with how to resubmit.
 */
export function submitCommand(dir: string, options: SlurmOptions, ctx: SlurmContext): number {
  let arrays: ReturnType<typeof submitSweep>;
  const logs = `  status: lm sweep-status ${dir}   cancel: lm sweep-cancel ${dir}   logs: ${join(dir, SWEEP_SLURM_DIR)}/\n`;
  try {
    arrays = submitSweep(dir, options, ctx);
  } catch (e) {
    if (!(e instanceof SbatchRejectedError)) throw e;
    process.stderr.write(e.stderr.endsWith("\n") || e.stderr === "" ? e.stderr : `${e.stderr}\n`);
    const sent = e instanceof PartialSubmissionError ? e.submitted : [];
    process.stderr.write(
      sent.length === 0
        ? `nothing was submitted; the sweep folder stays: submit it with lm sweep --resume ${dir} --slurm [options]\n`
        : `${submittedText(sent)}; sbatch refused the rest: submit them with lm sweep --resume ${dir} --slurm [options]\n${logs}`,
    );
    process.stdout.write(`${dir}\n`);
    return 1;
  }
  if (arrays === undefined) process.stderr.write("every point is finished or in Slurm's queue: nothing to submit\n");
  else process.stderr.write(`${submittedText(arrays)}\n${logs}`);
  process.stdout.write(`${dir}\n`);
  return 0;
}

/** "submitted job array 12 (points 0-3) with …/array.sh", one line per array. */
function submittedText(arrays: readonly SubmittedArray[]): string {
  return arrays
    .map((a) => `submitted job array ${a.jobId} (points ${arrayRanges(a.indices)}) with ${a.script}`)
    .join("\n");
}

/** `lm sweep-cancel SWEEP_DIR`: scancel the sweep's jobs; the points Slurm held are cancelled. */
export function cancelCommand(dir: string, ctx: SlurmContext): number {
  let result: ReturnType<typeof cancelSweep>;
  try {
    result = cancelSweep(dir, ctx);
  } catch (e) {
    if (!(e instanceof SbatchRejectedError)) throw e;
    process.stderr.write(e.stderr.endsWith("\n") ? e.stderr : `${e.stderr}\n`);
    return 1;
  }
  process.stderr.write(
    result.jobIds.length === 0
      ? "nothing to cancel: the sweep was never submitted to Slurm\n"
      : `scancel ${result.jobIds.join(" ")}: ${result.cancelled.length} point(s) cancelled` +
          `${result.cancelled.length ? ` (${arrayRanges(result.cancelled)})` : ""}\n`,
  );
  process.stdout.write(`${dir}\n`);
  return 0;
}

/** A row of `lm sweep-status` for a Slurm sweep: why, and the task's log. */
export type SlurmStatusRow = SweepStatusRow & { detail?: string; log?: string };
export type SlurmSweepStatusView = Omit<SweepStatus, "points"> & { points: SlurmStatusRow[]; note?: string };

/**
 * `lm sweep-status` of a Slurm sweep: each point's status from squeue merged with its run folder
 * and log (written back to sweep.json), in place of the run folder's alone (a run.json "running"
 * under a compute node's pid says nothing on the login node). A local sweep is returned as is.
 */
export function withSlurmStatus(status: SweepStatus, ctx: SlurmContext): SlurmSweepStatusView {
  if (loadSweep(status.dir).launcher.kind !== "slurm") return status;
  const slurm = refreshSlurmStatus(status.dir, ctx);
  const counts: Partial<Record<SweepPointStatus, number>> = {};
  const points = status.points.map((row): SlurmStatusRow => {
    const s = slurm.points[row.index];
    if (!s) return row;
    counts[s.status] = (counts[s.status] ?? 0) + 1;
    return {
      ...row,
      status: s.status,
      ...(s.detail !== undefined ? { detail: s.detail } : {}),
      ...(s.log !== undefined ? { log: s.log } : {}),
    };
  });
  return {
    ...status,
    points,
    counts,
    ...(slurm.queueProblem !== undefined
      ? { note: `${slurm.queueProblem}: the statuses are those of the run folders and sweep.json` }
      : {}),
  };
}

/** The lines under `lm sweep-status`'s table for a Slurm sweep: each failure with its log, the note. */
export function slurmStatusLines(view: SlurmSweepStatusView): string {
  const lines = view.points
    .filter((p) => p.status === "failed" && p.detail !== undefined)
    .map((p) => `point ${p.index} failed: ${p.detail}`);
  if (view.note !== undefined) lines.push(`note: ${view.note}`);
  return lines.map((l) => `${l}\n`).join("");
}

/**
 * Why `lm sweep --resume` without --slurm must not run a Slurm sweep here now: points Slurm still
 * holds (queued or running) would train twice, in the same run folders. Undefined when it may.
 */
export function localResumeProblem(dir: string, ctx: SlurmContext): string | undefined {
  if (loadSweep(dir).launcher.kind !== "slurm") return undefined;
  const held = refreshSlurmStatus(dir, ctx)
    .points.filter((p) => p.status === "queued" || p.status === "running")
    .map((p) => p.index);
  if (held.length === 0) return undefined;
  return (
    `point(s) ${arrayRanges(held)} of this Slurm sweep are still queued or running in Slurm: ` +
    `lm sweep-cancel ${dir} first, or submit the rest with lm sweep --resume ${dir} --slurm`
  );
}
