// The extension ↔ trainer boundary: JSON lines over stdio. The trainer writes one `TrainerEvent`
// per line on stdout; the extension writes one `TrainerRequest` per line on stdin. Nothing else is
// ever written to stdout by the trainer (user `console.log` is redirected into `log` events).
// Bump PROTOCOL_VERSION on any incompatible change; `ready` carries it so a mismatch is caught.

import type { AnalysesInput, AnalysisName } from "../sdk/spec";
import type { BackendInfo, RunStatus } from "./runFormat";

export const PROTOCOL_VERSION = 1;

export interface Location {
  file: string;
  line: number;
  column: number;
}

/** Summary of one model system found in an experiment file. */
export interface SystemSummary {
  name: string;
  /** Where `modelSystem(...)` was called. */
  location?: Location;
  /** One line, e.g. "modularArithmetic p=97 · mlp [256] · adamw lr=0.001 · 20000 steps". */
  description: string;
  /** Config problems, each naming a field; empty when valid. */
  problems: ConfigProblem[];
  /** The system's sweep, when it declares a valid one (docs/sweeps.md): its runs, and "12 runs = 2 × 2 × 3 seeds". */
  sweep?: { runs: number; text: string };
  /** A valid system's seed, steps and checkpoint interval (what `lm imp` checks its options against). */
  training?: { seed: number; steps: number; checkpointEvery: number };
}

export interface ConfigProblem {
  /** Dotted path of the field, e.g. "task.trainFraction". */
  path: string;
  /** What is wrong, e.g. "must be in (0, 1]". */
  message: string;
  location?: Location;
}

/** `usage`: a mistake in what was asked that is not a config field (a folder that is not a run, a run in use). */
export type ErrorKind = "syntax" | "config" | "runtime" | "io" | "backend" | "usage" | "internal";

/** Trainer → extension. */
export type TrainerEvent =
  /** First line: the trainer started and speaks this protocol version. */
  | { type: "ready"; protocol: number; pid: number; version: string }
  /** Reply to `list`. */
  | { type: "systems"; file: string; systems: SystemSummary[] }
  /** A run began (or resumed): its folder and backend. */
  | {
      type: "started";
      runDir: string;
      runId: string;
      system: string;
      backend: BackendInfo;
      totalSteps: number;
      fromStep: number;
    }
  /**
   * Throttled (at most a few per second): the latest training step. `loss` is null when it is not
   * finite (JSON has no NaN) or, from a Python script's logger, when no loss is logged.
   */
  | { type: "progress"; step: number; totalSteps: number; loss: number | null; stepsPerSecond: number }
  /** A metrics line was appended to metrics.jsonl. */
  | { type: "metrics"; step: number; values: Record<string, number | null> }
  /** A checkpoint file was written (already renamed into place). */
  | { type: "checkpoint"; step: number; path: string; bytes: number }
  /** Free text from the trainer or from user code (`console.log` in an experiment file). */
  | { type: "log"; level: "info" | "warn" | "error"; message: string }
  /** Something failed. `location` points into the experiment file when the cause is there. */
  | { type: "error"; kind: ErrorKind; message: string; location?: Location; problems?: ConfigProblem[] }
  /** The run ended; the trainer exits after this line. */
  | { type: "finished"; status: Exclude<RunStatus, "running">; step: number; runDir?: string; message?: string }
  /** The analyzer appended a record for `step` to analyses/<analysis>.jsonl. */
  | { type: "analysis"; analysis: AnalysisName; step: number; seconds: number }
  /** The analyzer stopped: everything due is written (`finished`), it was asked to stop, or it failed. It exits after this line. */
  | {
      type: "analyzerFinished";
      status: "finished" | "stopped" | "failed";
      runDir: string;
      records: number;
      message?: string;
    };

/** Extension → trainer. */
export type TrainerRequest =
  /** List the model systems of a file (answered by `systems`). */
  | { type: "list"; file: string }
  /**
   * Train one system into a new run folder under `runsRoot` (or exactly `runDir`); `steps` overrides its step count.
   * `python` (the interpreter), `device` (cpu, cuda, cuda:N, mps) and `threads` (PyTorch's CPU threads; absent: its
   * default, one per core) are for the torch backend, and for `auto`, which may choose it.
   */
  | {
      type: "train";
      file: string;
      system: string;
      runsRoot?: string;
      runDir?: string;
      backend?: string;
      python?: string;
      device?: string;
      threads?: number;
      steps?: number;
    }
  /** Continue a stopped run from its last checkpoint. */
  | { type: "resume"; runDir: string; backend?: string; python?: string; device?: string; threads?: number }
  /**
   * Analyse a run's checkpoints into its analyses/ folder; with `follow`, keep going while the run
   * trains. `file` is the experiment file to load for the analyses that need the model: loading it
   * runs its code, so without `file` only the weight-space analysis runs (never run.json's file).
   */
  | {
      type: "analyze";
      runDir: string;
      file?: string;
      overrides?: AnalysesInput;
      only?: AnalysisName[];
      follow?: boolean;
      backend?: string;
    }
  /** Training: finish the current step, write a final checkpoint, set status "stopped", exit. Analysis: finish the current record, exit. */
  | { type: "stop" };

const EVENT_TYPES = new Set([
  "ready",
  "systems",
  "started",
  "progress",
  "metrics",
  "checkpoint",
  "log",
  "error",
  "finished",
  "analysis",
  "analyzerFinished",
]);
const REQUEST_TYPES = new Set(["list", "train", "resume", "analyze", "stop"]);

/** Encodes a message as one line. */
export function encodeMessage(message: TrainerEvent | TrainerRequest): string {
  return `${JSON.stringify(message)}\n`;
}

function parseTyped(line: string, types: Set<string>): { type: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  return typeof type === "string" && types.has(type) ? (value as { type: string }) : undefined;
}

/** Parses a line from the trainer's stdout; undefined when it is not a protocol event. */
export function parseTrainerEvent(line: string): TrainerEvent | undefined {
  return parseTyped(line, EVENT_TYPES) as TrainerEvent | undefined;
}

/** Parses a line from the trainer's stdin; undefined when it is not a protocol request. */
export function parseTrainerRequest(line: string): TrainerRequest | undefined {
  return parseTyped(line, REQUEST_TYPES) as TrainerRequest | undefined;
}

/**
 * Splits a byte stream into lines, keeping a partial last line until its newline arrives.
 * Feed it chunks; it calls `onLine` for each complete line.
 */
export class LineSplitter {
  private pending = "";
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: string): void {
    const parts = (this.pending + chunk).split("\n");
    this.pending = parts.pop() ?? "";
    for (const part of parts) if (part.trim() !== "") this.onLine(part);
  }
  /** Call at end of stream: a final line without newline is still delivered. */
  end(): void {
    if (this.pending.trim() !== "") this.onLine(this.pending);
    this.pending = "";
  }
}
