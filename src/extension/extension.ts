// Extension entry: builds the context (context.ts owns every lifetime) and wires the parts to it.
// Viewing runs works in any workspace; training (which runs the experiment's code) needs trust.
import * as vscode from "vscode";
import { grokkingSettings } from "../shared/analysisViews";
import { TrainCodeLensProvider } from "./codeLens";
import { registerCommands } from "./commands";
import { Ctx } from "./context";
import { TrainerDiagnostics } from "./diagnostics";
import { ExperimentSystems } from "./experiments";
import { GrokkingWatch } from "./grokkingWatch";
import { CheckpointHoverProvider, SystemHoverProvider } from "./hover";
import { LatestMetrics } from "./latestMetrics";
import { PythonCodeLensProvider } from "./pythonCodeLens";
import { disposePanels, notifyPanels, PANELS } from "./panels/index";
import { RunsView } from "./runsView";
import { SweepLauncher } from "./sweepLauncher";
import { TrainingStatusBar } from "./statusBar";
import { Commands } from "./constants";
import { endedText } from "./problemText";

let ctx: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const c = new Ctx(context);
  ctx = c;
  context.subscriptions.push(c);

  const experimentSelector = (): vscode.DocumentFilter[] => [{ scheme: "file", pattern: c.config.experimentGlob }];
  const isExperiment = (doc: vscode.TextDocument): boolean => vscode.languages.match(experimentSelector(), doc) > 0;

  const diagnostics = c.push(new TrainerDiagnostics());
  const latest = new LatestMetrics();
  const systems = c.push(new ExperimentSystems(c, diagnostics, isExperiment));
  const runsView = c.push(new RunsView(c, latest));
  c.push(new TrainingStatusBar(c));
  const sweeps = new SweepLauncher(c.log);
  c.push({ dispose: () => sweeps.dispose() });
  for (const d of registerCommands({ ctx: c, sweeps, systems, runsView, isExperiment, diagnostics })) c.push(d);
  for (const p of Object.values(PANELS)) c.push(p.registerSerializer(c));
  c.push({ dispose: () => disposePanels() });

  // Code lenses and system hovers follow the experiment glob setting.
  const codeLens = c.push(new TrainCodeLensProvider(c, systems, latest));
  let languageFeatures: vscode.Disposable[] = [];
  const registerLanguageFeatures = (): void => {
    for (const d of languageFeatures) d.dispose();
    languageFeatures = [
      vscode.languages.registerCodeLensProvider(experimentSelector(), codeLens),
      vscode.languages.registerHoverProvider(experimentSelector(), new SystemHoverProvider(c, systems, latest)),
    ];
  };
  registerLanguageFeatures();
  c.push(
    {
      dispose: () =>
        languageFeatures.forEach((d) => {
          d.dispose();
        }),
    },
    vscode.languages.registerHoverProvider([{ scheme: "file" }, { scheme: "untitled" }], new CheckpointHoverProvider()),
    // Python experiments (a file calling lm.init): ▶ Run / ■ Stop / Dashboard.
    vscode.languages.registerCodeLensProvider(
      { scheme: "file", language: "python" },
      c.push(new PythonCodeLensProvider(c, latest)),
    ),
    c.onDidChangeConfig(() => registerLanguageFeatures()),
  );

  const grokking = new GrokkingWatch((runDir) => {
    const e = c.runIndex.get(runDir);
    return e && e.status !== "invalid" ? grokkingSettings(e.manifest) : {};
  });

  // Panels follow their runs: metrics appended, status changed, checkpoints written.
  c.push(
    c.onDidChangeRuns((changes) => {
      for (const ch of changes) {
        if (ch.metrics) latest.get(ch.runDir);
        if (ch.removed) latest.forget(ch.runDir);
        notifyPanels(ch.runDir);
      }
    }),
    // The analyzer appended a record: the analysis panels of that run refresh.
    c.analyzers.onRecord(({ runDir }) => notifyPanels(runDir)),
    c.supervisor.onEvent(({ run, event }) => {
      if (!run.runDir) return;
      if (event.type === "started") {
        // A training began: show its curves beside the editor, keeping focus where it was.
        diagnostics.clear(run.file);
        PANELS.lossCurves.open(c, [run.runDir], { preserveFocus: true });
      } else if (event.type === "metrics" || event.type === "finished") {
        notifyPanels(run.runDir);
      }
      if (event.type === "metrics") {
        // Grokking transitions are news while the run goes on.
        for (const news of grokking.feed(run.runDir, run.system, {
          step: event.step,
          time: Number.NaN,
          ...event.values,
        })) {
          if (news.event.kind === "memorized")
            void vscode.window.setStatusBarMessage(`$(pulse) ${news.message}`, 10_000);
          else {
            const runDir = run.runDir;
            void vscode.window.showInformationMessage(news.message, "Open Grokking Panel").then((choice) => {
              if (choice) void vscode.commands.executeCommand(Commands.openGrokking, runDir);
            });
          }
        }
      }
      if (event.type === "finished") grokking.forget(run.runDir);
      if (event.type === "finished") {
        const msg = endedText(run.system, event, run.runDir !== undefined, " — ");
        if (event.status === "finished" || event.status === "stopped")
          void vscode.window.setStatusBarMessage(msg, 5000);
        else if (event.status === "diverged") void vscode.window.showWarningMessage(msg);
      }
    }),
    // Crashes and errors are reported at once: Problems when the error has a place, the log revealed.
    c.supervisor.onProblem((problem) => {
      const file = problem.run?.file;
      const event = problem.event;
      if (event && file) diagnostics.setError(file, event);
      c.showError(problem.message.split("\n")[0] ?? problem.message, {
        inProblems: file !== undefined && event?.location !== undefined,
      });
    }),
  );

  // Trust granted: list the open experiment files so Problems and code lenses fill in.
  c.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      for (const doc of vscode.workspace.textDocuments)
        if (isExperiment(doc)) void systems.list(doc.uri.fsPath).catch(() => undefined);
    }),
  );
  c.log.info(
    `activated (${vscode.workspace.isTrusted ? "trusted" : "untrusted: training disabled, runs viewable"} workspace)`,
  );
}

export async function deactivate(): Promise<void> {
  // Trainers get a graceful stop (final checkpoint, run.json "stopped") before VS Code ends the
  // extension host; VS Code disposes `context.subscriptions` right after calling this without
  // awaiting it, and the supervisor's dispose leaves a shutdown under way alone.
  await ctx?.shutdown();
  ctx = undefined;
}
