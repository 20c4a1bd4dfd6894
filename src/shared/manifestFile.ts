// Reading a run's run.json: through safeRead (a regular file of at most READ_LIMITS.manifestBytes,
// never blocking on a FIFO), then `parseManifest` (every field readers use type-checked). Problems
// never quote the file's bytes: run.json may be a symlink to anything.
import { FileRefusedError, READ_LIMITS, readRegularText, readRegularTextSync } from "./safeRead";
import { type ManifestParse, parseManifest } from "./runFormat";

/** A run.json read: the manifest, or why not (`missing` when there is no file at all). */
export type ManifestRead = ManifestParse | { ok: false; missing: true; problems: string[] };

function readFailure(err: unknown): ManifestRead {
  if (err instanceof FileRefusedError) return { ok: false, problems: [`run.json ${err.detail}`] };
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT" || e.code === "ENOTDIR")
    return { ok: false, missing: true, problems: ["run.json not found"] };
  return { ok: false, problems: [`run.json cannot be read (${e.code ?? "error"})`] };
}

/** Reads and checks the run.json at `path`; never throws. */
export function readManifestSync(path: string): ManifestRead {
  let text: string;
  try {
    text = readRegularTextSync(path, READ_LIMITS.manifestBytes);
  } catch (err) {
    return readFailure(err);
  }
  return parseManifest(text);
}

/** Async twin of `readManifestSync`, for the extension host. */
export async function readManifest(path: string): Promise<ManifestRead> {
  let text: string;
  try {
    text = await readRegularText(path, READ_LIMITS.manifestBytes);
  } catch (err) {
    return readFailure(err);
  }
  return parseManifest(text);
}
