// Runs the analyzer (the trainer sidecar's `analyze` request) on run folders: when a checkpoint
// appears (the watcher says so), when a training this window started is under way (following it),
// and when a panel asks for a re-run with other settings. One analyzer per run folder at a time,
// at most `maxConcurrent` in all; a request for a run already being analysed is remembered and
// served when that analyzer exits, so bursts of checkpoints cost one pass. No `vscode` import.
import type { AnalysesInput, AnalysisName } from "../sdk/spec";
import type { TrainerEvent } from "../shared/trainerProtocol";
import { CHECKPOINT_ANALYSES } from "../shared/analysisFormat";
import { type Disposable, Emitter, type Event } from "./events";
import type { RunEntry } from "./runIndex";
import { type Launch, type Log, TrainerProcess, TrainerStartError } from "./supervisor";
import type { RunFolderChange } from "./watcher";

export interface AnalyzeJob {
  runDir: string;
  overrides?: AnalysesInput;
  only?: AnalysisName[];
  follow?: boolean;
  backend?: string;
}

/** What the analyzer of a run is doing, for panels and the status bar. */
export type AnalyzerState =
  | { kind: "queued"; runDir: string }
  | { kind: "running"; runDir: string; pid: number | undefined; last?: { analysis: AnalysisName; step: number } }
  | { kind: "finished"; runDir: string; records: number }
  | { kind: "stopped"; runDir: string }
  | { kind: "failed"; runDir: string; message: string };

export interface AnalyzerPoolOptions {
  launch: (runDir: string) => Launch;
  log: Log;
  maxConcurrent: () => number;
  startTimeoutMs: number;
  /**
   * A pass whose analyzer did not start in time (a loaded machine) is tried again after this long,
   * then twice as long, MAX_START_RETRIES times in all before the run is marked failed. Default 5 s.
   */
  startRetryMs?: number;
  /**
   * The experiment file of this run that may be loaded (a trusted workspace, a file inside it), or
   * undefined: then only the weight-space analysis runs, which loads no experiment code. The
   * analyzer loads only a file its request names.
   */
  experimentFile: (runDir: string) => string | undefined;
}

interface Slot {
  job: AnalyzeJob;
  process?: TrainerProcess;
  /** Another request arrived while this one ran: run again afterwards (the latest wins). */
  again?: AnalyzeJob;
}

/** How often a pass whose analyzer did not start in time is tried again. */
export const MAX_START_RETRIES = 2;

export class AnalyzerPool implements Disposable {
  private readonly changed = new Emitter<AnalyzerState>();
  private readonly recorded = new Emitter<{ runDir: string; analysis: AnalysisName; step: number }>();
  /** Fired on every state change and every record written. */
  readonly onDidChange: Event<AnalyzerState> = this.changed.event;
  /** Fired for each record appended, so panels can reload just that analysis. */
  readonly onRecord: Event<{ runDir: string; analysis: AnalysisName; step: number }> = this.recorded.event;
  private readonly running = new Map<string, Slot>();
  private readonly queue: AnalyzeJob[] = [];
  private readonly states = new Map<string, AnalyzerState>();
  /**
   * The last settings a run was re-analysed with, reused by later passes on it (new checkpoints of
   * a live run): otherwise the next pass, with the experiment file's settings, would archive the
   * results just asked for and compute the old ones again.
   */
  private readonly overrides = new Map<string, AnalysesInput>();
  /** Passes of a run in a row whose analyzer did not start in time. */
  private readonly startFailures = new Map<string, number>();
  /** A retry waiting to start, by run folder (stop() cancels it). */
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private disposed = false;

  constructor(private readonly options: AnalyzerPoolOptions) {}

  state(runDir: string): AnalyzerState | undefined {
    return this.states.get(runDir);
  }

  /** Queues an analysis of a run; coalesces with one queued or running for the same folder. */
  request(job: AnalyzeJob): void {
    if (this.disposed) return;
    const fresh = job.overrides !== undefined;
    if (job.overrides) this.overrides.set(job.runDir, mergeOverrides(this.overrides.get(job.runDir), job.overrides));
    const sticky = this.overrides.get(job.runDir);
    if (sticky) job = { ...job, overrides: sticky };
    const slot = this.running.get(job.runDir);
    if (slot) {
      // New settings replace the running pass; a plain "new checkpoints" request waits for it.
      if (fresh) {
        slot.again = job;
        slot.process?.stop(3000);
      } else slot.again ??= job;
      return;
    }
    const queued = this.queue.findIndex((j) => j.runDir === job.runDir);
    // The newer request carries the sticky settings too; a follow asked for earlier is kept.
    if (queued >= 0) this.queue[queued] = { ...job, ...(this.queue[queued]!.follow ? { follow: true } : {}) };
    else {
      this.queue.push(job);
      this.set({ kind: "queued", runDir: job.runDir });
    }
    this.pump();
  }

  /** Stops the analyzer of a run (and forgets a queued one). */
  stop(runDir: string): void {
    const retry = this.retryTimers.get(runDir);
    if (retry !== undefined) {
      clearTimeout(retry);
      this.retryTimers.delete(runDir);
      this.set({ kind: "stopped", runDir });
    }
    const i = this.queue.findIndex((j) => j.runDir === runDir);
    if (i >= 0) this.queue.splice(i, 1);
    const slot = this.running.get(runDir);
    if (slot) {
      delete slot.again;
      slot.process?.stop(3000);
    }
  }

