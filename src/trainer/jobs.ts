// What the CLI and the sidecar hand to the job worker (worker.ts) and what comes back: the
// messages between the main thread, which stays responsive to signals, and the worker thread,
// where the experiment file's code runs (see jobHost.ts).
import type { AnalyzeOutcome, AnalyzeRequest } from "./analyzer/index";
import type { SystemSummary, TrainerEvent } from "../shared/trainerProtocol";
import type { CalibrationOutcome, CalibrationReportRequest } from "./analyzer/calibrate";
import type { InterventionReportOutcome, InterventionReportRequest } from "./analyzer/interventionReport";
import type { LmcOutcome, LmcRequest } from "./lmc";
import type { ErrorEvent, RunOutcome, RunRequest, SweepPlanRequest, SweepPlanResult } from "./session";

export type Job =
  | { kind: "run"; request: RunRequest }
  | { kind: "analyze"; request: AnalyzeRequest }
  | { kind: "list"; file: string }
  /** `lm sweep FILE`: load the file and expand the system's sweep (the launcher runs in the main thread). */
  | { kind: "sweepPlan"; request: SweepPlanRequest }
  | { kind: "lmc"; request: LmcRequest }
  /** `lm intervene`: predicted against actual for an intervention branch (interventionReport.ts). */
  | { kind: "interventionReport"; request: InterventionReportRequest }
  /** `lm calibrate`: every subset's report and the datamodeling score (calibrate.ts). */
  | { kind: "calibrationReport"; request: CalibrationReportRequest };

export type JobResult =
  | { kind: "run"; outcome: RunOutcome }
  | { kind: "analyze"; outcome: AnalyzeOutcome }
  | { kind: "list"; listed: { file: string; systems: SystemSummary[] } }
  | { kind: "listFailed"; error: ErrorEvent }
  | SweepPlanResult
  | { kind: "lmc"; outcome: { ok: true; lmc: LmcOutcome } | { ok: false; error: ErrorEvent } }
  | {
      kind: "interventionReport";
      outcome: { ok: true; report: InterventionReportOutcome } | { ok: false; error: ErrorEvent };
    }
  | {
      kind: "calibrationReport";
      outcome: { ok: true; calibration: CalibrationOutcome } | { ok: false; error: ErrorEvent };
    };

/** What the worker is started with. */
export interface WorkerStart {
  job: Job;
  /** Int32Array[1] over it: 1 once a stop was asked for (read without waiting for the event loop). */
  stopFlag: SharedArrayBuffer;
  /** The experiment file, when known, to locate a `process.exit` call in it. */
  experimentFile: string | undefined;
}

/** Worker → main thread. */
export type WorkerMessage =
  | { type: "event"; event: TrainerEvent }
  | { type: "result"; result: JobResult }
  /** The worker saw the stop request: its event loop turns, so a graceful stop is under way. */
  | { type: "stopAck" }
  /** User code called process.exit (which, in a worker, ends the worker only). */
  | { type: "exitCalled"; code: string; where: string | undefined };

/** Main thread → worker. */
export type HostMessage = { type: "stop" };
