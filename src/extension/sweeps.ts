// Sweep folders (docs/sweeps.md) as the extension finds and reads them, free of `vscode`: a sweep
// folder is a folder directly under a run root holding `sweep.json`; its points' run folders sit
// one level deeper (root/<sweep>/<0007>/run.json), a position the run index and the watcher
// already cover. Found without scanning deeper than that: the folders of a root that are not runs
// themselves are checked for a sweep.json, and a watcher event on one re-reads it.
import { existsSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { readRegularTextSync } from "../shared/safeRead";
import { parseSweepManifest, SWEEP_MANIFEST, type SweepManifest, type SweepPointStatus } from "../shared/sweepFormat";
import { pathKey } from "./paths";
import type { RunIndex } from "./runIndex";

/** sweep.json of MAX_SWEEP_POINTS points is a few MB; more than this is not a sweep manifest. */
const SWEEP_MANIFEST_BYTES = 64 << 20;

export type SweepRead =
  | { ok: true; dir: string; manifest: SweepManifest }
  | { ok: false; dir: string; problem: string };

/** Reads `<dir>/sweep.json`; a missing, unreadable or invalid file is a problem naming the file and the fields. */
export function readSweep(dir: string): SweepRead {
  const file = path.join(dir, SWEEP_MANIFEST);
  let text: string;
  try {
    text = readRegularTextSync(file, SWEEP_MANIFEST_BYTES);
  } catch (e) {
    return { ok: false, dir, problem: `${file}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const parsed = parseSweepManifest(text);
  return parsed.ok
    ? { ok: true, dir, manifest: parsed.manifest }
    : { ok: false, dir, problem: `${file}: ${parsed.problems.slice(0, 5).join("; ")}` };
}

/** A point's run folder (absolute). */
export function pointRunDir(sweepDir: string, run: string): string {
  return path.join(sweepDir, run);
}

/**
 * A point's status: its run.json's (the truth for how a training went) once it has one, else what
 * the launcher last wrote in sweep.json (pending, queued, cancelled before it started).
 */
export function pointStatus(
  index: Pick<RunIndex, "get">,
  sweepDir: string,
  point: { run: string; status: SweepPointStatus },
): SweepPointStatus {
  const e = index.get(pointRunDir(sweepDir, point.run));
  return e && e.status !== "invalid" ? e.status : point.status;
}

/** "7/12 finished" (and failures, when there are any). */
export function sweepProgress(statuses: readonly SweepPointStatus[]): string {
  const finished = statuses.filter((s) => s === "finished").length;
  const failed = statuses.filter((s) => s === "failed" || s === "diverged").length;
  const running = statuses.filter((s) => s === "running").length;
  return [
    `${finished}/${statuses.length} finished`,
    ...(running ? [`${running} running`] : []),
    ...(failed ? [`${failed} failed`] : []),
  ].join(" · ");
}

/** The sweep folders under the run roots, by path key; `scan` finds them, `update` follows one. */
export class SweepIndex {
  private readonly sweeps = new Map<string, SweepRead>();

  /** Every sweep folder directly under these roots (one listing per root, one stat per folder). */
  async scan(roots: readonly string[]): Promise<void> {
    const found = new Map<string, SweepRead>();
    for (const root of roots) {
      let names: string[];
      try {
        names = (await fsp.readdir(root, { withFileTypes: true }))
          .filter((d) => d.isDirectory() && !d.name.startsWith("."))
          .map((d) => d.name);
      } catch {
        continue; // a root that does not exist (yet)
      }
      for (const name of names) {
        const dir = path.join(root, name);
        if (existsSync(path.join(dir, SWEEP_MANIFEST))) found.set(pathKey(dir), readSweep(dir));
      }
    }
    this.sweeps.clear();
    for (const [k, v] of found) this.sweeps.set(k, v);
  }

  /**
   * A folder changed (a watcher event): re-read it if it is, or just became, a folder directly
   * under a root holding sweep.json (the watcher reports sweep.json, and a point folder appearing,
   * as a change of the sweep folder; a point's own files are the run index's business, so a
   * metrics line never re-reads a large sweep.json). Returns whether the sweeps changed.
   */
  update(dir: string, roots: readonly string[]): boolean {
    if (!roots.some((r) => pathKey(path.dirname(dir)) === pathKey(r))) return false;
    const key = pathKey(dir);
    if (existsSync(path.join(dir, SWEEP_MANIFEST))) {
      this.sweeps.set(key, readSweep(dir));
      return true;
    }
    return this.sweeps.delete(key);
  }

  get(dir: string): SweepRead | undefined {
    return this.sweeps.get(pathKey(dir));
  }

  /** The sweeps, newest folder name first (names end in their creation time). */
  all(): SweepRead[] {
    return [...this.sweeps.values()].sort((a, b) => (a.dir < b.dir ? 1 : a.dir > b.dir ? -1 : 0));
  }

  /** The sweep a run folder is a point of, if any. */
  sweepOf(runDir: string): SweepRead | undefined {
    return this.sweeps.get(pathKey(path.dirname(runDir)));
  }
}
