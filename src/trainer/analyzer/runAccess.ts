// What the analyzer may touch in a run folder, checked before it touches anything: it reads and
// writes only inside the folder it was given. A run whose analyses/ or checkpoints/ is a symbolic
// link, or resolves outside the run (a cloned repository can plant either), is refused with a
// message and nothing written. Checkpoints are read as regular files only, under a size limit,
// and a broken one is a CheckpointError naming the file, which the loop skips.
import * as fs from "node:fs";
import { join } from "node:path";
import {
  type DecodedTensor,
  metadataJson,
  readSafetensorsHeaderSync,
  readSafetensorsTensorsSync,
  type SafetensorsHeader,
  type TensorInfo,
} from "../../shared/safetensors";
import { OPTIMIZER_TENSOR_PREFIX, type RunManifest } from "../../shared/runFormat";
import { UsageError } from "../errors";
import { RunFolder, subfolderProblem } from "../runFolder";
import type { CheckpointParams } from "./analysis";

/** The largest checkpoint file the analyzer reads (it holds the whole file in memory). */
export const CHECKPOINT_READ_LIMIT = 2 ** 31 - 1;

/** A checkpoint that cannot be analysed: the message names the file and the reason. */
export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * The run folder `runDir` opened for analysis: its manifest read, its analyses/ and checkpoints/
 * checked to lie inside it, and analyses/ created. Throws UsageError (nothing written) otherwise.
 */
