// The local launcher of a sweep (docs/sweeps.md): at most `parallel` points at once, each in its
// own `lm sweep-task SWEEP_DIR INDEX` child process, so a crash of one (an exception in a custom
// model, an out-of-memory kill) ends that point only. Each child's stdout and stderr go to
// `<sweep>/logs/<run>.log`; the launcher's progress lines go to `log`.
//
// Stopping: `stop()` starts no more points, sends each running child one SIGTERM (its trainer then
// stops after the current step: a final checkpoint, run status "stopped") and leaves the points not
// started "pending", for `lm sweep --resume`. A second `stop()` (`kill()`) sends a second SIGTERM,
// which makes each child end its training at once (its run is marked failed, its checkpoints kept).
// Children run in their own process group: a Ctrl-C in the terminal reaches the launcher alone,
// which passes it on once, instead of every child seeing it besides.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { describeSweepValues } from "../../sdk/sweep";
import { openRegularSync, readAtSync } from "../../shared/safeRead";
import type { SweepManifest, SweepPointStatus } from "../../shared/sweepFormat";
import { markAbandonedRun } from "../runFolder";
import { loadSweep, runState, setPointStatus, statusFromRun, updateSweep } from "./folder";
import type { TaskBackend } from "./task";

/** Where each child's output goes, inside the sweep folder. */
export const SWEEP_LOG_DIR = "logs";

export interface LocalSweepOptions {
  /** At most this many trainers at once (≥ 1). */
  parallel: number;
  /** The path of the `lm` CLI script (dist/trainer/cli.js) the children run. */
  cli: string;
  /** Passed on to each `lm sweep-task`. */
  backend?: TaskBackend;
  /** One progress line (no newline). */
  log: (line: string) => void;
}

export interface LocalSweepResult {
  /** Final status of each point that was run, by index. */
  statuses: Map<number, SweepPointStatus>;
  /** Points not started because of a stop. */
  notStarted: number[];
  stopped: boolean;
  /** The most trainers that ran at once. */
  peakRunning: number;
}

export interface LocalSweepHandle {
  readonly done: Promise<LocalSweepResult>;
  /** Starts no more points; running ones stop after their current step. */
  stop(): void;
  /** Running points end now (their runs are marked failed; checkpoints kept). */
  kill(): void;
}

/** The default parallelism: one core left free for the rest of the machine. */
export function defaultParallel(cores: number): number {
  return Math.max(1, cores - 1);
}

/** Runs `indices` of the sweep in `dir` (all of them, or what `pointsToRun` left) with at most `parallel` at once. */
export function runLocalSweep(dir: string, indices: readonly number[], options: LocalSweepOptions): LocalSweepHandle {
  const manifest = updateSweep(dir, (m) => {
    m.launcher = { kind: "local", parallel: options.parallel };
  });
  const logDir = join(dir, SWEEP_LOG_DIR);
  mkdirSync(logDir, { recursive: true });
  const queue = [...indices];
  const running = new Map<number, ChildProcess>();
  const statuses = new Map<number, SweepPointStatus>();
  const total = indices.length;
  let stopping = 0;
  let failed = 0;
  let peakRunning = 0;
  let finish: (r: LocalSweepResult) => void = () => {};
  const done = new Promise<LocalSweepResult>((r) => {
    finish = r;
  });

  const counts = () => `[${statuses.size}/${total} ended · ${failed} failed · ${running.size} running]`;
  const describe = (i: number) => {
    const p = manifest.points[i];
    if (p === undefined) return `point ${i}`;
    const values = Object.keys(p.values).length ? `${describeSweepValues(p.values)}, ` : "";
    return `point ${i} (${values}seed ${p.seed})`;
  };

  const startNext = () => {
    while (stopping === 0 && running.size < options.parallel && queue.length > 0) {
      const index = queue.shift() as number;
      start(index);
    }
    if (running.size === 0 && (queue.length === 0 || stopping > 0)) {
      const notStarted = [...queue];
      if (notStarted.length) setPointStatus(dir, notStarted, "pending");
      finish({ statuses, notStarted, stopped: stopping > 0, peakRunning });
    }
  };

  const start = (index: number) => {
    const run = manifest.points[index]?.run ?? String(index);
    const logPath = join(logDir, `${run}.log`);
    const fd = openSync(logPath, "a");
    const args = [options.cli, "sweep-task", dir, String(index), ...taskArgs(options.backend ?? {})];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ["ignore", fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    running.set(index, child);
    peakRunning = Math.max(peakRunning, running.size);
    options.log(`${counts()} started ${describe(index)}`);
    let ended = false;
    const end = (why: string | undefined) => {
      if (ended) return;
      ended = true;
      running.delete(index);
      const status = settle(dir, index, child.pid);
      statuses.set(index, status);
      if (status === "failed") failed++;
      const error = status === "failed" ? lastErrorLine(logPath) : undefined;
      options.log(
        `${counts()} ${describe(index)} ${status}${why ? ` (${why})` : ""}${error ? `: ${error}` : ""}; log: ${logPath}`,
      );
      startNext();
    };
    child.on("error", (e) => end(`could not start: ${e.message}`));
    child.on("exit", (code, signal) =>
      end(signal ? `killed by ${signal}` : code !== 0 && code !== 3 ? `exit code ${code}` : undefined),
    );
  };

  const signalAll = () => {
    for (const child of running.values()) if (child.pid !== undefined && child.exitCode === null) child.kill("SIGTERM");
  };

  startNext();
  return {
    done,
    stop() {
      stopping++;
      if (stopping === 1 && running.size > 0)
        options.log(`${counts()} stopping: running points stop after their current step…`);
      signalAll();
      startNext();
    },
    kill() {
      stopping = Math.max(stopping, 1) + 1;
      signalAll();
    },
  };
}

/** The task's last `error (KIND): …` line (the CLI prints one per failure), to say why a point failed. */
function lastErrorLine(logPath: string): string | undefined {
  try {
    const { fd, size } = openRegularSync(logPath);
    try {
      const length = Math.min(size, 16384);
      const tail = readAtSync(fd, length, size - length).toString("utf8");
      return tail
        .split("\n")
        .filter((l) => l.startsWith("error ("))
        .at(-1)
        ?.slice(0, 500);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function taskArgs(b: TaskBackend): string[] {
  return [
    ...(b.backend !== undefined ? ["--backend", b.backend] : []),
    ...(b.device !== undefined ? ["--device", b.device] : []),
    ...(b.python !== undefined ? ["--python", b.python] : []),
    ...(b.threads !== undefined ? ["--threads", String(b.threads)] : []),
  ];
}

/**
 * The point's status once its child has exited, from its run.json (the task wrote it; a child
 * killed outright did not, and its run still says "running" under the child's pid: marked failed
 * here, its checkpoints kept). "failed" when there is no run at all.
 */
function settle(dir: string, index: number, childPid: number | undefined): SweepPointStatus {
  const manifest: SweepManifest = loadSweep(dir);
  const point = manifest.points[index];
  if (point === undefined) return "failed";
  const state = runState(dir, point);
  if (state.kind === "run" && state.status === "running" && childPid !== undefined && state.pid === childPid)
    markAbandonedRun(join(dir, point.run), childPid, "the trainer process ended without finishing the run (killed?)");
  const status = statusFromRun(runState(dir, point)) ?? "failed";
  setPointStatus(dir, [index], status);
  return status;
}
