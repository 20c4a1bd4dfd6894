// The run folder: the contract between whatever trains (our trainer, a Python script, another
// machine) and whatever reads (the extension, the analyzer). Documented for humans in
// docs/run-format.md; keep the two in step. No tensor library and no `vscode` here.

import { tryParseJson } from "./jsonText";
import { type InterventionChange, interventionChangeProblems } from "./interventionFormat";
import type { SweepValue } from "./sweepFormat";

export const RUN_FORMAT_VERSION = 1;

export const RUN_MANIFEST = "run.json";
export const METRICS_FILE = "metrics.jsonl";
export const CHECKPOINT_DIR = "checkpoints";
export const ANALYSES_DIR = "analyses";
/** The run's data: which examples are in each split, and (small tasks) the data itself (docs/run-format.md). */
export const DATA_FILE = "data.json";

/** One split in data.json: row i of the split is example `indices[i]` of the task (see `DataRecord.indexOf`). */
export interface DataSplitRecord {
  n: number;
  indices: number[];
  /** The split's inputs, row-major [n, length] token ids or [n, dim] features; only for small tasks. */
  x?: number[];
  /** Class labels [n] or regression targets [n, dim]; with `x`. */
  y?: number[];
}

/** data.json. Written once (atomically) when the run starts; the same for every run of the same task. */
export interface DataRecord {
  format: "learning-mechanics/data";
  formatVersion: 1;
  /** The task's kind ("modularArithmetic", "file", …). */
  task: string;
  /** What an index means, in words, e.g. "pair (a, b) at a·p + b". */
  indexOf: string;
  input: { kind: "tokens"; vocab: number; length: number } | { kind: "features"; dim: number };
  output: { kind: "classes"; count: number } | { kind: "regression"; dim: number };
  /**
   * "sha256:<hex>" of the data's bytes: train x, train y, test x, test y, each as its little-endian
   * array (int32 token ids and class labels, float32 features and targets), concatenated.
   */
  sha256: string;
  train: DataSplitRecord;
  test: DataSplitRecord;
}

