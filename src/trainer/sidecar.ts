// The trainer as a sidecar of the extension: trainerProtocol.ts over stdio.
// stdout carries protocol lines only; anything else (user console.log, tfjs warnings) becomes a
// `log` event. One job per process (train, resume or analyze; `list` any number of times before);
// the process exits after `finished`. The experiment's code runs in a worker thread (jobHost.ts),
// so `stop`, SIGINT and SIGTERM always get through: graceful first, and the worker is terminated
// if its code does not return. If stdin closes (the extension went away), a running job stops
// gracefully, so no orphan keeps running.
import { format } from "node:util";
import {
  encodeMessage,
  LineSplitter,
  parseTrainerRequest,
  PROTOCOL_VERSION,
  type TrainerEvent,
} from "../shared/trainerProtocol";
import { type JobHandle, startJob } from "./jobHost";
import type { Job, JobResult } from "./jobs";
import { VERSION } from "./version";

const out = process.stdout;
const emit = (event: TrainerEvent): void => {
  out.write(encodeMessage(event));
};

// Route every console method through `log` events so nothing else reaches stdout.
for (const [method, level] of [
  ["log", "info"],
  ["info", "info"],
  ["debug", "info"],
  ["warn", "warn"],
  ["error", "error"],
] as const) {
  console[method] = (...args: unknown[]) => emit({ type: "log", level, message: format(...args) });
}

/** The worker's console output, line by line, as `log` events. */
const workerOutput = {
  stdout: new LineSplitter((line) => emit({ type: "log", level: "info", message: line })),
  stderr: new LineSplitter((line) => emit({ type: "log", level: "warn", message: line })),
};

/** The job running now (the one long job, or a `list`). */
let current: JobHandle | undefined;
let busy = false;
let stopRequested = false;

function run(job: Job): Promise<JobResult> {
  const handle = startJob(job, { emit, output: (stream, text) => workerOutput[stream].push(text) });
  current = handle;
  if (stopRequested && job.kind !== "list") handle.stop();
  return handle.done.finally(() => {
    if (current === handle) current = undefined;
  });
}

/** Let stdout drain, then leave with a code that tells the supervisor what happened. */
function exitAfter(failed: boolean): void {
  workerOutput.stdout.end();
  workerOutput.stderr.end();
  out.write("", () => process.exit(failed ? 1 : 0));
}

function stop(): void {
  stopRequested = true;
  // Idle: nothing to stop, leave. A request read before this stop and still queued (train, then
  // stop at once) is not idle: its job starts stopped (run), rather than the process leaving
  // with the request unanswered.
  if (!busy && queued === 0) process.exit(0);
  current?.stop();
}

/** The backend fields of a train or resume request that are set (absent ones stay absent). */
function backendChoice(r: { backend?: string; python?: string; device?: string; threads?: number }): {
  backend?: string;
  python?: string;
  device?: string;
  threads?: number;
} {
  return {
    ...(r.backend ? { backend: r.backend } : {}),
    ...(r.python ? { python: r.python } : {}),
    ...(r.device ? { device: r.device } : {}),
    ...(r.threads !== undefined ? { threads: r.threads } : {}),
  };
}

async function handle(line: string): Promise<void> {
  const request = parseTrainerRequest(line);
  if (!request) {
    emit({ type: "log", level: "warn", message: `ignored a line that is not a request: ${line.slice(0, 200)}` });
    return;
  }
  switch (request.type) {
    case "stop":
      stop();
      return;
    case "list": {
      const result = await run({ kind: "list", file: request.file });
      if (result.kind === "list") emit({ type: "systems", ...result.listed });
      else if (result.kind === "listFailed") emit(result.error);
      // A stop that came while this list was queued or running: leave once idle, as stop() would have.
      if (stopRequested && !busy && queued === 0) exitAfter(false);
      return;
    }
    case "analyze": {
      if (busy) {
        emit({ type: "error", kind: "usage", message: "this process is already busy; start another one" });
        return;
      }
      busy = true;
      const { type: _type, ...rest } = request;
      const result = await run({ kind: "analyze", request: rest });
      exitAfter(result.kind !== "analyze" || result.outcome.status === "failed");
      return;
    }
    case "train":
    case "resume": {
      if (busy) {
        emit({
          type: "error",
          kind: "usage",
          message: "this trainer is already training; start another trainer process",
        });
        return;
      }
      busy = true;
      const job: Job =
        request.type === "train"
          ? {
              kind: "run",
              request: {
                kind: "train",
                file: request.file,
                system: request.system,
                ...(request.runsRoot ? { runsRoot: request.runsRoot } : {}),
                ...(request.runDir ? { runDir: request.runDir } : {}),
                ...backendChoice(request),
                ...(request.steps !== undefined ? { steps: request.steps } : {}),
              },
            }
          : { kind: "run", request: { kind: "resume", runDir: request.runDir, ...backendChoice(request) } };
      const result = await run(job);
      exitAfter(result.kind !== "run" || result.outcome.status === "failed");
      return;
    }
  }
}

// Requests are handled one at a time, in order; `stop` jumps the queue (it must reach a job that
// is still running).
let queue = Promise.resolve();
/** Requests read and not yet handled (a stop never waits in the queue). */
let queued = 0;
const splitter = new LineSplitter((line) => {
  if (parseTrainerRequest(line)?.type === "stop") {
    void handle(line);
    return;
  }
  queued += 1;
  queue = queue.then(() => {
    queued -= 1;
    return handle(line);
  });
});
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => splitter.push(chunk));
process.stdin.on("end", () => {
  splitter.end();
  stopRequested = true;
  current?.stop();
  if (!busy)
    queue.then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
// A second signal terminates the job's worker at once.
let signals = 0;
const onSignal = () => {
  signals += 1;
  if (signals === 1) stop();
  else current?.kill();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

emit({ type: "ready", protocol: PROTOCOL_VERSION, pid: process.pid, version: VERSION });
