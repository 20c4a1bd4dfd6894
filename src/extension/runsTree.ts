// The Runs view's tree as data (no `vscode`): experiment → system → run nodes built from the run
// index, kept as the same objects across updates (keyed by their tree-item id) so that VS Code can
// match them, and a `sync` that says which nodes must be redrawn. Redrawing the whole tree on every
// change disposed the command of every run item, so a click during a redraw hit a command that was
// gone; now only the changed run / system / experiment nodes are redrawn, and the whole tree only
// when the set or order of top-level nodes changes. TensorBoard logs (runIndex.ts) come after the
// experiments, under one "TensorBoard logs" node, one item per log folder. A branch (`lm branch`)
// is shown under its parent run.
import * as path from "node:path";
import { METRICS_FILE } from "../shared/runFormat";
import type { SweepPointStatus } from "../shared/sweepFormat";
import { pointLabel } from "../shared/sweepView";
import { backendName } from "./hoverContent";
import { pathKey } from "./paths";
import type {
  ExperimentGroup,
  InvalidRunEntry,
  RunEntry,
  SystemGroup,
  TensorBoardEntry,
  ValidRunEntry,
} from "./runIndex";
import { pointRunDir, type SweepRead, sweepProgress } from "./sweeps";

export type RunsNode =
  | { readonly kind: "experiment"; readonly id: string; group: ExperimentGroup }
  | { readonly kind: "system"; readonly id: string; readonly experimentPath: string | undefined; group: SystemGroup }
  /** A run; `label` names a sweep's point by its values and seed (else the item shows the folder name). */
  | { readonly kind: "run"; readonly id: string; entry: ValidRunEntry; label?: string }
  | { readonly kind: "invalid"; readonly id: string; entry: InvalidRunEntry }
  | { readonly kind: "tensorboardGroup"; readonly id: string; count: number }
  | { readonly kind: "tensorboard"; readonly id: string; entry: TensorBoardEntry }
  /** A sweep folder: "<system> sweep · 7/12 finished", its points as children. */
  | { readonly kind: "sweep"; readonly id: string; read: SweepRead; label: string; description: string }
  /** A sweep's point whose run folder does not exist yet (pending, queued, cancelled before it ran). */
  | {
      readonly kind: "sweepPoint";
      readonly id: string;
      sweepDir: string;
      runDir: string;
      label: string;
      status: SweepPointStatus;
    };

/** What the tree is built from (the run index). */
export interface RunsSource {
  groups(): ExperimentGroup[];
  invalid(): InvalidRunEntry[];
  tensorboardLogs(): TensorBoardEntry[];
  /** The sweep folders (their points' runs are shown under them, not under their system). */
  sweeps?(): SweepRead[];
  /** A run folder's entry (a sweep point's). */
  get?(runDir: string): RunEntry | undefined;
}

/** What the view must redraw after a `sync`. */
export type TreeRefresh = { kind: "none" } | { kind: "full" } | { kind: "nodes"; nodes: RunsNode[] };

/** The key of an experiment in ids: its path key, or "(none)" for runs that record no file (no path key is relative). */
const experimentKey = (experimentPath: string | undefined): string =>
  experimentPath === undefined ? "(none)" : pathKey(experimentPath);
const experimentId = (experimentPath: string | undefined): string => `experiment:${experimentKey(experimentPath)}`;
const systemId = (experimentPath: string | undefined, system: string): string =>
  `system:${experimentKey(experimentPath)}#${system}`;
/** A run item's id, from its run folder's key (`pathKey`). */
export const runId = (runKey: string): string => `run:${runKey}`;
const invalidId = (runDir: string): string => `invalid:${runDir}`;
const TENSORBOARD_GROUP_ID = "tensorboard";
const sweepId = (dirKey: string): string => `sweep:${dirKey}`;
const tensorboardId = (logKey: string): string => `tensorboard:${logKey}`;

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The parent run of each branch among `runs` (by index key): its `branchOf.run` resolved from the
 * branch's folder, when that run is in the list. A chain that loops (hand-edited run.json files)
 * leaves its runs at the top.
 */