/** `checkpoints/step-00001200.safetensors`: zero-padded so a plain sort is step order. */
export function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(8, "0")}.safetensors`;
}

/**
 * The step of a checkpoint file name, or undefined for anything else (temporary files included).
 * Unpadded names (`step-20.safetensors`) match too: the documented pattern is `^step-(\d+)\.safetensors$`.
 */
export function parseCheckpointFileName(name: string): number | undefined {
  const m = /^step-(\d+)\.safetensors$/.exec(name);
  if (!m) return undefined;
  const step = Number(m[1]);
  return Number.isSafeInteger(step) ? step : undefined;
}

/**
 * The checkpoint files among `names` (a listing of `checkpoints/`), by step, each with the name it
 * really has (`step-20.safetensors` is opened as such, not under its padded name). When two names
 * give one step (`step-20` and `step-00000020`), the padded one, which our trainer writes, wins.
 */
export function checkpointFiles(names: Iterable<string>): { step: number; name: string }[] {
  const byStep = new Map<number, string>();
  for (const name of names) {
    const step = parseCheckpointFileName(name);
    if (step === undefined) continue;
    const had = byStep.get(step);
    if (had === undefined || name === checkpointFileName(step)) byStep.set(step, name);
  }
  return [...byStep].sort(([a], [b]) => a - b).map(([step, name]) => ({ step, name }));
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
  /** The device the run computed on, when the backend has a choice (torch: "cpu", "cuda:0", "mps"). */
  device?: string;
  /** The interpreter that ran a Python backend (sys.executable). */
  python?: string;
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
  /**
   * The experiment (or script, or notebook) file. Absent when the producer had no file (a notebook
   * whose name Jupyter did not give, a REPL): the Runs view lists such runs under "No experiment file".
   */
  experiment?: {
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
  /** When this run was branched from a checkpoint of another run (`lm branch`): docs/run-format.md, `branchOf`. */
  branchOf?: BranchOf;
  /** Producer, e.g. "learning-mechanics 0.1.0" or "my-pytorch-script". */
  producer: string;
  /**
   * How activation "gelu" was computed: "erf" (exact, PyTorch's `nn.GELU()`), written by every run
   * of this trainer since the exact form became the default. Absent: a run from before, when
   * "gelu" meant the tanh approximation, so a resume or an analysis rebuilds it as "gelu_tanh".
   */
  gelu?: GeluForm;
  /** Set on a run that is one point of a sweep (docs/sweeps.md). */
  sweep?: RunSweepPoint;
}

/** run.json's `sweep`: which point of which sweep this run is. */
export interface RunSweepPoint {
  /** The sweep folder (holding sweep.json), relative to the run folder: "..". */
  dir: string;
  /** The point's index in sweep.json's `points`. */
  index: number;
  /** The swept fields' values at this point, by dotted path ("model.hidden[0]"), laid over the system's config. */
  values: Record<string, SweepValue>;
  /** The point's seed (also the run's `seed`). */
  seed: number;
}

/** Where a branch started: the parent run, its checkpoint, and what the branch changed. */
export interface BranchOf {
  /** The parent's folder: relative to this run's folder when they share a tree, else absolute. */
  run: string;
  /** The parent's run.json `id`. */
  runId: string;
  /** The parent's checkpoint the branch started from (weights, optimizer state, step counter). */
  step: number;
  /**
   * What differs from the parent: `dataSeed`, the seed of the minibatch order (absent: the parent's
   * `seed`); or an intervention on the data (`kind: "intervention"`, docs/interventions.md).
   */
  change: { kind?: undefined; dataSeed?: number } | InterventionChange;
}

/** The two forms of GELU (docs/run-format.md, `gelu`). */
export type GeluForm = "erf" | "tanh";

/** One line of metrics.jsonl: `step`, `time` (seconds since the run started), and named scalars. */
export interface MetricsRecord {
  step: number;
  time: number;
  [name: string]: number | null;
}

/** Scalar names the trainer writes; other producers may add any others. */
export const STANDARD_METRICS = ["train_loss", "train_acc", "test_loss", "test_acc", "lr", "param_norm"] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isInteger = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const isString = (v: unknown): v is string => typeof v === "string";

/** How a JSON value looks, for messages that must not quote it: "a string", "null", "an array". */
function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number" && !Number.isFinite(v)) return "a non-finite number";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

/**
 * Checks the shape of a parsed run.json; returns the problems (empty when valid). Every field a
 * reader uses is checked (types, not only presence), so code given a manifest that passes can use
 * it without guards. Problems name the field and the type it must have, never the value (a value
 * is shown by whoever displays it, escaped).
 */
export function manifestProblems(value: unknown): string[] {
  if (!isObject(value)) return ["run.json is not a JSON object"];
  const m = value;
  const problems: string[] = [];
  const need = (ok: boolean, field: string, what: string): void => {
    if (!ok) problems.push(`${field} must be ${what}`);
  };
  const integer = (field: string): void => {
    const v = lookup(m, field);
    if (typeof v !== "number") problems.push(`${field} must be a number`);
    else need(isInteger(v), field, "an integer");
  };
  if (m["format"] !== "learning-mechanics/run") problems.push('format must be "learning-mechanics/run"');
  if (typeof m["formatVersion"] !== "number") need(false, "formatVersion", "a number");
  else if (m["formatVersion"] > RUN_FORMAT_VERSION)
    problems.push(`formatVersion ${m["formatVersion"]} is newer than this reader (${RUN_FORMAT_VERSION})`);
  for (const key of ["id", "system", "startedAt", "updatedAt", "producer"]) need(isString(m[key]), key, "a string");
  if (!RUN_STATUSES.includes(m["status"] as RunStatus))
    problems.push(`status must be one of ${RUN_STATUSES.join(", ")}`);
  for (const key of ["step", "totalSteps"]) integer(key);
  need(typeof m["seed"] === "number" && Number.isFinite(m["seed"]), "seed", "a number");
  need(isObject(m["config"]), "config", "an object");

  // The Runs view groups by experiment.path (and checks that it is there); the weight-space
  // analysis does without it, so a run from elsewhere may leave `experiment` out. When present,
  // its path must be a string. sha256 is informative only.
  if (m["experiment"] !== undefined) need(isString(lookup(m, "experiment.path")), "experiment.path", "a string");

  const backend = m["backend"];
  need(isObject(backend), "backend", "an object");
  if (isObject(backend)) {
    need(isString(backend["name"]), "backend.name", "a string");
    need(isString(backend["reason"]), "backend.reason", "a string");
    if ("package" in backend) need(isString(backend["package"]), "backend.package", "a string");
    if ("device" in backend) need(isString(backend["device"]), "backend.device", "a string");
    if ("python" in backend) need(isString(backend["python"]), "backend.python", "a string");
    if ("versions" in backend) {
      const v = backend["versions"];
      need(isObject(v) && Object.values(v).every(isString), "backend.versions", "an object of strings");
    }
  }

  // Optional fields: absent is fine, present must have the documented type (null is not absent).
  if ("endedAt" in m) need(isString(m["endedAt"]), "endedAt", "a string");
  if ("pid" in m) integer("pid");
  if ("gelu" in m) need(m["gelu"] === "erf" || m["gelu"] === "tanh", "gelu", '"erf" or "tanh"');
  if ("divergedAtStep" in m) integer("divergedAtStep");
  if ("resumedFrom" in m)
    need(Array.isArray(m["resumedFrom"]) && m["resumedFrom"].every(isInteger), "resumedFrom", "an array of integers");
  if ("sweep" in m) {
    const sweep = m["sweep"];
    need(isObject(sweep), "sweep", "an object");
    if (isObject(sweep)) {
      need(isString(sweep["dir"]), "sweep.dir", "a string");
      integer("sweep.index");
      integer("sweep.seed");
      const values = sweep["values"];
      need(
        isObject(values) &&
          Object.values(values).every(
            (v) => (typeof v === "number" && Number.isFinite(v)) || isString(v) || typeof v === "boolean",
          ),
        "sweep.values",
        "an object of numbers, strings and booleans",
      );
    }
  }
  if ("branchOf" in m) {
    const b = m["branchOf"];
    need(isObject(b), "branchOf", "an object");
    if (isObject(b)) {
      need(isString(b["run"]), "branchOf.run", "a string");
      need(isString(b["runId"]), "branchOf.runId", "a string");
      need(isInteger(b["step"]) && b["step"] >= 0, "branchOf.step", "an integer ≥ 0");
      need(isObject(b["change"]), "branchOf.change", "an object");
      if (isObject(b["change"]) && "dataSeed" in b["change"])
        need(isInteger(b["change"]["dataSeed"]), "branchOf.change.dataSeed", "an integer");
      if (isObject(b["change"]) && b["change"]["kind"] === "intervention")
        problems.push(...interventionChangeProblems(b["change"]));
    }
  }
  if ("error" in m) {
    const error = m["error"];
    need(isObject(error), "error", "an object");
    if (isObject(error)) {
      need(isString(error["message"]), "error.message", "a string");
      if ("location" in error) {
        const loc = error["location"];
        need(isObject(loc), "error.location", "an object");
        if (isObject(loc)) {
          need(isString(loc["file"]), "error.location.file", "a string");
          integer("error.location.line");
          integer("error.location.column");
        }
      }
    }
  }
  return problems;
}

/** The value at a dotted path ("error.location.file") of a JSON object, or undefined. */
function lookup(m: Record<string, unknown>, field: string): unknown {
  let v: unknown = m;
  for (const part of field.split(".")) v = isObject(v) ? v[part] : undefined;
  return v;
}

export type ManifestParse = { ok: true; manifest: RunManifest } | { ok: false; problems: string[] };

/**
 * Parses and checks the text of a run.json. Problems name what is wrong (and where, for JSON
 * syntax), never quote the text: it may be anything a symlink pointed at.
 */
export function parseManifest(text: string): ManifestParse {
  if (text.trim() === "") return { ok: false, problems: ["run.json is empty"] };
  const parsed = tryParseJson(text);
  if (!parsed.ok) return { ok: false, problems: [`run.json is not valid JSON: ${parsed.problem}`] };
  const problems = manifestProblems(parsed.value);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, manifest: parsed.value as RunManifest };
}

/** Why a metrics line is not a record; `parseMetricsLineDetailed` gives it. */
export type MetricsLineParse = { ok: true; record: MetricsRecord } | { ok: false; reason: string };

/**
 * Parses one metrics line, or says why it is not a record: not JSON, not an object, or no finite
 * numeric `step`. Python's bare NaN / Infinity / -Infinity tokens are read as non-finite numbers.
 */
export function parseMetricsLineDetailed(line: string): MetricsLineParse {
  const trimmed = line.trim();
  if (trimmed === "") return { ok: false, reason: "blank line" };
  const parsed = tryParseJson(trimmed);
  if (!parsed.ok) return { ok: false, reason: `not valid JSON: ${parsed.problem}` };
  const value = parsed.value;
  if (!isObject(value)) return { ok: false, reason: `a JSON value that is ${kind(value)}, not an object` };
  const step = value["step"];
  if (typeof step !== "number" || !Number.isFinite(step))
    return { ok: false, reason: "step" in value ? `step is ${kind(step)}, not a finite number` : "no step" };
  const time = value["time"];
  const out: MetricsRecord = { step, time: typeof time === "number" ? time : Number.NaN };
  for (const [k, v] of Object.entries(value)) {
    if (k === "step" || k === "time") continue;
    // JSON has no NaN/Infinity: our trainer writes non-finite values as null (kept as null);
    // Python's tokens arrive as NaN / ±Infinity.
    if (typeof v !== "number" && v !== null) continue;
    if (k === "__proto__")
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return { ok: true, record: out };
}

/**
 * Parses one metrics line. Returns undefined for a line that is not a JSON object with a numeric
 * `step` (e.g. a partial last line still being written); `parseMetricsLineDetailed` says why.
 */
export function parseMetricsLine(line: string): MetricsRecord | undefined {
  const r = parseMetricsLineDetailed(line);
  return r.ok ? r.record : undefined;
}

/** Serializes a metrics record as one line, non-finite numbers as null. */
export function formatMetricsLine(rec: MetricsRecord): string {
  return `${JSON.stringify(rec, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))}\n`;
}
