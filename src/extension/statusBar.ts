// While a trainer runs: system, step, loss and steps/s in the status bar; a click opens its dashboard.
import * as vscode from "vscode";
import { Commands } from "./constants";
import type { Ctx } from "./context";
import type { ActiveRun } from "./supervisor";

/** "modAdd · step 1200/10000 · loss 0.0312 · 41.2 steps/s" (pure; exported for tests). */
function statusText(run: Pick<ActiveRun, "system" | "phase">, others: number): string {
  const more = others > 0 ? ` (+${others})` : "";
  switch (run.phase.kind) {
    case "starting":
      return `$(loading~spin) ${run.system}: starting…${more}`;
    case "training":
    case "stopping": {
      const p = run.phase.progress;
      const verb = run.phase.kind === "stopping" ? "stopping · " : "";
      if (!p) return `$(loading~spin) ${run.system}: ${verb}loading…${more}`;
      return `$(pulse) ${run.system} · ${verb}step ${p.step}/${p.totalSteps} · loss ${formatLoss(p.loss)} · ${p.stepsPerSecond.toFixed(1)} steps/s${more}`;
    }
    case "ended":
      return `${run.system}: ${run.phase.status}`;
  }
}

function formatLoss(loss: number | null): string {
  if (loss === null) return "–";
  if (!Number.isFinite(loss)) return String(loss);
  const a = Math.abs(loss);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? loss.toExponential(2) : loss.toPrecision(4);
}

export class TrainingStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** The run shown: the one that reported last. */
  private shown: ActiveRun | undefined;

  constructor(private readonly ctx: Ctx) {
    this.item = vscode.window.createStatusBarItem("learningMechanics.training", vscode.StatusBarAlignment.Left, 10);
    this.item.name = "Learning Mechanics Training";
    this.subscriptions.push(ctx.onDidChangeTraining((run) => this.update(run)));
  }

  private update(changed: ActiveRun): void {
    const running = this.ctx.supervisor.runs();
    if (changed.phase.kind !== "ended") this.shown = changed;
    else if (this.shown === changed || !running.includes(this.shown as ActiveRun))
      this.shown = running[running.length - 1];
    const run = this.shown;
    if (!run) {
      this.item.hide();
      return;
    }
    this.item.text = statusText(run, running.length - 1);
    this.item.tooltip = `${run.file}\n${run.runDir ?? ""}\nClick to open the dashboard`;
    this.item.command = {
      title: "Open Dashboard",
      command: Commands.openDashboard,
      arguments: [{ file: run.file, system: run.system, runDir: run.runDir }],
    };
    this.item.show();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}
