// Reading files that came with a run folder or a workspace, which may be hostile or broken: a
// symlink to /dev/zero, a FIFO, a 2 GiB file. Every reader of run files goes through here.
//
// - Only regular files are read: the path is stat-ed first, so a device or FIFO is never even
//   opened (opening some devices has side effects); then the file is opened with O_NONBLOCK (so
//   opening a FIFO swapped in after the stat still never blocks) and O_NOCTTY, and checked again
//   with fstat on the open descriptor (so a swap after the first check cannot fool it).
// - Reads are bounded: never more than `maxBytes`, and never past the size fstat reported (a file
//   that grows while read is read up to that size; the rest is for the next read).
// - Refusals are `FileRefusedError`s whose message names the file and the reason.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";

export type RefusalReason = "not-regular" | "too-large";

/** A file that exists but is not to be read: not a regular file, or over the limit. */
export class FileRefusedError extends Error {
  override readonly name = "FileRefusedError";
  constructor(
    readonly path: string,
    readonly reason: RefusalReason,
    /** The reason in words, without the path: "is a FIFO, not a regular file". */
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

/** Limits named in docs/run-format.md ("Limits"). */
export const READ_LIMITS = {
  /** run.json (a manifest is a few KB). */
  manifestBytes: 1 << 20,
  /** A safetensors JSON header. */
  safetensorsHeaderBytes: 16 << 20,
  /** One line of metrics.jsonl or of an analyses file. */
  lineBytes: 16 << 20,
  /** One record of a TensorBoard event file (TFRecord framing); scalar events are tens of bytes. */
  tfRecordBytes: 16 << 20,
  /** A checkpoint read whole (decoded into memory); reading only its header has no such limit. */
  checkpointBytes: 2 ** 31,
} as const;

// O_NOCTTY: a terminal device swapped in after the stat must not become our controlling terminal.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

function kindOf(stat: fs.Stats): string {
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  if (stat.isDirectory()) return "a directory";
  return "not a regular file";
}

function check(path: string, stat: fs.Stats, maxBytes: number): void {
  if (!stat.isFile()) throw new FileRefusedError(path, "not-regular", `is ${kindOf(stat)}, not a regular file`);
  if (stat.size > maxBytes) {
    throw new FileRefusedError(path, "too-large", `is ${stat.size} bytes, over the limit of ${maxBytes} bytes`);
  }
}

/**
 * Opens a regular file for reading without blocking on FIFOs. Returns the descriptor and its size;
 * throws FileRefusedError (or the fs error, e.g. ENOENT) otherwise. `maxBytes` bounds the size.
 */
export function openRegularSync(path: string, maxBytes = Number.MAX_SAFE_INTEGER): { fd: number; size: number } {
  check(path, fs.statSync(path), maxBytes);
  const fd = fs.openSync(path, OPEN_FLAGS);
  try {
    const stat = fs.fstatSync(fd);
    check(path, stat, maxBytes);
    return { fd, size: stat.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Reads exactly `length` bytes at `position` (fewer only at end of file). */
export function readAtSync(fd: number, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, out, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? out : out.subarray(0, got);
}

/** The whole of a regular file of at most `maxBytes`. */
export function readRegularFileSync(path: string, maxBytes: number): Buffer {
  const { fd, size } = openRegularSync(path, maxBytes);
  try {
    return readAtSync(fd, size, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** The whole of a regular text file of at most `maxBytes`, as UTF-8. */
export function readRegularTextSync(path: string, maxBytes: number): string {
  return readRegularFileSync(path, maxBytes).toString("utf8");
}

/** Async twin of `openRegularSync`, for the extension host. */
export async function openRegular(
  path: string,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<{ handle: fsp.FileHandle; size: number }> {
  check(path, await fsp.stat(path), maxBytes);
  const handle = await fsp.open(path, OPEN_FLAGS);
  try {
    const stat = await handle.stat();
    check(path, stat, maxBytes);
    return { handle, size: stat.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Async twin of `readRegularFileSync`. Written with fs callbacks rather than a FileHandle: the run
 * index reads tens of thousands of small files with it, and the promise API costs ~40 % more
 * time on the extension host's thread per file (FileHandle objects, promises, their garbage).
 */
export function readRegularFile(path: string, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fs.open(path, OPEN_FLAGS, (openErr, fd) => {
      if (openErr) {
        reject(openErr);
        return;
      }
      const finish = (err: unknown, out?: Buffer): void =>
        fs.close(fd, () => {
          if (out !== undefined && err === undefined) resolve(out);
          else reject(err);
        });
      fs.fstat(fd, (statErr, stat) => {
        if (statErr) {
          finish(statErr);
          return;
        }
        try {
          check(path, stat, maxBytes);
        } catch (e) {
          finish(e);
          return;
        }
        const size = stat.size;
        const out = Buffer.alloc(size);
        const readFrom = (got: number): void => {
          if (got >= size) {
            finish(undefined, out);
            return;
          }
          fs.read(fd, out, got, size - got, got, (readErr, bytesRead) => {
            if (readErr) finish(readErr);
            else if (bytesRead === 0) finish(undefined, out.subarray(0, got));
            else readFrom(got + bytesRead);
          });
        };
        readFrom(0);
      });
    });
  });
}

/** Async twin of `readRegularTextSync`. */
export async function readRegularText(path: string, maxBytes: number): Promise<string> {
  return (await readRegularFile(path, maxBytes)).toString("utf8");
}