export function branchParents(runs: readonly ValidRunEntry[]): Map<string, string> {
  const keys = new Set(runs.map((e) => e.key));
  const direct = new Map<string, string>();
  for (const e of runs) {
    const b = e.manifest.branchOf;
    if (!b) continue;
    const key = pathKey(path.resolve(e.runDir, b.run));
    if (key !== e.key && keys.has(key)) direct.set(e.key, key);
  }
  const out = new Map<string, string>();
  for (const [child, parent] of direct) {
    let at: string | undefined = parent;
    for (let n = 0; at !== undefined && at !== child && n <= direct.size; n++) at = direct.get(at);
    if (at === undefined) out.set(child, parent);
  }
  return out;
}

export class RunsTreeModel {
  private nodes = new Map<string, RunsNode>();
  private rootIds: string[] | undefined;
  private childIds = new Map<string, string[]>();
  private parentOf = new Map<string, string>();

  roots(): RunsNode[] {
    return (this.rootIds ?? []).map((id) => this.nodes.get(id)!);
  }

  children(node: RunsNode): RunsNode[] {
    return (this.childIds.get(node.id) ?? []).map((id) => this.nodes.get(id)!);
  }

  /** The node with this tree-item id, as last synced. */
  get(id: string): RunsNode | undefined {
    return this.nodes.get(id);
  }

