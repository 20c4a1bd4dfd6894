// Implicit α sweeps: runs that were not launched as a sweep (no sweep.json) but whose configs
// differ only in the output scale α (and the seed), shown in the sweep panel as if they were one,
// so there is one view of α sweeps (docs/sweeps.md). Host side (reads manifests and run data);
// the page sees the same SweepInfo and SweepPanelPoint as for a declared sweep.
import { basename, dirname, resolve } from "node:path";
import { ALPHA_FIELD } from "./alphaFit";
import { canonicalJson } from "./analysisFormat";
import type { SweepInfo } from "./panels/sweep";
import type { RunManifest, RunStatus } from "./runFormat";
import type { QuantityKey, SweepPanelPoint } from "./sweepView";

/** A run as the grouping sees it: its folder and manifest. */
export interface ManifestRun {
  runDir: string;
  manifest: RunManifest;
}

/** Runs of one system differing only in α (and seed): an implicit sweep over `model.alpha`. */
export interface AlphaSweepGroup {
  /** The system's name; the experiment file's name when the runs come from several systems. */
  name: string;
  /** By α, then seed. */
  runs: { runDir: string; alpha: number; seed: number }[];
}

/** α of a run's model (1 when the model has none). */
export function alphaOf(manifest: RunManifest): number {
  const model = (manifest.config as { model?: Record<string, unknown> }).model;
  const a = model?.["alpha"];
  return typeof a === "number" ? a : 1;
}

/** The run's seed (run.json's `seed`; 0 if a foreign writer left it out of range). */
export function seedOf(manifest: RunManifest): number {
  return Number.isInteger(manifest.seed) ? manifest.seed : 0;
}

/**
 * The config with α (and what α implies), the seed and free-text fields removed: equal keys =
 * runs of one α sweep. The seed is left out so that repeats of a point pool as a declared
 * sweep's seeds do (the panel's spread).
 */
function groupKey(manifest: RunManifest): string {
  const c = JSON.parse(JSON.stringify(manifest.config)) as Record<string, unknown>;
  delete c["description"];
  delete c["summary"];
  delete c["analyses"];
  delete c["seed"];
  const model = c["model"] as Record<string, unknown> | undefined;
  if (model) {
    delete model["alpha"];
    delete model["centered"];
  }
  return `${manifest.experiment?.path ?? ""}\n${canonicalJson(c)}`;
}

/**
 * Groups runs into implicit α sweeps: two or more distinct α among runs whose configs differ
 * only in α and seed. Points of a declared sweep are left out: their sweep.json is their sweep
 * (declaredAlphaSweeps).
 */
export function alphaSweepGroups(runs: readonly ManifestRun[]): AlphaSweepGroup[] {
  const groups = new Map<string, ManifestRun[]>();
  for (const r of runs) {
    if (r.manifest.sweep !== undefined) continue;
    const key = groupKey(r.manifest);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: AlphaSweepGroup[] = [];
  for (const group of groups.values()) {
    if (new Set(group.map((r) => alphaOf(r.manifest))).size < 2) continue;
    out.push({
      name: groupName(group),
      runs: group
        .map((r) => ({ runDir: r.runDir, alpha: alphaOf(r.manifest), seed: seedOf(r.manifest) }))
        .sort((a, b) => a.alpha - b.alpha || a.seed - b.seed),
    });
  }
  return out;
}

/** The system's name, or the experiment file's name when the runs come from several systems (one per α, say). */
function groupName(runs: readonly ManifestRun[]): string {
  const names = [...new Set(runs.map((r) => r.manifest.system))];
  const file = runs[0]?.manifest.experiment?.path;
  return names.length === 1 || !file ? (names[0] ?? "") : basename(file);
}

/** The sweep folders (absolute) of runs that are points of a declared sweep over α, in first-seen order. */
export function declaredAlphaSweeps(runs: readonly ManifestRun[]): string[] {
  const dirs: string[] = [];
  for (const r of runs) {
    const s = r.manifest.sweep;
    if (s === undefined || !Object.hasOwn(s.values, ALPHA_FIELD)) continue;
    const dir = resolve(r.runDir, s.dir);
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

/** One run of an implicit sweep as the sweep panel's point: α its only swept field. */
export function implicitSweepPoint(
  index: number,
  run: ManifestRun & { status: RunStatus },
  y: Record<QuantityKey, number>,
): SweepPanelPoint {
  return {
    index,
    runId: run.runDir,
    values: { [ALPHA_FIELD]: alphaOf(run.manifest) },
    seed: seedOf(run.manifest),
    status: run.status,
    y,
  };
}

/**
 * The sweep panel's description of an implicit sweep over these runs: named by their system (or
 * the group's name when they come from several), the folder they share as its `dir`.
 */
export function implicitSweepInfo(runs: readonly ManifestRun[]): SweepInfo {
  const parents = [...new Set(runs.map((r) => dirname(r.runDir)))];
  return {
    dir: parents.length === 1 ? parents[0]! : "",
    system: groupName(runs),
    fields: [ALPHA_FIELD],
    launcher: "local",
    implicit: true,
  };
}
