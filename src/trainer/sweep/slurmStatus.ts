// The status of a Slurm sweep's points, from what Slurm still knows (`squeue`) and what the run
// folders say. Pure: the caller runs squeue and reads the folders. There is no accounting database
// (sacct) to ask: a job leaves squeue MinJobAge seconds after it ends (300 by default), so what
// only Slurm knew (a cancellation) is written back to sweep.json whenever it is seen, and a task's
// log keeps the rest (Slurm writes "CANCELLED AT" into the log of a task cancelled while running).
import type { RunStatus } from "../../shared/runFormat";
import type { SweepPoint, SweepPointStatus } from "../../shared/sweepFormat";

/** One line of `squeue -h -r -t all -o "%i|%T|%R"`: an array task, its state and reason. */
export interface QueueEntry {
  /** "1234_7" */
  task: string;
  /** The array job's id ("1234"). */
  job: string;
  /** PENDING, RUNNING, COMPLETING, COMPLETED, CANCELLED, FAILED, TIMEOUT, … */
  state: string;
  /** Why pending, or the node list when running. */
  reason: string;
}

/** The lines of squeue's `%i|%T|%R` output; other lines (a pending array's meta record) skipped. */
export function parseSqueue(text: string): QueueEntry[] {
  const out: QueueEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+)_(\d+)\|([A-Z_]+)\|(.*)$/.exec(line.trim());
    if (!m) continue;
    const [job, index, state, reason] = [m[1] ?? "", m[2] ?? "", m[3] ?? "", m[4] ?? ""];
    out.push({ task: `${job}_${index}`, job, state, reason });
  }
  return out;
}

/** Slurm states of a task that has not started yet, or is starting. */
const WAITING = new Set(["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"]);
/** Slurm states of a task whose program runs (or is being stopped, or is paused). */
const ACTIVE = new Set(["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"]);

/** What the run folder of a point shows. */
export type RunFolderState =
  | { kind: "none" }
  | { kind: "unreadable"; problem: string }
  | { kind: "run"; status: RunStatus; step: number; totalSteps: number };

/** What the task's log (`slurm/<job>_<index>.out`) shows, when the point has a job. */
export type TaskLogState = { kind: "none" } | { kind: "log"; path: string; cancelled: boolean };

export interface PointEvidence {
  point: SweepPoint;
  run: RunFolderState;
  log: TaskLogState;
  /** This point's task in squeue, if Slurm still lists it. */
  queue?: QueueEntry;
}

export interface PointStatus {
  index: number;
  status: SweepPointStatus;
  /** Why, when it helps: the Slurm state and reason, or the log to read for a failure. */
  detail?: string;
  /** The task's Slurm log, when there is one. */
  log?: string;
}

/** Slurm's states for a task that ended by itself without success. */
const FAILED_STATES = new Set([
  "FAILED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
  "PREEMPTED",
  "SPECIAL_EXIT",
]);

/**
 * The status of one point, from the most direct evidence down: a task Slurm lists as waiting or
 * running; a run that reached its outcome (finished, diverged); a cancellation seen anywhere
 * (squeue, the task's log, sweep.json); a run that failed; a task that ended (failed, completed,
 * or gone from squeue) without a finished run: failed, with its log. A task gone with no log at
 * all never started: cancelled while pending (scancel of a pending array task leaves no trace in
 * squeue but its absence, and Slurm opens the log when the task starts).
 */
export function pointStatus(e: PointEvidence): PointStatus {
  const { point, run, log, queue } = e;
  const base = { index: point.index, ...(log.kind === "log" ? { log: log.path } : {}) };
  const runStatus = run.kind === "run" ? run.status : undefined;
  const ended = runStatus === "finished" || runStatus === "diverged" || runStatus === "failed";
  if (queue && WAITING.has(queue.state))
    return { ...base, status: "queued", detail: `${queue.state} ${queue.reason}`.trim() };
  if (queue && ACTIVE.has(queue.state) && !(queue.state === "COMPLETING" && ended))
    return { ...base, status: "running" };
  if (runStatus === "finished" || runStatus === "diverged") return { ...base, status: runStatus };
  if (queue?.state === "CANCELLED" || (log.kind === "log" && log.cancelled) || point.status === "cancelled")
    return { ...base, status: "cancelled" };
  if (runStatus === "failed") return { ...base, status: "failed", detail: failedDetail("the run failed", log) };
  if (!point.slurmJob) {
    // Never submitted (or its submission failed): what the folder says, else pending.
    if (runStatus === "stopped") return { ...base, status: "stopped" };
    return { ...base, status: point.status === "queued" || point.status === "running" ? "pending" : point.status };
  }
  if (runStatus === "stopped") return { ...base, status: "stopped" };
  if (queue && FAILED_STATES.has(queue.state))
    return { ...base, status: "failed", detail: failedDetail(`Slurm state ${queue.state}`, log) };
  if (queue?.state === "COMPLETED")
    return { ...base, status: "failed", detail: failedDetail("the task ended without finishing the run", log) };
  if (log.kind === "none") return { ...base, status: "cancelled", detail: "left the queue before it started (no log)" };
  return { ...base, status: "failed", detail: failedDetail("the task is no longer in squeue", log) };
}

function failedDetail(why: string, log: TaskLogState): string {
  return log.kind === "log" ? `${why}: see ${log.path}` : `${why} (no log)`;
}

/** Slurm writes this line into the log of a task it cancels while running. */
export function logShowsCancel(logTail: string): boolean {
  return /\bCANCELLED AT \d{4}-\d\d-\d\dT/.test(logTail);
}