  private set(state: AnalyzerState): void {
    this.states.set(state.runDir, state);
    this.changed.fire(state);
  }

  private pump(): void {
    while (!this.disposed && this.running.size < this.options.maxConcurrent() && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const slot: Slot = { job };
      this.running.set(job.runDir, slot);
      void this.run(slot);
    }
  }

  private async run(slot: Slot): Promise<void> {
    const { job } = slot;
    const { log } = this.options;
    let finished: Extract<TrainerEvent, { type: "analyzerFinished" }> | undefined;
    let error: string | undefined;
    try {
      const process = await TrainerProcess.start(this.options.launch(job.runDir), log, {
        timeoutMs: this.options.startTimeoutMs,
      });
      slot.process = process;
      this.set({ kind: "running", runDir: job.runDir, pid: process.pid });
      process.onEvent((e) => {
        if (e.type === "analysis") {
          this.set({
            kind: "running",
            runDir: job.runDir,
            pid: process.pid,
            last: { analysis: e.analysis, step: e.step },
          });
          this.recorded.fire({ runDir: job.runDir, analysis: e.analysis, step: e.step });
        } else if (e.type === "analyzerFinished") finished = e;
        else if (e.type === "error") error = e.message;
        else if (e.type === "log")
          log[e.level === "info" ? "info" : e.level === "warn" ? "warn" : "error"](
            `analyzer ${job.runDir}: ${e.message}`,
          );
      });
      const file = this.options.experimentFile(job.runDir);
      const only = file !== undefined ? job.only : [...CHECKPOINT_ANALYSES];
      if (file === undefined)
        log.info(
          `analyzer ${job.runDir}: the workspace is not trusted or the experiment file is outside it, so only the checkpoint analyses run (weights, conservation laws: they load no experiment code)`,
        );
      process.send({
        type: "analyze",
        runDir: job.runDir,
        ...(file !== undefined ? { file } : {}),
        ...(job.overrides ? { overrides: job.overrides } : {}),
        ...(only ? { only } : {}),
        ...(job.follow ? { follow: true } : {}),
        ...(job.backend ? { backend: job.backend } : {}),
      });
      const exit = await process.exited;
      process.dispose();
      if (!finished)
        error ??= `the analyzer exited unexpectedly (code ${exit.code}, signal ${exit.signal})${process.stderr ? `: ${process.stderr.trim().slice(-500)}` : ""}`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      const failures = (this.startFailures.get(job.runDir) ?? 0) + 1;
      if (e instanceof TrainerStartError && e.timedOut && failures <= MAX_START_RETRIES && !this.disposed) {
        // Not ready in time: the machine is busy, not the analyzer broken. The run's checkpoints
        // may all be written by now, so no later event would ask again: try again, later.
        this.startFailures.set(job.runDir, failures);
        this.running.delete(job.runDir);
        const delay = (this.options.startRetryMs ?? 5000) * 2 ** (failures - 1);
        log.warn(`analyzer ${job.runDir}: ${error}; trying again in ${Math.round(delay / 1000)} s`);
        this.set({ kind: "queued", runDir: job.runDir });
        this.retryTimers.set(
          job.runDir,
          setTimeout(() => {
            this.retryTimers.delete(job.runDir);
            this.request(slot.again ?? job);
          }, delay),
        );
        this.pump();
        return;
      }
    }
    if (finished) this.startFailures.delete(job.runDir);
    this.running.delete(job.runDir);
    if (finished && finished.status !== "failed") {
      this.set(
        finished.status === "finished"
          ? { kind: "finished", runDir: job.runDir, records: finished.records }
          : { kind: "stopped", runDir: job.runDir },
      );
    } else {
      const message = finished?.message ?? error ?? "unknown error";
      log.error(`analyzer ${job.runDir} failed: ${message}`);
      this.set({ kind: "failed", runDir: job.runDir, message });
    }
    if (slot.again && !this.disposed) this.request(slot.again);
    this.pump();
  }

  /** Stops every analyzer (they finish their current record) and waits for them, at most `graceMs`. */
  async shutdown(graceMs: number): Promise<void> {
    this.disposed = true;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.queue.length = 0;
    const exits = [...this.running.values()].map((s) => {
      s.process?.stop(graceMs);
      return s.process?.exited;
    });
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, graceMs + 200))]);
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    for (const s of this.running.values()) s.process?.kill();
    this.changed.dispose();
    this.recorded.dispose();
  }
}

/** Per analysis, the newer fields over the older ones. */
function mergeOverrides(older: AnalysesInput | undefined, newer: AnalysesInput): AnalysesInput {
  const out: Record<string, unknown> = { ...older };
  for (const [k, v] of Object.entries(newer)) out[k] = { ...(out[k] as object | undefined), ...(v as object) };
  return out as AnalysesInput;
}

/**
 * Whether a change the watcher reports calls for an analyzer pass on its run (when runs are
 * analysed automatically): new checkpoints, unless this window trains the run (it follows it
 * already); and a run that has just ended (`entry`: the index's entry re-read for a run.json
 * change), once more: a checkpoint event lost on the way, or a pass that failed while the run was
 * still writing, must not leave its last checkpoints unanalysed for good. A pass is incremental:
 * with nothing due it does nothing.
 */
export function analysisDue(change: RunFolderChange, entry: RunEntry | undefined, followed: boolean): boolean {
  if (change.removed || followed) return false;
  const ended = change.manifest && entry !== undefined && entry.status !== "invalid" && entry.status !== "running";
  return change.checkpoints || ended;
}
