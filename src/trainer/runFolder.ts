// Writes a run folder (docs/run-format.md): manifest, metrics and checkpoints, every file atomic.
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  type Stats,
  statSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { appendLine, readJsonFileSync, writeFileAtomic, writeFileAtomicSync } from "../shared/atomicFile";
import { acquireRunLock, pidAlive, type RunLock, TRAINER_LOCK } from "../shared/runLock";
import { readRegularFileSync } from "../shared/safeRead";
import {
  CHECKPOINT_DIR,
  DATA_FILE,
  type DataRecord,
  METRICS_FILE,
  OPTIMIZER_TENSOR_PREFIX,
  RUN_MANIFEST,
  checkpointFileName,
  checkpointFiles,
  formatMetricsLine,
  manifestProblems,
  parseMetricsLine,
  type MetricsRecord,
  type RunManifest,
} from "../shared/runFormat";
import { readManifestSync } from "../shared/manifestFile";
import { encodeSafetensors, metadataJson, readSafetensorsSync, SafetensorsError } from "../shared/safetensors";
import { movementSums } from "../measures/movement";
import type { NamedVariable } from "./models/model";
import type { OptimizerSnapshot } from "./optimizers";
import { UsageError } from "./errors";

export const CHECKPOINT_FORMAT = "learning-mechanics/checkpoint";

/** `writeFileAtomic`'s temporary names: `.<name>.<pid>.<8 hex>.tmp`. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/;
/** The largest metrics.jsonl a resume rewrites (about ten million records). */
const METRICS_REWRITE_LIMIT = 2 ** 30;

/**
 * `mkdir -p` that fails at once with the folder it could not make. (Node's recursive mkdirSync
 * loops forever under a folder that refuses new entries with ENOENT, such as /proc.)
 */
export function makeFolders(path: string): void {
  const missing: string[] = [];
  let at = path;
  for (;;) {
    let stat: Stats;
    try {
      stat = statSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || dirname(at) === at) throw e;
      missing.unshift(at);
      at = dirname(at);
      continue;
    }
    if (!stat.isDirectory())
      throw Object.assign(new Error(`cannot create ${path}: ${at} is not a folder (ENOTDIR)`), { code: "ENOTDIR" });
    break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EEXIST" && statSync(dir).isDirectory()) continue;
      const why = err.code === "ENOENT" ? `${dirname(dir)} exists but takes no new folders` : err.message;
      throw Object.assign(new Error(`cannot create ${path}: ${why} (${err.code ?? "error"})`, { cause: e }), {
        code: err.code,
      });
    }
  }
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/**
 * Undefined when `sub` of the run folder (whose real path is `realRun`) is absent or a real folder
 * inside the run; otherwise why not. Trainer and analyzer write only inside the run they are
 * given, and a cloned repository can plant a `checkpoints` symlink pointing anywhere.
 */
export function subfolderProblem(runDir: string, realRun: string, sub: string): string | undefined {
  const path = join(runDir, sub);
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (stat.isSymbolicLink()) return `${path} is a symbolic link (to ${readlinkSync(path)})`;
  if (!stat.isDirectory()) return `${path} is not a folder`;
  const real = realpathSync(path);
  if (!inside(realRun, real)) return `${path} resolves to ${real}, outside the run folder`;
  return undefined;
}

/** A run id: `<system>-<UTC yyyymmdd-hhmmss>-<4 hex>`, safe as a folder name. */
export function newRunId(system: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const safe = system.replace(/[^A-Za-z0-9_.-]/g, "_");
  return `${safe}-${stamp}-${randomBytes(2).toString("hex")}`;
}

export interface CheckpointData {
  step: number;
  params: Map<string, { shape: number[]; values: Float32Array }>;
  optimizerT: number | undefined;
  optimizer: Map<string, { shape: number[]; values: Float32Array }>;
}

/** One tensor of a checkpoint: a parameter (`layers.0.weight`) or an optimizer slot (`m/layers.0.weight`). */
export interface CheckpointTensor {
  name: string;
  shape: readonly number[];
  values: Float32Array;
}

export class RunFolder {
  constructor(readonly dir: string) {}

  get manifestPath(): string {
    return join(this.dir, RUN_MANIFEST);
  }
  get metricsPath(): string {
    return join(this.dir, METRICS_FILE);
  }
  get checkpointDir(): string {
    return join(this.dir, CHECKPOINT_DIR);
  }

  /**
   * Creates the folder and its checkpoints/ subfolder and takes the trainer's lock on it (held
   * until `release()`). Fails if the folder already holds a run or another process holds it.
   */
  create(purpose: "train"): RunLock {
    makeFolders(this.dir);
    this.checkOwnCheckpoints();
    makeFolders(this.checkpointDir);
    const lock = acquireRunLock(this.dir, TRAINER_LOCK, purpose);
    if (existsSync(this.manifestPath)) {
      lock.release();
      throw new UsageError(`${this.dir} already holds a run: choose another --run-dir, or resume it`, 1);
    }
    return lock;
  }

