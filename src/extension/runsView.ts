// The Runs view: runs grouped by experiment file and system, newest first, with status icons.
// Item actions (package.json menus): open, reveal folder, delete (with confirmation), compare.
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunStatus } from "../shared/runFormat";
import { Commands, TreeItemContext, Views } from "./constants";
import type { Ctx } from "./context";
import type { ExperimentGroup, InvalidRunEntry, SystemGroup, ValidRunEntry } from "./runIndex";

export type RunsNode =
  | { kind: "experiment"; group: ExperimentGroup }
  | { kind: "system"; experimentPath: string; group: SystemGroup }
  | { kind: "run"; entry: ValidRunEntry }
  | { kind: "invalid"; entry: InvalidRunEntry };

/** A Runs view node's run folder, when it is a run. */
export function runDirOf(x: unknown): string | undefined {
  if (typeof x === "string") return x;
  if (typeof x !== "object" || x === null) return undefined;
  const node = x as RunsNode;
  if (node.kind === "run" || node.kind === "invalid") return node.entry.runDir;
  return undefined;
}

const STATUS_ICONS: Record<RunStatus, [string, string | undefined]> = {
  running: ["sync~spin", "charts.blue"],
  finished: ["pass", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  diverged: ["warning", "list.warningForeground"],
  stopped: ["debug-stop", undefined],
};

export function statusIcon(status: RunStatus): vscode.ThemeIcon {
  const [id, color] = STATUS_ICONS[status];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

export class RunsView implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changedEmitter = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changedEmitter.event;
  readonly view: vscode.TreeView<RunsNode>;
  private readonly subscriptions: vscode.Disposable[] = [this.changedEmitter];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Ctx) {
    this.view = vscode.window.createTreeView(Views.runs, { treeDataProvider: this, canSelectMany: true, showCollapseAll: true });
    this.subscriptions.push(this.view, ctx.onDidChangeRuns(() => this.refreshSoon()), ctx.onDidChangeTraining(() => this.refreshSoon()));
  }

  private refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changedEmitter.fire(undefined);
    }, 300);
  }

  /** Run folders of the current selection (for Compare / Delete from the title bar). */
  selectedRunDirs(): string[] {
    return this.view.selection.map(runDirOf).filter((d): d is string => d !== undefined);
  }

  getChildren(node?: RunsNode): RunsNode[] {
    const index = this.ctx.runIndex;
    if (!node) {
      return [
        ...index.groups().map((group): RunsNode => ({ kind: "experiment", group })),
        ...index.invalid().map((entry): RunsNode => ({ kind: "invalid", entry })),
      ];
    }
    if (node.kind === "experiment") return node.group.systems.map((group): RunsNode => ({ kind: "system", experimentPath: node.group.experimentPath, group }));
    if (node.kind === "system") return node.group.runs.map((entry): RunsNode => ({ kind: "run", entry }));
    return [];
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case "experiment": {
        const p = node.group.experimentPath;
        const item = new vscode.TreeItem(path.basename(p), vscode.TreeItemCollapsibleState.Expanded);
        item.id = `experiment:${p}`;
        item.description = vscode.workspace.asRelativePath(path.dirname(p));
        item.tooltip = p;
        item.resourceUri = vscode.Uri.file(p);
        item.iconPath = vscode.ThemeIcon.File;
        item.contextValue = TreeItemContext.experiment;
        return item;
      }
      case "system": {
        const item = new vscode.TreeItem(node.group.system, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `system:${node.experimentPath}#${node.group.system}`;
        item.description = `${node.group.runs.length} run${node.group.runs.length === 1 ? "" : "s"}`;
        item.iconPath = new vscode.ThemeIcon("beaker");
        item.contextValue = TreeItemContext.system;
        return item;
      }
      case "run": {
        const e = node.entry;
        const m = e.manifest;
        const active = this.ctx.supervisor.findByRunDir(e.runDir);
        const item = new vscode.TreeItem(e.folderName, vscode.TreeItemCollapsibleState.None);
        item.id = `run:${e.runDir}`;
        const progress = active && (active.phase.kind === "training" || active.phase.kind === "stopping") ? active.phase.progress : undefined;
        const step = progress?.step ?? m.step;
        item.description = `${m.status} · step ${step}/${m.totalSteps}`;
        item.tooltip = new vscode.MarkdownString(
          [`**${m.id}**`, `status: ${m.status}${m.error ? ` — ${m.error.message}` : ""}`, `step ${step} of ${m.totalSteps}`, `backend: ${m.backend.name}`, `started ${m.startedAt}`, e.runDir]
            .map((l) => l.replace(/[\\`*_[\]<>#]/g, "\\$&"))
            .join("  \n"),
        );
        item.iconPath = statusIcon(m.status);
        item.contextValue = active ? TreeItemContext.runActive : TreeItemContext.run;
        item.command = { title: "Open Run", command: Commands.openRun, arguments: [e.runDir] };
        return item;
      }
      case "invalid": {
        const item = new vscode.TreeItem(node.entry.folderName, vscode.TreeItemCollapsibleState.None);
        item.id = `invalid:${node.entry.runDir}`;
        item.description = "unreadable run.json";
        item.tooltip = `${node.entry.runDir}\n${node.entry.problem}`;
        item.iconPath = new vscode.ThemeIcon("question", new vscode.ThemeColor("list.errorForeground"));
        item.contextValue = TreeItemContext.run;
        return item;
      }
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}
