// The main thread's side of a job: starts the worker (worker.ts) that runs the experiment's code,
// relays its events, and keeps signals working whatever that code does.
//
// stop(): the first request is graceful — a flag the training loop reads after every step (final
// checkpoint, status "stopped"). The worker acknowledges it when it next reads the flag or its
// event loop next turns. If no acknowledgement comes within the grace period (its thread is stuck
// in user code: an endless loop at import, a custom model that never returns), or on kill() (a
// second Ctrl-C), the worker is terminated and the run is recorded as failed with a message
// saying so. The grace period is STOP_GRACE_MS, or three times the longest the worker has gone
// quiet so far if that is longer, so a model whose every step is slow still stops gracefully. A worker that ends without a result (process.exit in user code, a crash)
// is reported the same way. After the result, the worker is terminated too, so timers the
// experiment left behind (setInterval at import) cannot keep the process alive.
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { readJsonFileSync } from "../shared/atomicFile";
import { ANALYZER_LOCK, TRAINER_LOCK } from "../shared/runLock";
import type { TrainerEvent } from "../shared/trainerProtocol";
import type { Emit } from "./errors";
import type { Job, JobResult, WorkerMessage, WorkerStart } from "./jobs";
import { markAbandonedRun, RunFolder } from "./runFolder";
import { rmSync } from "node:fs";

/** How long a stop request may go unanswered before the worker is terminated (at least). */
export const STOP_GRACE_MS = 3000;

export interface JobHandle {
  readonly done: Promise<JobResult>;
  /** Graceful stop; terminates the worker if it does not answer within STOP_GRACE_MS. */
  stop(): void;
  /** Terminates the worker now. */
  kill(): void;
}

export interface JobOutput {
  emit: Emit;
  /** The worker's console output (user `console.log`, library warnings). */
  output: (stream: "stdout" | "stderr", text: string) => void;
}

/** The experiment file a job will load, when it can be told without running anything. */
function experimentFileOf(job: Job): string | undefined {
  let runDir: string;
  if (job.kind === "list") return job.file;
  if (job.kind === "sweepPlan") return job.request.file;
  if (job.kind === "lmc") runDir = job.request.runA;
  else if (job.kind === "interventionReport") runDir = job.request.branchDir;
  else if (job.kind === "calibrationReport") return undefined;
  else if (job.kind === "analyze") {
    if (job.request.file) return job.request.file;
    runDir = job.request.runDir;
  } else if (job.request.kind === "train") return job.request.file;
  else runDir = job.request.kind === "branch" ? job.request.parentDir : job.request.runDir;
  try {
    return new RunFolder(runDir).readManifest().experiment?.path;
  } catch {
    return undefined;
  }
}

function workerPath(): string {
  return join(__dirname, "worker.js");
}