  /** Takes the trainer's lock on an existing run (for a resume). */
  lock(purpose: "resume"): RunLock {
    this.checkOwnCheckpoints();
    return acquireRunLock(this.dir, TRAINER_LOCK, purpose);
  }

  /** Refuses (UsageError, nothing written) a checkpoints/ that is a link, a file, or leads outside the run. */
  private checkOwnCheckpoints(): void {
    const problem = subfolderProblem(this.dir, realpathSync(this.dir), CHECKPOINT_DIR);
    if (problem)
      throw new UsageError(
        `refusing to write to ${this.dir}: ${problem}; the trainer writes only inside the run folder`,
        1,
      );
  }

  /**
   * Removes the temporary files of atomic writes (`.<name>.<pid>.<hex>.tmp`) whose writer is no
   * longer alive, here and in checkpoints/: a killed write leaves them behind. Returns their paths.
   */
  removeStaleTempFiles(): string[] {
    const removed: string[] = [];
    for (const dir of [this.dir, this.checkpointDir]) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const m = TEMP_NAME.exec(name);
        if (!m || pidAlive(Number(m[1]))) continue;
        const path = join(dir, name);
        if (!lstatSync(path).isFile()) continue;
        rmSync(path, { force: true });
        removed.push(path);
      }
    }
    return removed;
  }

  writeManifest(m: RunManifest): void {
    writeFileAtomicSync(this.manifestPath, `${JSON.stringify(m, null, 2)}\n`);
  }

  /** data.json: written whole (atomically), so a reader sees the old file or the new one, never a part. */
  writeData(record: DataRecord): void {
    writeFileAtomicSync(join(this.dir, DATA_FILE), `${JSON.stringify(record)}\n`);
  }

  hasData(): boolean {
    return existsSync(join(this.dir, DATA_FILE));
  }

  /** The run's manifest; a folder that is not a run, or a damaged run.json, is the user's to fix (UsageError, nothing quoted). */
  readManifest(): RunManifest {
    const read = readManifestSync(this.manifestPath);
    if (read.ok) return read.manifest;
    const why = read.problems.join("; ");
    throw new UsageError(
      "missing" in read ? `${this.dir} is not a run folder: ${why}` : `${this.manifestPath}: ${why}`,
      1,
    );
  }

  appendMetrics(rec: MetricsRecord): void {
    appendLine(this.metricsPath, formatMetricsLine(rec));
  }

  /**
   * Before continuing from the checkpoint at `step`: drops the well-formed records of later steps
   * (they will be recomputed), and nothing else: lines that do not parse are not ours to judge and
   * stay where they are. Returns the time of the last record kept, so the run's clock continues.
   */
  cutMetricsAfter(step: number): { removed: number; lastTime: number } {
    let bytes: Buffer;
    try {
      bytes = readRegularFileSync(this.metricsPath, METRICS_REWRITE_LIMIT);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { removed: 0, lastTime: 0 };
      throw e;
    }
    const kept: Buffer[] = [];
    let removed = 0;
    let lastTime = 0;
    for (let start = 0; start < bytes.length; ) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl + 1;
      const line = bytes.subarray(start, end);
      const record = parseMetricsLine(line.toString("utf8"));
      if (record !== undefined && record.step > step) removed++;
      else {
        kept.push(line);
        if (record !== undefined && Number.isFinite(record.time)) lastTime = record.time;
      }
      start = end;
    }
    if (removed > 0) writeFileAtomicSync(this.metricsPath, Buffer.concat(kept));
    return { removed, lastTime };
  }

  /** Steps of the complete checkpoints present, ascending. */
  checkpointSteps(): number[] {
    return this.checkpointFiles().map((c) => c.step);
  }

  /**
   * The complete checkpoints present, ascending, each with the path of the file as listed: the
   * pattern accepts unpadded names (`step-20.safetensors`), which `checkpointPath` would not find.
   * Of two names for one step the padded one wins.
   */
  checkpointFiles(): Array<{ step: number; path: string }> {
    let names: string[];
    try {
      names = readdirSync(this.checkpointDir);
    } catch {
      return [];
    }
    return checkpointFiles(names).map(({ step, name }) => ({ step, path: join(this.checkpointDir, name) }));
  }

  checkpointPath(step: number): string {
    return join(this.checkpointDir, checkpointFileName(step));
  }

  /**
   * Writes model parameters and optimizer state at `step`, with per-parameter statistics in the
   * header (so readers such as hovers need not load tensors). `initial` holds the step-0 values
   * for the relative change; returns the path, the size and the parameter values written.
   */
  async writeCheckpoint(
    step: number,
    params: readonly NamedVariable[],
    opt: OptimizerSnapshot | undefined,
    initial: ReadonlyMap<string, Float32Array> | undefined,
  ): Promise<{ path: string; bytes: number; values: Map<string, Float32Array> }> {
    const values: CheckpointTensor[] = [];
    for (const p of params)
      values.push({ name: p.name, shape: p.variable.shape, values: (await p.variable.data()) as Float32Array });
    const slots: CheckpointTensor[] = [];
    for (const s of opt?.slots ?? [])
      slots.push({ name: s.name, shape: s.tensor.shape, values: (await s.tensor.data()) as Float32Array });
    return this.writeCheckpointValues(step, values, opt ? { t: opt.t, slots } : undefined, initial);
  }

  /**
   * `writeCheckpoint` from values already in memory (the torch backend's, handed back by its
   * worker): the same file, byte for byte, as from tfjs variables holding these values.
   */
  async writeCheckpointValues(
    step: number,
    params: readonly CheckpointTensor[],
    opt: { t: number; slots: readonly CheckpointTensor[] } | undefined,
    initial: ReadonlyMap<string, Float32Array> | undefined,
  ): Promise<{ path: string; bytes: number; values: Map<string, Float32Array> }> {
    const tensors: Array<{ name: string; dtype: "F32"; shape: number[]; data: Float32Array }> = [];
    const values = new Map<string, Float32Array>();
    for (const p of params) {
      values.set(p.name, p.values);
      tensors.push({ name: p.name, dtype: "F32", shape: [...p.shape], data: p.values });
    }
    for (const s of opt?.slots ?? [])
      tensors.push({ name: OPTIMIZER_TENSOR_PREFIX + s.name, dtype: "F32", shape: [...s.shape], data: s.values });
    const metadata: Record<string, string> = {
      format: CHECKPOINT_FORMAT,
      format_version: "1",
      step: String(step),
      params: JSON.stringify(params.map((p) => p.name)),
      stats: JSON.stringify(
        Object.fromEntries(
          [...values].map(([name, v]) => [
            name,
            tensorStats(v, (initial ?? (step === 0 ? values : undefined))?.get(name)),
          ]),
        ),
      ),
    };
    if (opt) metadata["optimizer"] = JSON.stringify({ t: opt.t });
    const buf = encodeSafetensors(tensors, metadata);
    const path = this.checkpointPath(step);
    await writeFileAtomic(path, buf);
    return { path, bytes: buf.length, values };
  }

  /** Reads the checkpoint of `step` (under the name it has, padded or not). */
  readCheckpoint(step: number): CheckpointData {
    const path = this.checkpointFiles().find((c) => c.step === step)?.path ?? this.checkpointPath(step);
    const decoded = readSafetensorsSync(path);
    const params = new Map<string, { shape: number[]; values: Float32Array }>();
    const optimizer = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const t of decoded.tensors) {
      const values = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
      if (t.name.startsWith(OPTIMIZER_TENSOR_PREFIX))
        optimizer.set(t.name.slice(OPTIMIZER_TENSOR_PREFIX.length), { shape: t.shape, values });
      else params.set(t.name, { shape: t.shape, values });
    }
    const optMeta = metadataJson(decoded.metadata, "optimizer", path);
    const t = typeof optMeta === "object" && optMeta !== null ? (optMeta as Record<string, unknown>)["t"] : undefined;
    if (optMeta !== undefined && (typeof t !== "number" || !Number.isSafeInteger(t) || t < 0)) {
      throw new SafetensorsError(`__metadata__ "optimizer" has no step count t (a whole number ≥ 0)`, path);
    }
    const optimizerT = t as number | undefined;
    return { step: Number(decoded.metadata["step"] ?? step), params, optimizer, optimizerT };
  }
}

