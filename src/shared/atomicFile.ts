// Crash-safe file writes for the run folder, in plain Node.
//
// `writeFileAtomic`: readers see either the old file or the complete new one, never a partial
// file: the bytes go to `<dir>/.<name>.<pid>.<random>.tmp`, are fsynced, then renamed over the
// target (rename is atomic within one directory), and the directory is fsynced so the rename
// itself survives a power cut. Temporary names start with "." and end with ".tmp", so run-folder
// readers (which match exact names such as `step-00000100.safetensors`) never pick them up.
//
// `appendLine`: metrics.jsonl is append-only; each line goes out in one write on an O_APPEND
// descriptor, so a concurrent reader sees whole lines (or a partial last line it can ignore).

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export type FileData = string | Uint8Array;

/** The temporary name used for an atomic write of `path`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/** True for names `writeFileAtomic` uses for its temporary files. */
export function isTempFileName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

function bytes(data: FileData): Uint8Array {
  if (typeof data !== "string") return data;
  const b = Buffer.from(data, "utf8");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The error to throw when writing `target` failed: same `code`/`errno`/`syscall` as the original
 * (so callers can still test for ENOSPC, EACCES, ...), a message naming the target, and the
 * original as `cause`.
 */
function failure(target: string, err: unknown): Error {
  if (!(err instanceof Error)) return new Error(`could not write ${target}: ${String(err)}`);
  const orig = err as NodeJS.ErrnoException;
  const wrapped: NodeJS.ErrnoException = new Error(`could not write ${target}: ${orig.message}`, { cause: orig });
  if (orig.code !== undefined) wrapped.code = orig.code;
  if (orig.errno !== undefined) wrapped.errno = orig.errno;
  if (orig.syscall !== undefined) wrapped.syscall = orig.syscall;
  wrapped.path = target;
  return wrapped;
}

/** fsync a directory so a rename in it is durable. Not possible everywhere (e.g. Windows): best effort. */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Opening or syncing a directory is unsupported on some platforms and file systems.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, "r");
    await fh.sync();
  } catch {
    // As above: best effort.
  } finally {
    await fh?.close();
  }
}

/** Writes `data` to `path` atomically (see the top of this file). Throws with the original error code. */
export async function writeFileAtomic(path: string, data: FileData): Promise<void> {
  const tmp = tempPathFor(path);
  let fh: fsp.FileHandle | undefined;
  let created = false;
  try {
    fh = await fsp.open(tmp, "wx");
    created = true;
    const buf = bytes(data);
    let written = 0;
    while (written < buf.length) {
      const { bytesWritten } = await fh.write(buf, written, buf.length - written);
      written += bytesWritten;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, path);
    created = false;
  } catch (err) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    if (created) await fsp.unlink(tmp).catch(() => undefined);
    throw failure(path, err);
  }
  await fsyncDir(dirname(path));
}

/** Synchronous `writeFileAtomic`. */
export function writeFileAtomicSync(path: string, data: FileData): void {
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = fs.openSync(tmp, "wx");
    created = true;
    const buf = bytes(data);
    let written = 0;
    while (written < buf.length) written += fs.writeSync(fd, buf, written, buf.length - written);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
    created = false;
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; keep the first error
      }
    }
    if (created) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // nothing more to do
      }
    }
    throw failure(path, err);
  }
  fsyncDirSync(dirname(path));
}

/**
 * Appends one line to `path` (created if missing), adding the "\n" if `line` lacks it. The line is
 * written with a single write call on an append-mode descriptor. If the file does not end with a
 * newline (a writer crashed mid-line), a newline is written first, so the new line is never glued
 * to the broken one: readers then report the broken line and keep the new one.
 */
export function appendLine(path: string, line: string): void {
  if (line.slice(0, -1).includes("\n")) throw new Error(`appendLine: the line for ${path} contains a newline before its end`);
  const text = line.endsWith("\n") ? line : line + "\n";
  let fd: number;
  try {
    fd = fs.openSync(path, "a+");
  } catch (err) {
    throw failure(path, err);
  }
  try {
    const { size } = fs.fstatSync(fd);
    let prefix = "";
    if (size > 0) {
      const last = new Uint8Array(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    const buf = bytes(prefix + text);
    let written = fs.writeSync(fd, buf, 0, buf.length);
    // A regular file takes the whole buffer at once; loop only for exotic file systems.
    while (written < buf.length) written += fs.writeSync(fd, buf, written, buf.length - written);
  } catch (err) {
    throw failure(path, err);
  } finally {
    fs.closeSync(fd);
  }
}

export type JsonFileResult = { ok: true; value: unknown } | { ok: false; error: string };

function parseJsonText(path: string, text: string): JsonFileResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: `${path}: invalid JSON: ${(err as Error).message}` };
  }
}

function readError(path: string, err: unknown): JsonFileResult {
  const e = err as NodeJS.ErrnoException;
  const what = e.code === "ENOENT" ? "file not found" : e.message;
  return { ok: false, error: `${path}: cannot read: ${what}` };
}

/** Reads and parses a JSON file; never throws. Errors name the file. */
export async function readJsonFile(path: string): Promise<JsonFileResult> {
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch (err) {
    return readError(path, err);
  }
  return parseJsonText(path, text);
}

/** Synchronous `readJsonFile`. */
export function readJsonFileSync(path: string): JsonFileResult {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    return readError(path, err);
  }
  return parseJsonText(path, text);
}