  /**
   * Rebuilds from `source`, reusing the node objects of ids seen before. `touched`: run folders
   * whose item changed for reasons the index does not show (training progress). Returns `full`
   * on the first sync, or when the top-level nodes (experiments, unreadable runs) differ.
   */
  sync(source: RunsSource, touched: Iterable<string> = []): TreeRefresh {
    const touchedIds = new Set<string>();
    for (const dir of touched)
      touchedIds
        .add(runId(pathKey(dir)))
        .add(invalidId(pathKey(dir)))
        .add(tensorboardId(pathKey(dir)));
    const nodes = new Map<string, RunsNode>();
    const childIds = new Map<string, string[]>();
    const parentOf = new Map<string, string>();
    const dirty: RunsNode[] = [];

    const reuse = <N extends RunsNode>(fresh: N, changed: (old: N) => boolean): N => {
      const old = this.nodes.get(fresh.id) as N | undefined;
      if (old === undefined || old.kind !== fresh.kind) {
        nodes.set(fresh.id, fresh);
        return fresh;
      }
      const wasChanged = changed(old) || touchedIds.has(fresh.id);
      Object.assign(old, fresh);
      nodes.set(old.id, old);
      if (wasChanged) dirty.push(old);
      return old;
    };
    const listChanged = (id: string, ids: string[]) => !sameList(this.childIds.get(id), ids);

    const rootIds: string[] = [];
    const sweeps = source.sweeps?.() ?? [];
    const sweepKeys = new Set(sweeps.map((r) => pathKey(r.dir)));
    const inSweep = (e: ValidRunEntry) => sweepKeys.size > 0 && sweepKeys.has(pathKey(path.dirname(e.runDir)));
    for (const group of source.groups()) {
      const expId = experimentId(group.experimentPath);
      const systemIds: string[] = [];
      for (const sys of group.systems) {
        const sysId = systemId(group.experimentPath, sys.system);
        const runIds: string[] = [];
        const runs = sys.runs.filter((e) => !inSweep(e));
        // A system whose runs are all sweep points shows under its sweeps only.
        if (runs.length === 0) continue;
        // A branch (run.json `branchOf`) goes under its parent run when that run is in this system.
        const parents = branchParents(runs);
        const branchIds = new Map<string, string[]>();
        for (const entry of runs) {
          const parent = parents.get(entry.key);
          if (parent !== undefined)
            branchIds.set(runId(parent), [...(branchIds.get(runId(parent)) ?? []), runId(entry.key)]);
        }
        for (const entry of runs) {
          const id = runId(entry.key);
          const branches = branchIds.get(id) ?? [];
          const run = reuse(
            { kind: "run", id, entry },
            (old) => old.entry !== entry || !sameList(this.childIds.get(id) ?? [], branches),
          );
          if (branches.length > 0) childIds.set(id, branches);
          const parent = parents.get(entry.key);
          if (parent === undefined) runIds.push(run.id);
          parentOf.set(run.id, parent === undefined ? sysId : runId(parent));
        }
        // A system's item shows its run count; its children are its runs.
        const shown = runs.length === sys.runs.length ? sys : { ...sys, runs };
        reuse({ kind: "system", id: sysId, experimentPath: group.experimentPath, group: shown }, () =>
          listChanged(sysId, runIds),
        );
        childIds.set(sysId, runIds);
        systemIds.push(sysId);
        parentOf.set(sysId, expId);
      }
      if (systemIds.length === 0) continue;
      reuse({ kind: "experiment", id: expId, group }, () => listChanged(expId, systemIds));
      childIds.set(expId, systemIds);
      rootIds.push(expId);
    }
    for (const read of sweeps) {
      const id = sweepId(pathKey(read.dir));
      const pointIds: string[] = [];
      const statuses: SweepPointStatus[] = [];
      if (read.ok) {
        const m = read.manifest;
        for (const p of m.points) {
          const runDir = pointRunDir(read.dir, p.run);
          const entry = source.get?.(runDir);
          const label = pointLabel(m.fields, p.values, p.seed);
          if (entry && entry.status !== "invalid") {
            const run = reuse(
              { kind: "run", id: runId(entry.key), entry, label },
              (old) => old.entry !== entry || old.label !== label,
            );
            pointIds.push(run.id);
            parentOf.set(run.id, id);
            statuses.push(entry.status);
          } else {
            const node = reuse(
              {
                kind: "sweepPoint",
                id: `sweepPoint:${pathKey(runDir)}`,
                sweepDir: read.dir,
                runDir,
                label,
                status: p.status,
              },
              (old) => old.status !== p.status || old.label !== label,
            );
            pointIds.push(node.id);
            parentOf.set(node.id, id);
            statuses.push(p.status);
          }
        }
      }
      const label = read.ok
        ? `${read.manifest.system} sweep · ${sweepProgress(statuses)}`
        : `${path.basename(read.dir)} · sweep.json unreadable`;
      const description = read.ok
        ? `${path.basename(read.dir)}${read.manifest.launcher.kind === "slurm" ? " · Slurm" : ""}`
        : read.problem;
      reuse(
        { kind: "sweep", id, read, label, description },
        (old) => old.label !== label || old.description !== description || listChanged(id, pointIds),
      );
      childIds.set(id, pointIds);
      rootIds.push(id);
    }
    const logs = source.tensorboardLogs();
    if (logs.length > 0) {
      const logIds: string[] = [];
      for (const entry of logs) {
        const node = reuse(
          { kind: "tensorboard", id: tensorboardId(entry.key), entry },
          (old) => old.entry.label !== entry.label || old.entry.eventFiles.join("\n") !== entry.eventFiles.join("\n"),
        );
        logIds.push(node.id);
        parentOf.set(node.id, TENSORBOARD_GROUP_ID);
      }
      reuse({ kind: "tensorboardGroup", id: TENSORBOARD_GROUP_ID, count: logs.length }, () =>
        listChanged(TENSORBOARD_GROUP_ID, logIds),
      );
      childIds.set(TENSORBOARD_GROUP_ID, logIds);
      rootIds.push(TENSORBOARD_GROUP_ID);
    }
    for (const entry of source.invalid()) {
      const node = reuse({ kind: "invalid", id: invalidId(entry.key), entry }, (old) => old.entry !== entry);
      rootIds.push(node.id);
    }

    const first = this.rootIds === undefined;
    const rootsChanged = !sameList(this.rootIds, rootIds);
    this.nodes = nodes;
    this.childIds = childIds;
    this.parentOf = parentOf;
    this.rootIds = rootIds;
    if (first || rootsChanged) return { kind: "full" };
    // A redrawn node redraws its children: leave out nodes under another dirty node.
    const dirtyIds = new Set(dirty.map((n) => n.id));
    const underDirty = (id: string): boolean => {
      for (let p = this.parentOf.get(id); p !== undefined; p = this.parentOf.get(p)) if (dirtyIds.has(p)) return true;
      return false;
    };
    const top = dirty.filter((n) => !underDirty(n.id));
    return top.length === 0 ? { kind: "none" } : { kind: "nodes", nodes: top };
  }
}