/** ‖W‖_F and ‖W − W₀‖_F / ‖W₀‖_F (null without W₀ or when ‖W₀‖ = 0), as stored in checkpoint `stats`. */
export function tensorStats(w: Float32Array, w0: Float32Array | undefined): { norm: number; relChange: number | null } {
  const { sq, diff, sq0 } = movementSums(w, w0);
  return { norm: Math.sqrt(sq), relChange: w0 && sq0 > 0 ? Math.sqrt(diff / sq0) : null };
}

/** Loads checkpoint values into the model's variables, checking names and shapes. */
export function restoreParams(params: readonly NamedVariable[], saved: CheckpointData["params"], path: string): void {
  for (const p of params) {
    const s = saved.get(p.name);
    if (!s) throw new Error(`${path} has no parameter "${p.name}"`);
    if (s.shape.join(",") !== p.variable.shape.join(","))
      throw new Error(`${path}: "${p.name}" has shape [${s.shape}], the model has [${p.variable.shape}]`);
    p.variable.assign(tf.tensor(s.values, p.variable.shape, "float32"));
  }
}

/**
 * Sets a run that the process `pid` left "running" to failed (the process is gone or is this one,
 * its worker gone): jobHost.ts for its own runs, the local sweep launcher for a child killed
 * outright. Leaves any other run.json alone: another writer's, or one already ended.
 */
export function markAbandonedRun(runDir: string, pid: number, message: string): void {
  const path = join(runDir, RUN_MANIFEST);
  const r = readJsonFileSync(path);
  if (!r.ok || manifestProblems(r.value).length) return;
  const m = r.value as RunManifest;
  if (m.status !== "running" || m.pid !== pid) return;
  const at = new Date().toISOString();
  writeFileAtomicSync(
    path,
    `${JSON.stringify({ ...m, status: "failed", error: { message }, updatedAt: at, endedAt: at }, null, 2)}\n`,
  );
}
