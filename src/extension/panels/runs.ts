// How panels find and name their runs, free of `vscode`: labels and statuses from the run index,
// run folders read for the analysis panels with what could not be read named, not thrown.

import * as path from "node:path";
import type { RunRef } from "../../shared/panels/common";
import type { AnalysisCache } from "../../shared/analysisFormat";
import { loadRunData, type RunData } from "../../shared/analysisViews";
import type { RunStatus } from "../../shared/runFormat";
import type { RunIndex } from "../runIndex";
import { pathKey } from "../paths";

/** What panel contents need from the extension (the `Ctx` offers it; tests build their own). */
export interface PanelEnv {
  readonly runIndex: Pick<RunIndex, "get" | "update" | "all">;
  /** Analysis files read incrementally, shared by the panels (absent: each read is whole). */
  readonly analysisCache?: AnalysisCache;
}

/** A stable key for a set of runs. */
export function runSetKey(runDirs: readonly string[]): string {
  return [...new Set(runDirs.map((d) => pathKey(d)))].sort().join("\n");
}

/** A run as panels name it: its id from run.json, else its folder name. */
export function labelOf(env: PanelEnv, runDir: string): string {
  const e = env.runIndex.get(runDir);
  return e && e.status !== "invalid" ? e.manifest.id : path.basename(runDir);
}

export function statusOf(env: PanelEnv, runDir: string): RunStatus | undefined {
  const e = env.runIndex.get(runDir) ?? env.runIndex.update(runDir);
  return e && e.status !== "invalid" ? e.status : undefined;
}

/** The runs in panel order, each with its colour (its place in the list). */
export function refsOf(env: PanelEnv, runDirs: readonly string[]): { ref: RunRef; runDir: string }[] {
  return runDirs.map((runDir, i) => ({ runDir, ref: { runId: runDir, label: labelOf(env, runDir), colorIndex: i } }));
}

/** Reads a run folder for an analysis panel; a run that cannot be read gives a problem naming it. */
export function loadRun(
  env: PanelEnv,
  runDir: string,
  options: { metrics: boolean },
): { data: RunData } | { problem: string } {
  const entry = env.runIndex.get(runDir) ?? env.runIndex.update(runDir);
  if (!entry) return { problem: `${runDir}: no run.json` };
  if (entry.status === "invalid") return { problem: `${runDir}: ${entry.problem}` };
  try {
    return { data: loadRunData(runDir, entry.manifest, { ...options, analyses: env.analysisCache }) };
  } catch (e) {
    return { problem: `${entry.manifest.id}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** The runs that could be read, and a problem for each that could not. */
export function loadRuns(
  env: PanelEnv,
  runDirs: readonly string[],
  options: { metrics: boolean },
): { runs: { ref: RunRef; data: RunData }[]; problems: string[] } {
  const runs: { ref: RunRef; data: RunData }[] = [];
  const problems: string[] = [];
  for (const { ref, runDir } of refsOf(env, runDirs)) {
    const r = loadRun(env, runDir, options);
    if ("data" in r) runs.push({ ref, data: r.data });
    else problems.push(r.problem);
  }
  return { runs, problems };
}
