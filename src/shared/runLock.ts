// One writer per run folder. A trainer (train or resume) holds `<run>/.lock`; an analyzer holds
// `<run>/analyses/.lock` (it may follow a run that is still training, so the two do not exclude
// each other). The lock file holds the owner's pid, purpose and start time as JSON; it is created
// with O_EXCL, so of two processes only one gets it. A lock whose pid is no longer alive is stale:
// it is taken over (recorded in `recovered`). Documented in docs/run-format.md ("Locks").
import * as fs from "node:fs";
import { join } from "node:path";

/** "sweep": a writer of a sweep folder's sweep.json (src/trainer/sweep/folder.ts). */
export type LockPurpose = "train" | "resume" | "analyze" | "sweep";

export interface LockOwner {
  pid: number;
  purpose: LockPurpose;
  /** ISO time the lock was taken. */
  since: string;
}

/** The folder is in use by another live process. */
export class RunLockedError extends Error {
  constructor(
    readonly lockPath: string,
    readonly owner: LockOwner,
  ) {
    super(`${lockPath}: run folder in use by pid ${owner.pid} (${owner.purpose} since ${owner.since})`);
  }
}

export interface RunLock {
  readonly path: string;
  /** The stale owner that was taken over, if any. */
  readonly recovered?: LockOwner;
  release(): void;
}

export const TRAINER_LOCK = ".lock";
export const ANALYZER_LOCK = join("analyses", ".lock");

/** True when a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const stat = fs.lstatSync(path);
    if (!stat.isFile() || stat.size > 4096) return undefined;
    const value: unknown = JSON.parse(fs.readFileSync(path, "utf8"));
    if (typeof value !== "object" || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (typeof v["pid"] !== "number") return undefined;
    return {
      pid: v["pid"],
      purpose: (typeof v["purpose"] === "string" ? v["purpose"] : "train") as LockPurpose,
      since: typeof v["since"] === "string" ? v["since"] : "unknown",
    };
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock `relPath` (TRAINER_LOCK or ANALYZER_LOCK) of `runDir` for this process, or throws
 * RunLockedError naming the live owner. The lock's folder must exist.
 */
export function acquireRunLock(runDir: string, relPath: string, purpose: LockPurpose): RunLock {
  const path = join(runDir, relPath);
  const me: LockOwner = { pid: process.pid, purpose, since: new Date().toISOString() };
  let recovered: LockOwner | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(
        path,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0),
        0o644,
      );
      try {
        fs.writeSync(fd, JSON.stringify(me));
      } finally {
        fs.closeSync(fd);
      }
      let released = false;
      return {
        path,
        ...(recovered ? { recovered } : {}),
        release() {
          if (released) return;
          released = true;
          if (readOwner(path)?.pid === process.pid) fs.rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = readOwner(path);
    if (owner && owner.pid !== process.pid && pidAlive(owner.pid)) throw new RunLockedError(path, owner);
    if (owner?.pid === process.pid) throw new RunLockedError(path, owner);
    // Stale (dead pid) or unreadable (a write cut short): take it over. lstat first so a symlink
    // planted as the lock is removed, never followed.
    if (owner) recovered = owner;
    fs.rmSync(path, { force: true });
  }
  throw new Error(`${path}: could not take the lock (it keeps reappearing)`);
}
