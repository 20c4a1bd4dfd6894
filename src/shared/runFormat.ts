// The run folder: the contract between whatever trains (our trainer, a Python script, another
// machine) and whatever reads (the extension, the analyzer). Documented for humans in
// docs/run-format.md; keep the two in step. No tensor library and no `vscode` here.

export const RUN_FORMAT_VERSION = 1;

export const RUN_MANIFEST = "run.json";
export const METRICS_FILE = "metrics.jsonl";
export const CHECKPOINT_DIR = "checkpoints";
export const ANALYSES_DIR = "analyses";

/** `checkpoints/step-00001200.safetensors`: zero-padded so a plain sort is step order. */
export function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(8, "0")}.safetensors`;
}

/** The step of a checkpoint file name, or undefined for anything else (temporary files included). */
export function parseCheckpointFileName(name: string): number | undefined {
  const m = /^step-(\d+)\.safetensors$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Prefix of optimizer-state tensors inside a checkpoint; everything else is a model parameter. */
export const OPTIMIZER_TENSOR_PREFIX = "optimizer/";

/** A run's life. `diverged`: a non-finite loss at `divergedAtStep`; `stopped`: asked to stop. */
export type RunStatus = "running" | "finished" | "failed" | "diverged" | "stopped";
export const RUN_STATUSES: readonly RunStatus[] = ["running", "finished", "failed", "diverged", "stopped"];

export interface BackendInfo {
  /** tfjs backend name: "tensorflow" (tfjs-node or tfjs-node-gpu), "wasm", "cpu", or another framework's name. */
  name: string;
  /** Human-readable reason this backend was chosen, e.g. "auto: @tensorflow/tfjs-node-gpu not installed". */
  reason: string;
  /** Package that provided it, when there is one. */
  package?: string;
  /** Library versions, free-form. */
  versions?: Record<string, string>;
}

export interface RunError {
  message: string;
  /** Where in the experiment file, when the error came from user code or config. */
  location?: { file: string; line: number; column: number };
}

/** run.json. Written atomically, rewritten on every status change. */
export interface RunManifest {
  format: "learning-mechanics/run";
  formatVersion: number;
  /** Stable id, also the folder name by default: `<system>-<UTC time>-<4 hex>`. */
  id: string;
  system: string;
  experiment: {
    /** Absolute path at the time of training. */
    path: string;
    /** "sha256:<hex>" of the experiment file's bytes. */
    sha256: string;
  };
  /** The resolved system config (defaults filled; functions replaced by their names). */
  config: Record<string, unknown>;
  seed: number;
  backend: BackendInfo;
  status: RunStatus;
  /** ISO 8601 times. `endedAt` is absent while running. */
  startedAt: string;
  updatedAt: string;
  endedAt?: string;
  /** Process id of the trainer that last wrote the run (on the machine that wrote it). */
  pid?: number;
  /** Steps the run is configured for, and the last step trained. */
  totalSteps: number;
  step: number;
  /** Set with status "diverged". */
  divergedAtStep?: number;
  /** Set with status "failed" or "diverged". */
  error?: RunError;
  /** When this run continued another (same folder): the step it resumed from, each time. */
  resumedFrom?: number[];
  /** Producer, e.g. "learning-mechanics 0.1.0" or "my-pytorch-script". */
  producer: string;
}

/** One line of metrics.jsonl: `step`, `time` (seconds since the run started), and named scalars. */
export interface MetricsRecord {
  step: number;
  time: number;
  [name: string]: number | null;
}

/** Scalar names the trainer writes; other producers may add any others. */
export const STANDARD_METRICS = [
  "train_loss",
  "train_acc",
  "test_loss",
  "test_acc",
  "lr",
  "param_norm",
] as const;

/** Checks the shape of a parsed run.json; returns the problems (empty when valid). */
export function manifestProblems(value: unknown): string[] {
  const problems: string[] = [];
  if (typeof value !== "object" || value === null) return ["run.json is not a JSON object"];
  const m = value as Record<string, unknown>;
  if (m["format"] !== "learning-mechanics/run") problems.push('format must be "learning-mechanics/run"');
  if (typeof m["formatVersion"] !== "number") problems.push("formatVersion must be a number");
  else if (m["formatVersion"] > RUN_FORMAT_VERSION) problems.push(`formatVersion ${m["formatVersion"]} is newer than this reader (${RUN_FORMAT_VERSION})`);
  for (const key of ["id", "system", "startedAt", "updatedAt"]) {
    if (typeof m[key] !== "string") problems.push(`${key} must be a string`);
  }
  if (!RUN_STATUSES.includes(m["status"] as RunStatus)) problems.push(`status must be one of ${RUN_STATUSES.join(", ")}`);
  for (const key of ["step", "totalSteps", "seed"]) {
    if (typeof m[key] !== "number") problems.push(`${key} must be a number`);
  }
  return problems;
}

/**
 * Parses one metrics line. Returns undefined for a line that is not a JSON object with a numeric
 * `step` (e.g. a partial last line still being written).
 */
export function parseMetricsLine(line: string): MetricsRecord | undefined {
  const trimmed = line.trim();
  if (trimmed === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const rec = value as Record<string, unknown>;
  if (typeof rec["step"] !== "number" || !Number.isFinite(rec["step"])) return undefined;
  const out: MetricsRecord = { step: rec["step"], time: typeof rec["time"] === "number" ? rec["time"] : Number.NaN };
  for (const [k, v] of Object.entries(rec)) {
    if (k === "step" || k === "time") continue;
    if (typeof v === "number") out[k] = v;
    else if (v === null) out[k] = null; // JSON has no NaN/Infinity: non-finite values are written as null
  }
  return out;
}

/** Serializes a metrics record as one line, non-finite numbers as null. */
export function formatMetricsLine(rec: MetricsRecord): string {
  return JSON.stringify(rec, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v)) + "\n";
}
