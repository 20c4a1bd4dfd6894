// Crash-safe file writes for the run folder, in plain Node.
//
// `writeFileAtomic`: readers see either the old file or the complete new one, never a partial
// file: the bytes go to `<dir>/.<name>.<pid>.<random>.tmp`, are fsynced, then renamed over the
// target (rename is atomic within one directory), and the directory is fsynced so the rename
// itself survives a power cut. Temporary names start with "." and end with ".tmp", so run-folder
// readers (which match exact names such as `step-00000100.safetensors`) never pick them up.
//
// `appendLine`: metrics.jsonl is append-only; each line goes out in one write on an O_APPEND
// descriptor, so a concurrent reader sees whole lines (or a partial last line it can ignore). It
// appends only to a regular file, never through a symlink (one planted in a run folder must not
// carry writes elsewhere).
//
// `removeStaleTempFiles`: a write killed between its temporary file and the rename leaves the
// temporary behind; a new trainer removes those whose writer's pid is gone.
//
// `readJsonFile`: reads through safeRead (regular files, size limit) and never quotes the file.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { tryParseJson } from "./jsonText";
import { pidAlive } from "./runLock";
import { FileRefusedError, READ_LIMITS, readRegularText, readRegularTextSync } from "./safeRead";

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

/** An atomic write whose bytes arrive in pieces (e.g. a rewrite of a large file, streamed). */
export interface AtomicWriter {
  write(data: FileData): void;
  /** fsync, rename over the target, fsync the directory. */
  commit(): void;
  /** Removes the temporary file; the target is untouched. Safe to call after a failure. */
  abort(): void;
}

/**
 * Starts an atomic write of `path` (see `writeFileAtomic`) that takes its bytes in pieces, so a
 * large file can be rewritten without holding it in memory. Nothing is visible until `commit`.
 */
export function openAtomicWriterSync(path: string): AtomicWriter {
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx");
  } catch (err) {
    throw failure(path, err);
  }
  let open: number | undefined = fd;
  const close = (): void => {
    if (open === undefined) return;
    const f = open;
    open = undefined;
    fs.closeSync(f);
  };
  return {
    write(data) {
      if (open === undefined) throw new Error(`${path}: atomic write already finished`);
      const buf = bytes(data);
      try {
        let written = 0;
        while (written < buf.length) written += fs.writeSync(open, buf, written, buf.length - written);
      } catch (err) {
        throw failure(path, err);
      }
    },
    commit() {
      if (open === undefined) throw new Error(`${path}: atomic write already finished`);
      try {
        fs.fsyncSync(open);
        close();
        fs.renameSync(tmp, path);
      } catch (err) {
        try {
          close();
        } catch {
          // keep the first error
        }
        fs.rmSync(tmp, { force: true });
        throw failure(path, err);
      }
      fsyncDirSync(dirname(path));
    },
    abort() {
      try {
        close();
      } catch {
        // nothing more to do
      }
      fs.rmSync(tmp, { force: true });
    },
  };
}

/** `.<name>.<pid>.<8 hex>.tmp`: the temporary names of this module (see `tempPathFor`). */
const OWN_TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** The pid in a temporary name of this module, or undefined for any other name. */
export function tempFileOwner(name: string): number | undefined {
  const m = OWN_TEMP_NAME.exec(name);
  if (!m) return undefined;
  const pid = Number(m[2]);
  return Number.isSafeInteger(pid) ? pid : undefined;
}

/**
 * Deletes the temporary files this module left in `dir` (not in its subfolders) when a write was
 * killed: names `.<name>.<pid>.<8 hex>.tmp` whose pid is not a live process. A live pid's files
 * are kept (a write may be under way, or the pid was reused: keeping a stale file is the safe
 * error). Only regular files are removed, and nothing at all when `dir` is itself a symlink (so a
 * link planted in a run folder cannot lead the cleanup elsewhere). Returns the names removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    if (!fs.lstatSync(dir).isDirectory()) return [];
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const removed: string[] = [];
  for (const e of entries) {
    const pid = tempFileOwner(e.name);
    if (pid === undefined || !e.isFile() || pidAlive(pid)) continue;
    try {
      fs.unlinkSync(join(dir, e.name));
      removed.push(e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // gone already: fine
    }
  }
  return removed.sort();
}

/**
 * Appends one line to `path` (created if missing), adding the "\n" if `line` lacks it. The line is
 * written with a single write call on an append-mode descriptor. If the file does not end with a
 * newline (a writer crashed mid-line), a newline is written first, so the new line is never glued
 * to the broken one: readers then report the broken line and keep the new one.
 */
export function appendLine(path: string, line: string): void {
  if (line.slice(0, -1).includes("\n"))
    throw new Error(`appendLine: the line for ${path} contains a newline before its end`);
  const text = line.endsWith("\n") ? line : `${line}\n`;
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted as metrics.jsonl must not carry our writes out of the run
    // folder; O_NONBLOCK: a FIFO must not block the open (it is refused below).
    fd = fs.openSync(
      path,
      fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | APPEND_EXTRA_FLAGS,
      0o644,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP")
      throw failure(path, new Error("is a symbolic link; appending through it is refused"));
    throw failure(path, err);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error("not a regular file; appending to it is refused");
    const { size } = stat;
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

const APPEND_EXTRA_FLAGS = (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

export type JsonFileResult = { ok: true; value: unknown } | { ok: false; error: string };

function parseJsonText(path: string, text: string): JsonFileResult {
  // tryParseJson's problems give a position, never the text (it may be a symlink target's contents).
  const parsed = tryParseJson(text);
  return parsed.ok
    ? { ok: true, value: parsed.value }
    : { ok: false, error: `${path}: ${text.trim() === "" ? "empty file" : `invalid JSON: ${parsed.problem}`}` };
}

function readError(path: string, err: unknown): JsonFileResult {
  if (err instanceof FileRefusedError) return { ok: false, error: `${path}: cannot read: ${err.detail}` };
  const e = err as NodeJS.ErrnoException;
  const what = e.code === "ENOENT" ? "file not found" : e.message;
  return { ok: false, error: `${path}: cannot read: ${what}` };
}

/**
 * Reads and parses a JSON file; never throws. Errors name the file. Only a regular file of at most
 * `maxBytes` (default READ_LIMITS.manifestBytes) is read (see safeRead.ts); Python's NaN and
 * Infinity tokens are accepted.
 */
export async function readJsonFile(
  path: string,
  maxBytes: number = READ_LIMITS.manifestBytes,
): Promise<JsonFileResult> {
  let text: string;
  try {
    text = await readRegularText(path, maxBytes);
  } catch (err) {
    return readError(path, err);
  }
  return parseJsonText(path, text);
}

/** Synchronous `readJsonFile`. */
export function readJsonFileSync(path: string, maxBytes: number = READ_LIMITS.manifestBytes): JsonFileResult {
  let text: string;
  try {
    text = readRegularTextSync(path, maxBytes);
  } catch (err) {
    return readError(path, err);
  }
  return parseJsonText(path, text);
}