export function openRunForAnalysis(runDir: string): { folder: RunFolder; manifest: RunManifest } {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(runDir);
  } catch {
    throw new UsageError(`${runDir} is not a run folder: it does not exist`);
  }
  if (!stat.isDirectory()) throw new UsageError(`${runDir} is not a run folder: it is not a folder`);
  const folder = new RunFolder(runDir);
  let manifest: RunManifest;
  try {
    manifest = folder.readManifest();
  } catch (e) {
    throw new UsageError(
      e instanceof UsageError ? e.message : `${runDir} is not a run folder: ${(e as Error).message}`,
    );
  }
  const realRun = fs.realpathSync(runDir);
  for (const sub of ["analyses", "checkpoints"]) {
    const problem = subfolderProblem(runDir, realRun, sub);
    if (problem)
      throw new UsageError(
        `refusing to analyse ${runDir}: ${problem}; the analyzer reads and writes only inside the run folder it is given`,
      );
  }
  // Not recursive: the run folder exists, and a folder appearing in between is checked again.
  try {
    fs.mkdirSync(join(runDir, "analyses"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const problem = subfolderProblem(runDir, realRun, "analyses");
    if (problem) throw new UsageError(`refusing to analyse ${runDir}: ${problem}`);
  }
  return { folder, manifest };
}

/**
 * The parameters saved in the checkpoint file at `path` (optimizer state and metadata are neither
 * read nor parsed). With `expected` (the run's first checkpoint read), the header's parameter names
 * and shapes must match it before any tensor is read, so a damaged or planted header cannot make
 * the analyzer allocate what it declares. Throws CheckpointError naming the file.
 */
export function readCheckpointParams(path: string, expected?: CheckpointParams): CheckpointParams {
  const fail = (e: unknown): never => {
    const err = e as NodeJS.ErrnoException;
    throw new CheckpointError(path, err.code === "ENOENT" ? "the file is gone" : err.message.replace(`${path}: `, ""));
  };
  let header: SafetensorsHeader;
  try {
    header = readSafetensorsHeaderSync(path);
  } catch (e) {
    return fail(e);
  }
  const infos = header.tensors.filter((t) => !t.name.startsWith(OPTIMIZER_TENSOR_PREFIX));
  if (infos.length === 0) throw new CheckpointError(path, "it holds no parameters");
  if (expected) {
    const mismatch = shapeMismatch(infos, expected);
    if (mismatch)
      throw new CheckpointError(path, `${mismatch} (the run's first checkpoint says so), so it is not read`);
  }
  const bytes = infos.reduce((sum, t) => sum + (t.end - t.begin), 0);
  if (bytes > CHECKPOINT_READ_LIMIT)
    throw new CheckpointError(path, `its parameters take ${bytes} bytes, over the ${CHECKPOINT_READ_LIMIT}-byte limit`);
  let tensors: DecodedTensor[];
  try {
    tensors = readSafetensorsTensorsSync(path, header, (t) => !t.name.startsWith(OPTIMIZER_TENSOR_PREFIX));
  } catch (e) {
    return fail(e);
  }
  const params: CheckpointParams = new Map();
  for (const t of tensors)
    params.set(t.name, { shape: t.shape, values: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  return params;
}

/** How a checkpoint's parameters differ from the expected names and shapes, or undefined. */
function shapeMismatch(infos: readonly TensorInfo[], expected: CheckpointParams): string | undefined {
  for (const t of infos) {
    const e = expected.get(t.name);
    if (!e) return `it has a parameter "${t.name}" that the run's model does not`;
    if (e.shape.join(",") !== t.shape.join(","))
      return `"${t.name}" has shape [${t.shape.join(", ")}], expected [${e.shape.join(", ")}]`;
  }
  for (const name of expected.keys()) if (!infos.some((t) => t.name === name)) return `parameter "${name}" is missing`;
  return undefined;
}

/** One optimizer slot of every parameter at a checkpoint, and the updates applied so far. */
export interface OptimizerSlot {
  /** `t` of the checkpoint's `optimizer` metadata: updates applied (Adam's bias correction). */
  t: number;
  /** Per parameter name, the slot's values (same shape as the parameter). */
  values: Map<string, Float32Array>;
}

/**
 * The optimizer slot `slot` (e.g. Adam's second moment "v") of every parameter of `expected`, read
 * from the checkpoint at `path`: only tensors named `optimizer/<slot>/<parameter>` whose shape is
 * that parameter's (checked against the header before any byte is read), at most the parameters'
 * own size. Undefined when the checkpoint holds no such state (a run from elsewhere, SGD, step 0
 * of a run that saved none) or no step count t; a CheckpointError when it is unreadable.
 */
export function readOptimizerSlot(path: string, slot: string, expected: CheckpointParams): OptimizerSlot | undefined {
  let header: SafetensorsHeader;
  try {
    header = readSafetensorsHeaderSync(path);
  } catch (e) {
    throw new CheckpointError(path, (e as Error).message.replace(`${path}: `, ""));
  }
  let t: unknown;
  try {
    const meta = metadataJson(header.metadata, "optimizer", path);
    t = typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)["t"] : undefined;
  } catch {
    return undefined;
  }
  if (typeof t !== "number" || !Number.isSafeInteger(t) || t < 0) return undefined;
  const prefix = `${OPTIMIZER_TENSOR_PREFIX}${slot}/`;
  const wanted = new Map<string, TensorInfo>();
  for (const info of header.tensors) {
    if (!info.name.startsWith(prefix)) continue;
    const name = info.name.slice(prefix.length);
    const p = expected.get(name);
    if (!p || p.shape.join(",") !== info.shape.join(",")) return undefined;
    wanted.set(info.name, info);
  }
  if (wanted.size !== expected.size) return undefined;
  let tensors: DecodedTensor[];
  try {
    tensors = readSafetensorsTensorsSync(path, header, (info) => wanted.has(info.name));
  } catch (e) {
    throw new CheckpointError(path, (e as Error).message.replace(`${path}: `, ""));
  }
  const values = new Map<string, Float32Array>();
  for (const x of tensors)
    values.set(x.name.slice(prefix.length), x.data instanceof Float32Array ? x.data : Float32Array.from(x.data));
  return { t, values };
}

/**
 * The `__metadata__` of the checkpoint at `path` (the header only is read), or undefined when it
 * cannot be read: it only refines an analysis (parameter order, layout, optimizer settings), so a
 * damaged header costs that refinement, never the analysis; the parameters' own read reports it.
 */
export function readCheckpointMetadata(path: string): Readonly<Record<string, string>> | undefined {
  try {
    return readSafetensorsHeaderSync(path).metadata;
  } catch {
    return undefined;
  }
}
