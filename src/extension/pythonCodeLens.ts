// Above the first `lm.init(` of a Python experiment: "▶ Run" (or "■ Stop" while it runs),
// "Dashboard", and its latest run in one line, as for a TypeScript system (codeLens.ts). An
// untrusted workspace gets no Run lens: running the file runs its code. The e2e test clicks these
// titles: keep them exact.
import * as path from "node:path";
import * as vscode from "vscode";
import { DASHBOARD_TITLE, runSummary, STOP_TITLE, type SystemTarget } from "./codeLens";
import { Commands } from "./constants";
import type { Ctx } from "./context";
import { Emitter } from "./events";
import { VersionCache } from "./experimentScanner";
import type { LatestMetrics } from "./latestMetrics";
import { type PythonInitCall, scanPythonInitCalls } from "./pythonScanner";

export const RUN_TITLE = "▶ Run";

export class PythonCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changedEmitter = new Emitter<void>();
  readonly onDidChangeCodeLenses = this.changedEmitter.event;
  private readonly subscriptions: vscode.Disposable[] = [this.changedEmitter];
  /** Lenses are asked for on every refresh (progress several times a second): scan each version once. */
  private readonly scans = new VersionCache<PythonInitCall[]>(scanPythonInitCalls);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly latest: LatestMetrics,
  ) {
    const refresh = (): void => this.refreshSoon();
    this.subscriptions.push(
      ctx.onDidChangeTraining(refresh),
      ctx.onDidChangeRuns(refresh),
      vscode.workspace.onDidGrantWorkspaceTrust(refresh),
      vscode.workspace.onDidCloseTextDocument((doc) => this.scans.forget(doc.uri.toString())),
    );
  }

  private refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changedEmitter.fire(undefined);
    }, 250);
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const calls = this.scans.get(document.uri.toString(), document.version, () => document.getText());
    const first = calls[0];
    if (first === undefined) return [];
    const file = document.uri.fsPath;
    const range = new vscode.Range(first.line, 0, first.line, 0);
    const active = this.ctx.supervisor.findScript(file);
    const run = this.ctx.runIndex.latestOfExperiment(file);
    const target: SystemTarget = { file, system: path.basename(file), runDir: active?.runDir ?? run?.runDir };
    const lenses: vscode.CodeLens[] = [];
    if (active) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: STOP_TITLE,
          command: Commands.stop,
          arguments: [target],
          tooltip: "Stop the script (SIGTERM: final checkpoint, status stopped); again to kill it",
        }),
      );
    } else if (this.ctx.isTrusted) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: RUN_TITLE,
          command: Commands.runPython,
          arguments: [target],
          tooltip: "Run this script with the selected Python; its runs appear in the Runs view",
        }),
      );
    }
    lenses.push(
      new vscode.CodeLens(range, {
        title: DASHBOARD_TITLE,
        command: Commands.openDashboard,
        arguments: [target],
        tooltip: "Open the loss curves",
      }),
    );
    if (active && (active.phase.kind === "training" || active.phase.kind === "stopping") && active.phase.progress) {
      const p = active.phase.progress;
      lenses.push(
        new vscode.CodeLens(range, {
          title: runSummary("running", p.step, p.totalSteps, active.lastMetrics?.["test_acc"]),
          command: "",
        }),
      );
    } else if (active) {
      lenses.push(new vscode.CodeLens(range, { title: "$(loading~spin) running…", command: "" }));
    } else if (run) {
      const m = run.manifest;
      lenses.push(
        new vscode.CodeLens(range, {
          title: runSummary(m.status, m.step, m.totalSteps, this.latest.get(run.runDir)?.["test_acc"]),
          command: Commands.openRun,
          arguments: [run.runDir],
          tooltip: run.runDir,
        }),
      );
    }
    return lenses;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}