/** What a run's item says beyond its name: the one line beside it and the lines of its tooltip. */
export interface RunItemText {
  description: string;
  /** Markdown, every value from run.json escaped. */
  tooltip: string;
}

/** Escapes text for a Markdown tooltip line (links, images, HTML and emphasis are defused). */
function escapeTooltip(text: string): string {
  // Control characters would break the line; punctuation could start Markdown syntax.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this replaces
  return text.replace(/[\u0000-\u001f\u007f]/g, " ").replace(/[\\`*_[\]<>#!()|~]/g, "\\$&");
}

/**
 * A run item's text. Every run.json field is untrusted: the index has checked the ones it needs
 * (status, step, totalSteps, id, startedAt, backend.name), and this checks again what it shows, so
 * an entry built any other way cannot make the Runs view throw.
 */
export function runItemText(
  entry: ValidRunEntry,
  live: { step?: number | undefined; analysis?: string | undefined; badLines?: number | undefined },
): RunItemText {
  const m = entry.manifest;
  const text = (v: unknown, fallback = "?"): string =>
    typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : fallback;
  const step = live.step ?? m.step;
  const errorMessage = errorText(m.error);
  const bad =
    live.badLines !== undefined && live.badLines > 0
      ? `${live.badLines} unreadable line${live.badLines === 1 ? "" : "s"} in ${METRICS_FILE}`
      : undefined;
  const description = [
    `${text(m.status)} · step ${text(step)}/${text(m.totalSteps)}`,
    ...(live.analysis ? [live.analysis] : []),
    ...(bad ? [`${live.badLines} unreadable line${live.badLines === 1 ? "" : "s"}`] : []),
  ].join(" · ");
  const tooltip = [
    `**${escapeTooltip(text(m.id))}**`,
    `status: ${escapeTooltip(text(m.status))}${errorMessage !== undefined ? ` — ${escapeTooltip(errorMessage)}` : ""}`,
    `step ${escapeTooltip(text(step))} of ${escapeTooltip(text(m.totalSteps))}`,
    `backend: ${escapeTooltip(backendName(m.backend) ?? "?")}`,
    `started ${escapeTooltip(text(m.startedAt))}`,
    ...(live.analysis ? [`analyses: ${escapeTooltip(live.analysis)}`] : []),
    ...(bad ? [escapeTooltip(bad)] : []),
    escapeTooltip(entry.runDir),
  ].join("  \n");
  return { description, tooltip };
}

function errorText(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : undefined;
}

/**
 * A TensorBoard log item's text: what it is and, honestly, what it is not (no run.json, so no
 * status, checkpoints or analyses: only its scalars open, in the loss-curves panel).
 */
export function tensorboardItemText(entry: TensorBoardEntry): RunItemText {
  const n = entry.eventFiles.length;
  const files = `${n} event file${n === 1 ? "" : "s"}`;
  const description = `TensorBoard log · ${files} · scalars only, no checkpoints or analyses`;
  const tooltip = [
    `**${escapeTooltip(entry.label)}** (TensorBoard log, ${files})`,
    "Its scalars open in the loss-curves panel, followed while the files grow.",
    "No checkpoints and no analyses: a TensorBoard log records scalars only (no weights), so the grokking, lazy-vs-rich and influence panels have nothing to read.",
    "Records that fail their checksum are skipped and counted in the panel's legend.",
    escapeTooltip(entry.logDir),
  ].join("  \n");
  return { description, tooltip };
}
