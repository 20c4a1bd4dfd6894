// The Runs view: runs grouped by experiment file and system, newest first, with status icons.
// Item actions (package.json menus): open, reveal folder, delete (with confirmation), compare.
// The tree itself is `RunsTreeModel` (runsTree.ts): only changed nodes are redrawn, so the command
// of an item being clicked is not disposed under the click by an unrelated change.
import * as path from "node:path";
import * as vscode from "vscode";
import type { AnalyzerState } from "./analyzers";
import type { RunStatus } from "../shared/runFormat";
import { BRANCH_CONTEXT_SUFFIX, Commands, TreeItemContext, Views } from "./constants";
import type { Ctx } from "./context";
import { folderDescription } from "./displayPath";
import { Emitter } from "./events";
import type { LatestMetrics } from "./latestMetrics";
import { type RunsNode, type RunsSource, RunsTreeModel, runItemText, tensorboardItemText } from "./runsTree";

export type { RunsNode } from "./runsTree";

/** Redraws are gathered for this long (training progress arrives several times a second). */
const REFRESH_DELAY_MS = 300;

/** A Runs view node's run folder, when it is a run. */
export function runDirOf(x: unknown): string | undefined {
  if (typeof x === "string") return x;
  if (typeof x !== "object" || x === null) return undefined;
  const node = x as RunsNode;
  if (node.kind === "run" || node.kind === "invalid") return node.entry.runDir;
  if (node.kind === "tensorboard") return node.entry.logDir;
  return undefined;
}

/** A Runs view node's sweep folder, when it is a sweep (or a command was given the folder's path). */
export function sweepDirOf(x: unknown): string | undefined {
  if (typeof x === "string") return x;
  if (typeof x !== "object" || x === null) return undefined;
  const node = x as RunsNode;
  if (node.kind === "sweep") return node.read.dir;
  if (node.kind === "sweepPoint") return node.sweepDir;
  return undefined;
}