export function startJob(job: Job, out: JobOutput): JobHandle {
  const stopBuffer = new SharedArrayBuffer(4);
  const stopFlag = new Int32Array(stopBuffer);
  const experimentFile = experimentFileOf(job);
  const start: WorkerStart = { job, stopFlag: stopBuffer, experimentFile };
  const worker = new Worker(workerPath(), { workerData: start, stdout: true, stderr: true });
  worker.stdout.setEncoding("utf8");
  worker.stderr.setEncoding("utf8");
  worker.stdout.on("data", (text: string) => out.output("stdout", text));
  worker.stderr.on("data", (text: string) => out.output("stderr", text));

  // What the host knows of the job, to report it if the worker never returns.
  const seen: { runDir?: string; step: number; exitCall?: string; stopAsked: boolean; killed?: string } = {
    step: 0,
    stopAsked: false,
  };
  let result: JobResult | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  // The longest silence between two messages of the worker: how slow its steps are.
  let lastMessage: number | undefined;
  let longestQuiet = 0;

  const done = new Promise<JobResult>((resolve) => {
    worker.on("message", (m: WorkerMessage) => {
      const t = Date.now();
      if (lastMessage !== undefined) longestQuiet = Math.max(longestQuiet, t - lastMessage);
      lastMessage = t;
      switch (m.type) {
        case "event":
          track(seen, m.event);
          out.emit(m.event);
          break;
        case "stopAck":
          clearTimeout(graceTimer);
          break;
        case "exitCalled":
          seen.exitCall = `the experiment called process.exit(${m.code})${m.where ? ` at ${m.where}` : ""}`;
          break;
        case "result":
          result = m.result;
          clearTimeout(graceTimer);
          // The job is done: nothing the experiment left running may keep the process alive.
          void worker.terminate();
          resolve(m.result);
          break;
      }
    });
    worker.on("error", (e) => {
      seen.killed ??= `the trainer's worker failed: ${e.stack ?? e.message}`;
    });
    worker.on("exit", () => {
      clearTimeout(graceTimer);
      if (result) return;
      const why = seen.killed ?? seen.exitCall ?? "the trainer's worker ended without a result";
      resolve(abandoned(job, seen, why, out.emit, experimentFile));
    });
  });

  const kill = (why: string) => {
    if (result) return;
    seen.killed ??= why;
    void worker.terminate();
  };
  return {
    done,
    stop() {
      if (seen.stopAsked || result) return;
      seen.stopAsked = true;
      Atomics.store(stopFlag, 0, 1);
      worker.postMessage({ type: "stop" });
      const where = job.kind === "run" ? (seen.runDir ? `at step ${seen.step}` : "while loading the experiment") : "";
      const grace = Math.max(STOP_GRACE_MS, 3 * longestQuiet);
      graceTimer = setTimeout(
        () =>
          kill(
            `stopped: the experiment code did not return within ${Math.round(grace / 100) / 10} s of the stop request ${where}`.trim(),
          ),
        grace,
      );
    },
    kill() {
      kill(
        `stopped at once (second interrupt)${seen.runDir ? ` at step ${seen.step}` : ""}: the experiment code was terminated`,
      );
    },
  };
}

function track(seen: { runDir?: string; step: number }, e: TrainerEvent): void {
  if (e.type === "started") {
    seen.runDir = e.runDir;
    seen.step = e.fromStep;
  } else if (e.type === "progress" || e.type === "metrics" || e.type === "checkpoint")
    seen.step = Math.max(seen.step, e.step);
}

/**
 * The worker ended without a result: reports why, marks a run it left "running" as failed (its
 * checkpoints are intact and it can be resumed), and removes the locks this process held.
 */
function abandoned(
  job: Job,
  seen: { runDir?: string; step: number },
  why: string,
  emit: Emit,
  experimentFile: string | undefined,
): JobResult {
  const location = /process\.exit\(.*\) at (.+):(\d+):(\d+)$/.exec(why);
  const error: TrainerEvent & { type: "error" } = {
    type: "error",
    kind: "runtime",
    message: why,
    ...(location && experimentFile
      ? { location: { file: location[1]!, line: Number(location[2]), column: Number(location[3]) } }
      : {}),
  };
  emit(error);
  if (job.kind === "list") return { kind: "listFailed", error };
  if (job.kind === "sweepPlan") return { kind: "sweepPlanFailed", error, exitCode: 1 };
  if (job.kind === "lmc") return { kind: "lmc", outcome: { ok: false, error } };
  if (job.kind === "analyze") {
    const runDir = job.request.runDir;
    releaseOwnLock(join(runDir, ANALYZER_LOCK));
    emit({ type: "analyzerFinished", status: "failed", runDir, records: 0, message: why });
    return { kind: "analyze", outcome: { status: "failed", records: 0, message: why } };
  }
  const runDir = seen.runDir;
  let message = why;
  if (runDir) {
    const folder = new RunFolder(runDir);
    const steps = folder.checkpointSteps();
    message = `${why}. ${steps.length ? `Checkpoints up to step ${steps.at(-1)} are intact; \`lm resume\` continues from there` : "No checkpoint was written"}.`;
    markAbandonedRun(runDir, process.pid, message);
    releaseOwnLock(join(runDir, TRAINER_LOCK));
  }
  emit({ type: "finished", status: "failed", step: seen.step, ...(runDir ? { runDir } : {}), message });
  return { kind: "run", outcome: { status: "failed", step: seen.step, message, exitCode: 1 } };
}

/** Removes a lock file whose owner is this process (the worker that took it is gone). */
function releaseOwnLock(path: string): void {
  const r = readJsonFileSync(path);
  if (r.ok && typeof r.value === "object" && r.value !== null && "pid" in r.value && r.value.pid === process.pid)
    rmSync(path, { force: true });
}
