// Above each model system of an experiment file: "▶ Train <name>" (or "■ Stop" while it trains),
// "▶ Sweep (N runs)" when it declares a sweep,
// "Dashboard", and its latest run in one line. The e2e tests click these titles: keep them exact.
import * as vscode from "vscode";
import type { RunStatus } from "../shared/runFormat";
import { Commands } from "./constants";
import type { Ctx } from "./context";
import { Emitter } from "./events";
import type { ExperimentSystems } from "./experiments";
import { formatPercent } from "./hoverContent";
import type { LatestMetrics } from "./latestMetrics";

const trainTitle = (name: string): string => `▶ Train ${name}`;
/** The lens of a system that declares a sweep: its size as the trainer's `list` computed it. */
export const sweepTitle = (runs: number): string => `▶ Sweep (${runs} run${runs === 1 ? "" : "s"})`;
export const STOP_TITLE = "■ Stop";
export const DASHBOARD_TITLE = "Dashboard";

/** Arguments of the train / stop / dashboard commands when invoked from a lens or the status bar. */
export interface SystemTarget {
  file: string;
  system: string;
  runDir?: string | undefined;
}

export function isSystemTarget(x: unknown): x is SystemTarget {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as SystemTarget).file === "string" &&
    typeof (x as SystemTarget).system === "string"
  );
}

const STATUS_ICON: Record<RunStatus, string> = {
  running: "$(sync~spin)",
  finished: "$(pass)",
  failed: "$(error)",
  diverged: "$(warning)",
  stopped: "$(debug-stop)",
};

/** "$(pass) step 10000/10000 · test acc 99.8% · finished" (pure). */
export function runSummary(
  status: RunStatus,
  step: number,
  totalSteps: number,
  testAcc: number | null | undefined,
): string {
  const acc = testAcc === undefined ? "" : ` · test acc ${formatPercent(testAcc)}`;
  return `${STATUS_ICON[status]} step ${step}/${totalSteps}${acc} · ${status}`;
}

export class TrainCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changedEmitter = new Emitter<void>();
  readonly onDidChangeCodeLenses = this.changedEmitter.event;
  private readonly subscriptions: vscode.Disposable[] = [this.changedEmitter];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly systems: ExperimentSystems,
    private readonly latest: LatestMetrics,
  ) {
    const refresh = (): void => this.refreshSoon();
    this.subscriptions.push(
      ctx.onDidChangeTraining(refresh),
      ctx.onDidChangeRuns(refresh),
      systems.onDidChange(refresh),
      vscode.workspace.onDidGrantWorkspaceTrust(refresh),
    );
  }

  /** Coalesces refreshes: progress events arrive several times a second. */
  private refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changedEmitter.fire(undefined);
    }, 250);
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const file = document.uri.fsPath;
    const lenses: vscode.CodeLens[] = [];
    for (const s of this.systems.positions(document)) {
      const line = Math.min(s.line, Math.max(0, document.lineCount - 1));
      const range = new vscode.Range(line, 0, line, 0);
      const target: SystemTarget = { file, system: s.name };
      const active = this.ctx.supervisor.find(file, s.name);
      if (active) {
        lenses.push(
          new vscode.CodeLens(range, {
            title: STOP_TITLE,
            command: Commands.stop,
            arguments: [{ ...target, runDir: active.runDir }],
            tooltip: `Stop training ${s.name} (final checkpoint, status stopped)`,
          }),
        );
      } else {
        const tooltip = this.ctx.isTrusted
          ? (s.summary?.description ?? `Train ${s.name}`)
          : "Training runs this file's code, so it needs a trusted workspace (click for details)";
        lenses.push(
          new vscode.CodeLens(range, {
            title: trainTitle(s.name),
            command: Commands.train,
            arguments: [target],
            tooltip,
          }),
        );
      }
      // The sweep's size comes from the trainer's `list` (it expands the grid the way `lm sweep`
      // will), the same reply that gives the systems their descriptions and problems.
      const sweep = s.summary?.sweep;
      if (sweep && s.summary?.problems.length === 0)
        lenses.push(
          new vscode.CodeLens(range, {
            title: sweepTitle(sweep.runs),
            command: Commands.runSweep,
            arguments: [target],
            tooltip: this.ctx.isTrusted
              ? `Run the sweep of ${s.name}: ${sweep.text}`
              : "A sweep runs this file's code, so it needs a trusted workspace (click for details)",
          }),
        );
      const run = this.ctx.runIndex.latest(file, s.name);
      lenses.push(
        new vscode.CodeLens(range, {
          title: DASHBOARD_TITLE,
          command: Commands.openDashboard,
          arguments: [{ ...target, runDir: active?.runDir ?? run?.runDir }],
          tooltip: "Open the loss curves",
        }),
      );
      if (active && active.phase.kind !== "ended" && active.phase.kind !== "starting" && active.phase.progress) {
        const p = active.phase.progress;
        const acc = active.lastMetrics?.["test_acc"];
        lenses.push(
          new vscode.CodeLens(range, { title: runSummary("running", p.step, p.totalSteps, acc), command: "" }),
        );
      } else if (active) {
        lenses.push(new vscode.CodeLens(range, { title: "$(loading~spin) starting…", command: "" }));
      } else if (run) {
        const m = run.manifest;
        const latest = this.latest.get(run.runDir);
        lenses.push(
          new vscode.CodeLens(range, {
            title: runSummary(m.status, m.step, m.totalSteps, latest?.["test_acc"]),
            command: Commands.openRun,
            arguments: [run.runDir],
            tooltip: run.runDir,
          }),
        );
      }
    }
    return lenses;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}