const STATUS_ICONS: Record<RunStatus, [string, string | undefined]> = {
  running: ["sync~spin", "charts.blue"],
  finished: ["pass", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  diverged: ["warning", "list.warningForeground"],
  stopped: ["debug-stop", undefined],
};

function statusIcon(status: RunStatus): vscode.ThemeIcon {
  const [id, color] = Object.hasOwn(STATUS_ICONS, status) ? STATUS_ICONS[status] : ["question", undefined];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

/** A few words on what the analyzer is doing for a run, or undefined when there is nothing to say. */
function analyzerText(state: AnalyzerState | undefined): string | undefined {
  switch (state?.kind) {
    case undefined:
    case "finished":
    case "stopped":
      return undefined;
    case "queued":
      return "analysis queued";
    case "running":
      // The analysis, not its step: each change of an item re-registers its click command, and a
      // click that lands during a refresh fails in VS Code ("Actual command not found",
      // microsoft/vscode#173233), so the item changes once per analysis, not once per record.
      return state.last ? `analysing (${state.last.analysis})` : "analysing";
    case "failed":
      return "analysis failed (see the log)";
  }
}

/** The open workspace's file folders, for `folderDescription`. */
export function workspaceFolders(): { name: string; fsPath: string }[] {
  return (vscode.workspace.workspaceFolders ?? [])
    .filter((f) => f.uri.scheme === "file")
    .map((f) => ({ name: f.name, fsPath: f.uri.fsPath }));
}

export class RunsView implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changedEmitter = new Emitter<RunsNode | RunsNode[] | undefined>();
  readonly onDidChangeTreeData = this.changedEmitter.event;
  readonly view: vscode.TreeView<RunsNode>;
  private readonly subscriptions: vscode.Disposable[] = [this.changedEmitter];
  private readonly model = new RunsTreeModel();
  private timer: NodeJS.Timeout | undefined;
  /** Run folders changed since the last redraw; `all` after many at once (a scan under way or done). */
  private touched = new Set<string>();
  private all = false;
  /** The unreadable-line count each run item shows, to redraw it when the count changes. */
  private readonly shownBadLines = new Map<string, number>();
  /** The analyzer text each run item shows, to redraw it only when the text changes. */
  private readonly shownAnalysis = new Map<string, string | undefined>();

  constructor(
    private readonly ctx: Ctx,
    /** The metrics tails (shared with the code lenses): a run item counts its unreadable metrics lines. */
    private readonly latest: LatestMetrics,
  ) {
    this.model.sync(this.source());
    this.view = vscode.window.createTreeView(Views.runs, {
      treeDataProvider: this,
      canSelectMany: true,
      showCollapseAll: true,
    });
    this.subscriptions.push(
      this.view,
      ctx.onDidChangeRuns((changes) => {
        // An empty list: many runs changed at once (a scan read more of them, or finished).
        if (changes.length === 0) this.all = true;
        // run.json, checkpoints and removal may change a Runs item; metrics only when they bring
        // unreadable lines (the item counts them); analyses never.
        for (const c of changes) {
          if (c.manifest || c.removed || c.checkpoints) this.touched.add(c.runDir);
          else if (
            c.metrics &&
            this.shownBadLines.has(c.runDir) &&
            this.latest.badLines(c.runDir) !== this.shownBadLines.get(c.runDir)
          )
            this.touched.add(c.runDir);
        }
        if (this.all || this.touched.size > 0) this.refreshSoon();
      }),
      // The analyzer's progress shows on its run's item.
      ctx.analyzers.onDidChange((state) => {
        if (this.shownAnalysis.has(state.runDir) && this.shownAnalysis.get(state.runDir) === analyzerText(state))
          return;
        this.touched.add(state.runDir);
        this.refreshSoon();
      }),
      ctx.onDidChangeTraining((run) => {
        // A training without a run folder yet has no item to redraw.
        if (run.runDir === undefined) return;
        this.touched.add(run.runDir);
        this.refreshSoon();
      }),
    );
  }

  private refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const touched = this.touched;
      const all = this.all;
      this.touched = new Set();
      this.all = false;
      const refresh = this.model.sync(this.source(), touched);
      if (all || refresh.kind === "full") this.changedEmitter.fire(undefined);
      else if (refresh.kind === "nodes") this.changedEmitter.fire(refresh.nodes);
    }, REFRESH_DELAY_MS);
  }

  /** The run index, with the sweep folders whose points show under them. */
  private source(): RunsSource {
    const index = this.ctx.runIndex;
    return {
      groups: () => index.groups(),
      invalid: () => index.invalid(),
      tensorboardLogs: () => index.tensorboardLogs(),
      sweeps: () => this.ctx.sweeps.all(),
      get: (runDir) => index.get(runDir),
    };
  }

  /** Run folders of the current selection (for Compare / Delete from the title bar). */
  selectedRunDirs(): string[] {
    return this.view.selection.map(runDirOf).filter((d): d is string => d !== undefined);
  }

  getChildren(node?: RunsNode): RunsNode[] {
    return node ? this.model.children(node) : this.model.roots();
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    return runsTreeItem(node, {
      hasChildren: (n) => this.model.children(n).length > 0,
      active: (runDir) => {
        const active = this.ctx.supervisor.findByRunDir(runDir);
        if (!active) return undefined;
        const { phase } = active;
        return { step: phase.kind === "training" || phase.kind === "stopping" ? phase.progress?.step : undefined };
      },
      // What an item shows is remembered, so a refresh that would show the same is skipped.
      analysis: (runDir) => {
        const text = analyzerText(this.ctx.analyzers.state(runDir));
        this.shownAnalysis.set(runDir, text);
        return text;
      },
      badLines: (runDir) => {
        const n = this.latest.badLines(runDir);
        this.shownBadLines.set(runDir, n);
        return n;
      },
    });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}

/**
 * What a Runs-view item says of the world beyond its node: the view's state in the extension, or a
 * test's stand-in (the hostile corpus builds every item of a hostile workspace this way).
 */
export interface RunsItemSources {
  /** Whether the node has children (a run with branches opens to them). */
  hasChildren(node: RunsNode): boolean;
  /** A run this window is training or stopping, with its step; undefined when none is. */
  active(runDir: string): { step: number | undefined } | undefined;
  /** The analyzer's text for the run ("analysing (kernel)"), or undefined. */
  analysis(runDir: string): string | undefined;
  /** How many lines of the run's metrics.jsonl could not be read. */
  badLines(runDir: string): number;
}

