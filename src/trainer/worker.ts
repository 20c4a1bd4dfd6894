// The job worker: runs one job (train, resume, branch, analyze, list or lmc) in a worker thread, so that the
// experiment file's code — its import, custom tasks and models — never blocks the main thread,
// which can therefore always answer a signal and, if the code does not return, terminate it.
// Events go to the main thread as messages; console output goes to the worker's stdout/stderr,
// which the main thread routes (stderr for the CLI, `log` events for the sidecar).
import { parentPort, workerData } from "node:worker_threads";
import type { HostMessage, JobResult, WorkerMessage, WorkerStart } from "./jobs";
import { reportCalibration } from "./analyzer/calibrate";
import { reportIntervention } from "./analyzer/interventionReport";
import { runLmc } from "./lmc";
import { locationInStack } from "./loadExperiment";
import { analyzeRequest, errorEvent, listSystems, planSweep, runRequest } from "./session";

function isWorkerStart(v: unknown): v is WorkerStart {
  return (
    typeof v === "object" && v !== null && "job" in v && "stopFlag" in v && v.stopFlag instanceof SharedArrayBuffer
  );
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port || !isWorkerStart(workerData)) throw new Error("worker.js runs as a worker thread of the trainer");
  const start = workerData;
  const post = (m: WorkerMessage) => port.postMessage(m);
  const stopFlag = new Int32Array(start.stopFlag);
  let acknowledged = false;
  const acknowledge = () => {
    if (acknowledged) return;
    acknowledged = true;
    post({ type: "stopAck" });
  };
  // Read after every training step, without waiting for the event loop: the step after a stop
  // request says so at once, however long the steps are.
  let looping = false;
  const shouldStop = () => {
    looping = true;
    const stop = Atomics.load(stopFlag, 0) === 1;
    if (stop) acknowledge();
    return stop;
  };
  // An acknowledgement cancels the host's kill timer, so it promises that the job will end on its
  // own: true once its loop reads the flag, not before. A stop seen while the experiment is still
  // being bundled (esbuild is asynchronous) must not be acknowledged: its import runs next, and
  // may never return.
  port.on("message", (m: HostMessage) => {
    if (m.type === "stop" && looping) acknowledge();
  });

  // In a worker, process.exit ends the thread only: say where the experiment called it, then let it.
  const exit = process.exit.bind(process);
  process.exit = (code) => {
    const location = start.experimentFile ? locationInStack(new Error().stack, start.experimentFile) : undefined;
    post({
      type: "exitCalled",
      code: String(code ?? process.exitCode ?? 0),
      where: location && `${location.file}:${location.line}:${location.column}`,
    });
    return exit(code);
  };

  const emit = (event: WorkerMessage & { type: "event" }) => post(event);
  const send = (event: Parameters<typeof emit>[0]["event"]) => emit({ type: "event", event });
  const { job } = start;
  let result: JobResult;
  if (job.kind === "run") result = { kind: "run", outcome: await runRequest(job.request, send, shouldStop) };
  else if (job.kind === "analyze")
    result = { kind: "analyze", outcome: await analyzeRequest(job.request, send, shouldStop) };
  else if (job.kind === "sweepPlan") result = await planSweep(job.request);
  else if (job.kind === "lmc") {
    try {
      result = { kind: "lmc", outcome: { ok: true, lmc: await runLmc(job.request, send) } };
    } catch (e) {
      result = { kind: "lmc", outcome: { ok: false, error: errorEvent(e, start.experimentFile) } };
    }
  } else if (job.kind === "calibrationReport") {
    try {
      result = {
        kind: "calibrationReport",
        outcome: { ok: true, calibration: await reportCalibration(job.request, send) },
      };
    } catch (e) {
      result = { kind: "calibrationReport", outcome: { ok: false, error: errorEvent(e, start.experimentFile) } };
    }
  } else if (job.kind === "interventionReport") {
    try {
      result = {
        kind: "interventionReport",
        outcome: { ok: true, report: await reportIntervention(job.request, send) },
      };
    } catch (e) {
      result = { kind: "interventionReport", outcome: { ok: false, error: errorEvent(e, start.experimentFile) } };
    }
  } else {
    try {
      result = { kind: "list", listed: await listSystems(job.file) };
    } catch (e) {
      result = { kind: "listFailed", error: errorEvent(e, job.file) };
    }
  }
  post({ type: "result", result });
}

void main();
