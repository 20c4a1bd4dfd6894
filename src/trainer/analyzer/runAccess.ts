// What the analyzer may touch in a run folder, checked before it touches anything: it reads and
// writes only inside the folder it was given. A run whose analyses/ or checkpoints/ is a symbolic
// link, or resolves outside the run (a cloned repository can plant either), is refused with a
// message and nothing written. Checkpoints are read as regular files only, under a size limit,
// and a broken one is a CheckpointError naming the file, which the loop skips.
import * as fs from "node:fs";
import { join, relative, isAbsolute } from "node:path";
import { decodeSafetensors } from "../../shared/safetensors";
import { OPTIMIZER_TENSOR_PREFIX, type RunManifest } from "../../shared/runFormat";
import { readRegularFileSync } from "../../shared/safeRead";
import { UsageError } from "../errors";
import { RunFolder } from "../runFolder";
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

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/**
 * `sub` of the run folder (whose real path is `realRun`) when it is absent or a real folder inside
 * the run; otherwise why not.
 */
function subfolderProblem(runDir: string, realRun: string, sub: string): string | undefined {
  const path = join(runDir, sub);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (stat.isSymbolicLink()) return `${path} is a symbolic link (to ${fs.readlinkSync(path)})`;
  if (!stat.isDirectory()) return `${path} is not a folder`;
  const real = fs.realpathSync(path);
  if (!inside(realRun, real)) return `${path} resolves to ${real}, outside the run folder`;
  return undefined;
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
    throw new UsageError(`${runDir} is not a run folder: ${(e as Error).message}`);
  }
  const realRun = fs.realpathSync(runDir);
  for (const sub of ["analyses", "checkpoints"]) {
    const problem = subfolderProblem(runDir, realRun, sub);
    if (problem) throw new UsageError(`refusing to analyse ${runDir}: ${problem}; the analyzer reads and writes only inside the run folder it is given`);
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
 * The parameters saved in the checkpoint file at `path` (optimizer state and metadata are not
 * needed, so not parsed). Throws CheckpointError naming the file.
 */
export function readCheckpointParams(path: string): CheckpointParams {
  let bytes: Buffer;
  try {
    bytes = readRegularFileSync(path, CHECKPOINT_READ_LIMIT);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CheckpointError(path, err.code === "ENOENT" ? "the file is gone" : err.message.replace(`${path}: `, ""));
  }
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes, path);
  } catch (e) {
    throw new CheckpointError(path, (e as Error).message.replace(`${path}: `, ""));
  }
  const params: CheckpointParams = new Map();
  for (const t of decoded.tensors) {
    if (t.name.startsWith(OPTIMIZER_TENSOR_PREFIX)) continue;
    const values = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    params.set(t.name, { shape: t.shape, values });
  }
  if (params.size === 0) throw new CheckpointError(path, "it holds no parameters");
  return params;
}