export function runsTreeItem(node: RunsNode, sources: RunsItemSources): vscode.TreeItem {
  switch (node.kind) {
    case "experiment": {
      const p = node.group.experimentPath;
      if (p === undefined) {
        const none = new vscode.TreeItem("No experiment file", vscode.TreeItemCollapsibleState.Expanded);
        none.id = node.id;
        none.description = "notebooks and scripts that recorded none";
        none.tooltip = "Runs whose run.json has no experiment (a notebook Jupyter did not name, a REPL)";
        none.iconPath = new vscode.ThemeIcon("notebook");
        return none;
      }
      const item = new vscode.TreeItem(path.basename(p), vscode.TreeItemCollapsibleState.Expanded);
      item.id = node.id;
      item.description = folderDescription(path.dirname(p), workspaceFolders());
      item.tooltip = p;
      item.resourceUri = vscode.Uri.file(p);
      item.iconPath = vscode.ThemeIcon.File;
      item.contextValue = TreeItemContext.experiment;
      return item;
    }
    case "system": {
      const item = new vscode.TreeItem(node.group.system, vscode.TreeItemCollapsibleState.Expanded);
      item.id = node.id;
      item.description = `${node.group.runs.length} run${node.group.runs.length === 1 ? "" : "s"}`;
      item.iconPath = new vscode.ThemeIcon("beaker");
      item.contextValue = TreeItemContext.system;
      return item;
    }
    case "run": {
      const e = node.entry;
      const m = e.manifest;
      const active = sources.active(e.runDir);
      // A run with branches (`lm branch`) opens to them.
      const collapsible = sources.hasChildren(node)
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.None;
      const item = new vscode.TreeItem(node.label ?? e.folderName, collapsible);
      item.id = node.id;
      const text = runItemText(e, {
        step: active?.step,
        analysis: sources.analysis(e.runDir),
        badLines: sources.badLines(e.runDir),
      });
      item.description = text.description;
      item.tooltip = new vscode.MarkdownString(text.tooltip);
      item.iconPath = statusIcon(m.status);
      item.contextValue =
        (active ? TreeItemContext.runActive : TreeItemContext.run) + (m.branchOf ? BRANCH_CONTEXT_SUFFIX : "");
      item.command = { title: "Open Run", command: Commands.openRun, arguments: [e.runDir] };
      return item;
    }
    case "tensorboardGroup": {
      const item = new vscode.TreeItem("TensorBoard logs", vscode.TreeItemCollapsibleState.Expanded);
      item.id = node.id;
      item.description = `${node.count} log${node.count === 1 ? "" : "s"} · scalars only`;
      item.iconPath = new vscode.ThemeIcon("graph");
      item.contextValue = TreeItemContext.tensorboardGroup;
      return item;
    }
    case "tensorboard": {
      const e = node.entry;
      const item = new vscode.TreeItem(e.label, vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      const text = tensorboardItemText(e);
      item.description = text.description;
      item.tooltip = new vscode.MarkdownString(text.tooltip);
      item.iconPath = new vscode.ThemeIcon("graph-line");
      item.contextValue = TreeItemContext.tensorboard;
      item.command = { title: "Open Run", command: Commands.openRun, arguments: [e.logDir] };
      return item;
    }
    case "sweep": {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = node.id;
      item.description = node.description;
      item.tooltip = node.read.dir;
      item.iconPath = new vscode.ThemeIcon(node.read.ok ? "graph-scatter" : "question");
      item.contextValue = TreeItemContext.sweep;
      if (node.read.ok) item.command = { title: "Open Sweep", command: Commands.openSweep, arguments: [node.read.dir] };
      return item;
    }
    case "sweepPoint": {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = `${node.status} · no run folder yet`;
      item.tooltip = node.runDir;
      item.iconPath = new vscode.ThemeIcon(node.status === "cancelled" ? "circle-slash" : "clock");
      return item;
    }
    case "invalid": {
      const item = new vscode.TreeItem(node.entry.folderName, vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = `invalid run: ${node.entry.problems[0] ?? node.entry.problem}`;
      item.tooltip = `${node.entry.runDir}\n${node.entry.problem}`;
      item.iconPath = new vscode.ThemeIcon("question", new vscode.ThemeColor("list.errorForeground"));
      item.contextValue = TreeItemContext.run;
      return item;
    }
  }
}
