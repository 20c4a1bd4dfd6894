// Every command in one table, always registered (a command palette entry never fails with "command not found"): when there is nothing to act on
// (no training running, no runs, an untrusted workspace) a command says so instead of failing.
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { SystemSummary } from "../shared/trainerProtocol";
import { notAnExperimentReason } from "../shared/experimentFile";
import { CALIBRATION_DIR } from "../shared/interventionFormat";
import { hasLmcData } from "../shared/lmcView";
import {
  branchArgs,
  checkpointSteps,
  type DataSeedChoice,
  firstLinePath,
  lmcArgs,
  newDataSeed,
  parseDataSeed,
  runLm,
} from "./branching";
import { runCalibration } from "./calibrateRun";
import { isCancelled } from "./cancelled";
import { isSystemTarget } from "./codeLens";
import { EXAMPLE_FILE_NAME, exampleExperimentText } from "./exampleExperiment";
import { BACKENDS, type BackendSetting, CONFIG_SECTION, type CommandId, Commands, SettingKeys } from "./constants";
import type { Ctx } from "./context";
import type { TrainerDiagnostics } from "./diagnostics";
import type { ExperimentSystems } from "./experiments";
import { PANELS, type AnalysisPanelKind } from "./panels/index";
import type { TensorBoardEntry, ValidRunEntry } from "./runIndex";
import { folderDescription } from "./displayPath";
import { runDirOf, type RunsView, sweepDirOf, workspaceFolders } from "./runsView";
import type { SweepLauncher } from "./sweepLauncher";
import type { SweepRead } from "./sweeps";
import { choosePython, mayUseTorch } from "./pythonChoice";
import { pythonFromExtension } from "./pythonExtension";
import { scanPythonInitCalls } from "./pythonScanner";
import type { ActiveRun, BackendChoice } from "./supervisor";
import { withCancellableProgress } from "./prompts";
import { pickWhere } from "./slurmChoice";

export interface App {
  ctx: Ctx;
  /** `lm sweep` processes this window started, and `lm sweep-cancel`. */
  sweeps: SweepLauncher;
  systems: ExperimentSystems;
  runsView: RunsView;
  isExperiment: (document: vscode.TextDocument) => boolean;
  diagnostics: TrainerDiagnostics;
}

type Handler = (...args: unknown[]) => unknown;

function createCommands(app: App): Record<CommandId, Handler> {
  const { ctx } = app;
  return {
    [Commands.train]: (arg) => train(app, arg),
    [Commands.stop]: (arg) => stop(app, arg),
    [Commands.resume]: (arg) => resume(app, arg),
    [Commands.openDashboard]: (arg) => openDashboard(app, arg),
    [Commands.openRun]: (arg) => openRun(app, arg),
    [Commands.compareRuns]: (arg, selected) => compareRuns(app, arg, selected),
    [Commands.showTrainerLog]: () => ctx.log.show(),
    [Commands.selectBackend]: () => selectBackend(app),
    [Commands.refreshRuns]: () => ctx.rescan(),
    [Commands.revealRunFolder]: (arg) => revealRunFolder(app, arg),
    [Commands.deleteRun]: (arg, selected) => deleteRuns(app, arg, selected),
    [Commands.openGrokking]: (arg, selected) => openAnalysis(app, "grokking", arg, selected),
    [Commands.openLazyRich]: (arg, selected) => openAnalysis(app, "lazyRich", arg, selected),
    [Commands.openSharpness]: (arg, selected) => openAnalysis(app, "sharpness", arg, selected),
    [Commands.openInfluence]: (arg) => openAnalysis(app, "influence", arg, undefined),
    [Commands.openConservation]: (arg, selected) => openAnalysis(app, "conservation", arg, selected),
    [Commands.openIcl]: (arg, selected) => openAnalysis(app, "icl", arg, selected),
    [Commands.analyzeRun]: (arg) => analyzeRun(app, arg),
    [Commands.createExample]: () => createExample(),
    [Commands.runPython]: (arg) => runPython(app, arg),
    [Commands.openSweep]: (arg) => openSweep(app, arg),
    [Commands.runSweep]: (arg) => runSweep(app, arg),
    [Commands.cancelSweep]: (arg) => cancelSweep(app, arg),
    [Commands.openLmc]: (arg) => openLmc(app, arg),
    [Commands.branchRun]: (arg) => branchRun(app, arg),
    [Commands.lmcWith]: (arg) => lmcWith(app, arg),
    [Commands.compareWithParent]: (arg) => compareWithParent(app, arg),
    [Commands.calibrateInfluence]: (arg) => calibrateInfluence(app, arg),
    [Commands.openCalibration]: (arg) => openCalibration(app, arg),
  };
}

export function registerCommands(app: App): vscode.Disposable[] {
  const table = createCommands(app);
  return (Object.entries(table) as [CommandId, Handler][]).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await handler(...args);
      } catch (e) {
        if (!isCancelled(e)) app.ctx.showError(e instanceof Error ? e.message : String(e));
      }
    }),
  );
}

/** Training runs the experiment's code: only in a trusted workspace. Says why otherwise. */
function requireTrust(
  ctx: Ctx,
  why = "Training runs the code of the experiment file, so it needs a trusted workspace. Runs can still be viewed.",
): boolean {
  if (ctx.isTrusted) return true;
  void vscode.window.showWarningMessage(why, "Manage Workspace Trust").then((choice) => {
    if (choice) void vscode.commands.executeCommand("workbench.trust.manage");
  });
  return false;
}

/** The experiment file a command is about: its argument, else the active editor. */
function experimentFile(app: App, arg: unknown): string | undefined {
  if (isSystemTarget(arg)) return arg.file;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === "file" && app.isExperiment(doc)) return doc.uri.fsPath;
  return undefined;
}

async function train(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (!requireTrust(ctx)) return;
  let file = experimentFile(app, arg);
  if (!file) {
    const picked = await pickExperimentFile(ctx);
    if (!picked) return;
    file = picked;
  }
  // The trainer reads the file from disk.
  const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
  if (open?.isDirty) await open.save();

  let system = isSystemTarget(arg) ? arg.system : undefined;
  if (system === undefined) {
    const f = file;
    const systems = await withCancellableProgress(`Listing the model systems of ${path.basename(f)}…`, (signal) =>
      app.systems.list(f, signal),
    );
    if (!systems) {
      ctx.showError(`Could not list the model systems of ${path.basename(file)}: see Problems and the trainer log.`);
      return;
    }
    const chosen = await pickSystem(systems, file);
    if (!chosen) return;
    system = chosen.name;
  }
  const active = ctx.supervisor.find(file, system);
  if (active) {
    void vscode.window.showInformationMessage(`${system} is already training.`);
    return;
  }
  const f = file;
  const s = system;
  await withCancellableProgress(`Starting the trainer for ${system}…`, (signal) =>
    backendChoice(ctx, f).then((choice) =>
      ctx.supervisor.train({ file: f, system: s, runsRoot: ctx.runsRootFor(f), ...choice }, signal),
    ),
  );
}

/**
 * The backend settings for a training of `file`: the backend, and when it may be torch, the
 * interpreter (setting, else the Python extension's) and the device.
 */
async function backendChoice(ctx: Ctx, file: string): Promise<BackendChoice> {
  const { backend, pythonPath, device } = ctx.config;
  if (!mayUseTorch(backend)) return { backend };
  const python = choosePython(pythonPath, pythonPath === "" ? await pythonFromExtension(file) : undefined);
  return { backend, ...(python ? { python } : {}), ...(device !== "auto" ? { device } : {}) };
}

async function pickExperimentFile(ctx: Ctx): Promise<string | undefined> {
  const uris = await vscode.workspace.findFiles(ctx.config.experimentGlob, "**/node_modules/**", 200);
  if (uris.length === 0) {
    void vscode.window.showInformationMessage(`No experiment files (${ctx.config.experimentGlob}) in this workspace.`);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    uris.map((u) => ({
      label: path.basename(u.fsPath),
      description: folderDescription(path.dirname(u.fsPath), workspaceFolders()),
      file: u.fsPath,
    })),
    { title: "Train Model System", placeHolder: "Experiment file" },
  );
  return pick?.file;
}

async function pickSystem(systems: readonly SystemSummary[], file: string): Promise<SystemSummary | undefined> {
  if (systems.length === 0) {
    void vscode.window.showInformationMessage(`${path.basename(file)} exports no model system.`);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    systems.map((s) => ({
      label: s.problems.length > 0 ? `$(error) ${s.name}` : s.name,
      description: s.description,
      ...(s.problems.length > 0 ? { detail: s.problems.map((p) => `${p.path}: ${p.message}`).join("; ") } : {}),
      system: s,
    })),
    { title: "Train Model System", placeHolder: `Model system of ${path.basename(file)}`, matchOnDescription: true },
  );
  if (pick && pick.system.problems.length > 0) {
    void vscode.window.showErrorMessage(
      `${pick.system.name} has config problems (see Problems): ${pick.system.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    );
    return undefined;
  }
  return pick?.system;
}

async function stop(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  const running = ctx.supervisor.runs();
  let run: ActiveRun | undefined;
  if (isSystemTarget(arg))
    run =
      (arg.runDir ? ctx.supervisor.findByRunDir(arg.runDir) : undefined) ??
      ctx.supervisor.find(arg.file, arg.system) ??
      ctx.supervisor.findScript(arg.file);
  else if (runDirOf(arg)) run = ctx.supervisor.findByRunDir(runDirOf(arg)!);
  if (!run) {
    if (running.length === 0) {
      void vscode.window.showInformationMessage("No training is running.");
      return;
    }
    if (running.length === 1) run = running[0];
    else {
      const pick = await vscode.window.showQuickPick(
        running.map((r) => ({
          label: r.system,
          description: path.basename(r.file),
          detail: r.runDir ?? "starting",
          run: r,
        })),
        { title: "Stop Training", placeHolder: "Which training?" },
      );
      run = pick?.run;
    }
  }
  if (!run) return;
  ctx.log.info(`stopping ${run.system}`);
  ctx.supervisor.stop(run);
}

async function resume(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (!requireTrust(ctx)) return;
  let runDir = runDirOf(arg);
  if (!runDir) {
    const candidates = ctx.runIndex
      .all()
      .filter((e): e is ValidRunEntry => e.status === "stopped" || e.status === "failed")
      .filter(
        (e) => e.manifest.experiment !== undefined && notAnExperimentReason(e.manifest.experiment.path) === undefined,
      )
      .filter((e) => !ctx.supervisor.findByRunDir(e.runDir))
      .sort((a, b) => b.startedMs - a.startedMs);
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage("No stopped run to resume.");
      return;
    }
    runDir = (await pickRun(candidates, "Resume Run"))?.[0];
    if (!runDir) return;
  }
  const entry = ctx.runIndex.get(runDir) ?? ctx.runIndex.update(runDir);
  if (!entry || entry.status === "invalid") throw new Error(`${runDir} is not a readable run folder`);
  if (entry.status === "running" || entry.status === "finished") {
    void vscode.window.showInformationMessage(
      `${entry.manifest.id} is ${entry.status}; only a stopped run can be resumed.`,
    );
    return;
  }
  const experiment = entry.manifest.experiment?.path;
  if (experiment === undefined || notAnExperimentReason(experiment) !== undefined) {
    // A Python script's run is continued by the script itself (Run.reopen), not by the trainer.
    void vscode.window.showInformationMessage(
      experiment === undefined
        ? `${entry.manifest.id} records no experiment file, so the trainer cannot resume it.`
        : `${entry.manifest.id} was written by ${path.basename(experiment)}, not by a TypeScript experiment, so the trainer cannot resume it: run the script again (lm.Run.reopen continues a run folder).`,
    );
    return;
  }
  const dir = runDir;
  await withCancellableProgress(`Resuming ${entry.manifest.id}…`, (signal) =>
    backendChoice(ctx, experiment).then((choice) =>
      ctx.supervisor.resume(dir, experiment, entry.manifest.system, choice, signal),
    ),
  );
}

async function pickRun(
  entries: readonly ValidRunEntry[],
  title: string,
  many = false,
  logs: readonly TensorBoardEntry[] = [],
): Promise<string[] | undefined> {
  const items = [
    ...entries.map((e) => ({
      label: e.folderName,
      description: `${e.manifest.system} · ${e.status} · step ${e.manifest.step}/${e.manifest.totalSteps}`,
      detail: e.manifest.experiment?.path ?? "no experiment file",
      runDir: e.runDir,
    })),
    // TensorBoard logs open in the loss-curves panel too (scalars only).
    ...logs.map((l) => ({
      label: l.label,
      description: "TensorBoard log · scalars only",
      detail: l.logDir,
      runDir: l.logDir,
    })),
  ];
  if (many) {
    const picks = await vscode.window.showQuickPick(items, { title, canPickMany: true, matchOnDescription: true });
    return picks?.map((p) => p.runDir);
  }
  const pick = await vscode.window.showQuickPick(items, { title, matchOnDescription: true });
  return pick ? [pick.runDir] : undefined;
}

function allRuns(ctx: Ctx): ValidRunEntry[] {
  return ctx.runIndex
    .all()
    .filter((e): e is ValidRunEntry => e.status !== "invalid")
    .sort((a, b) => b.startedMs - a.startedMs);
}

async function openDashboard(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (isSystemTarget(arg)) {
    const active = ctx.supervisor.find(arg.file, arg.system) ?? ctx.supervisor.findScript(arg.file);
    const runDir = active?.runDir ?? arg.runDir ?? ctx.runIndex.latest(arg.file, arg.system)?.runDir;
    if (runDir) {
      PANELS.lossCurves.open(ctx, [runDir]);
      return;
    }
    if (active) {
      void vscode.window.showInformationMessage(`${arg.system} is starting; its dashboard opens when training begins.`);
      return;
    }
    if (isPythonFile(arg.file)) {
      const choice = await vscode.window.showInformationMessage(`${arg.system} has no runs yet.`, "Run");
      if (choice) await vscode.commands.executeCommand(Commands.runPython, { file: arg.file, system: arg.system });
      return;
    }
    const choice = await vscode.window.showInformationMessage(`${arg.system} has no runs yet.`, "Train");
    if (choice) await vscode.commands.executeCommand(Commands.train, { file: arg.file, system: arg.system });
    return;
  }
  const dir = runDirOf(arg);
  if (dir) {
    PANELS.lossCurves.open(ctx, [dir]);
    return;
  }
  // No target: the running trainings, else a choice of runs.
  const running = ctx.supervisor.runs().flatMap((r) => (r.runDir ? [r.runDir] : []));
  if (running.length > 0) {
    PANELS.lossCurves.open(ctx, running);
    return;
  }
  await openRun(app, undefined);
}

async function openRun(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  let runDir = runDirOf(arg);
  if (!runDir) {
    const runs = allRuns(ctx);
    const logs = ctx.runIndex.tensorboardLogs();
    if (runs.length + logs.length === 0) {
      void vscode.window.showInformationMessage(
        `No runs found under ${ctx.runRoots().join(", ") || "the run roots (open a folder)"}.`,
      );
      return;
    }
    runDir = (await pickRun(runs, "Open Run", false, logs))?.[0];
    if (!runDir) return;
  }
  PANELS.lossCurves.open(ctx, [runDir]);
}

async function compareRuns(app: App, arg: unknown, selected: unknown): Promise<void> {
  const { ctx } = app;
  let runDirs = Array.isArray(selected) ? selected.map(runDirOf).filter((d): d is string => d !== undefined) : [];
  if (runDirs.length === 0 && arg === undefined) runDirs = app.runsView.selectedRunDirs();
  if (runDirs.length === 0 && runDirOf(arg)) runDirs = [runDirOf(arg)!];
  if (runDirs.length < 2) {
    const runs = allRuns(ctx);
    const logs = ctx.runIndex.tensorboardLogs();
    if (runs.length + logs.length < 2) {
      void vscode.window.showInformationMessage("Comparing needs at least two runs.");
      return;
    }
    const picked = await pickRun(runs, "Compare Runs", true, logs);
    if (!picked || picked.length === 0) return;
    runDirs = [...new Set([...runDirs, ...picked])];
  }
  PANELS.lossCurves.open(ctx, runDirs);
}

/** Runs a command is about: the selection, its argument, the running trainings, else a pick. */
async function targetRuns(
  app: App,
  arg: unknown,
  selected: unknown,
  title: string,
  many: boolean,
): Promise<string[] | undefined> {
  const { ctx } = app;
  const chosen = Array.isArray(selected) ? selected.map(runDirOf).filter((d): d is string => d !== undefined) : [];
  if (chosen.length > 0) return many ? chosen : chosen.slice(0, 1);
  const dir = runDirOf(arg);
  if (dir) return [dir];
  const running = ctx.supervisor.runs().flatMap((r) => (r.runDir ? [r.runDir] : []));
  if (running.length > 0) return many ? running : running.slice(0, 1);
  const runs = allRuns(ctx);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      `No runs found under ${ctx.runRoots().join(", ") || "the run roots (open a folder)"}.`,
    );
    return undefined;
  }
  return pickRun(runs, title, many);
}

async function openAnalysis(app: App, kind: AnalysisPanelKind, arg: unknown, selected: unknown): Promise<void> {
  const titles = {
    grokking: "Grokking",
    lazyRich: "Lazy vs Rich",
    influence: "Influence",
    sharpness: "Sharpness",
    conservation: "Conservation Laws",
    icl: "In-Context Learning",
  } as const;
  const runDirs = await targetRuns(app, arg, selected, titles[kind], kind !== "influence");
  if (!runDirs || runDirs.length === 0) return;
  PANELS[kind].open(app.ctx, runDirs);
}

async function analyzeRun(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  const runDirs = await targetRuns(app, arg, undefined, "Analyze Run", false);
  const runDir = runDirs?.[0];
  if (!runDir) return;
  if (!ctx.mayRunExperimentOf(runDir)) {
    const recorded = ctx.recordedExperiment(runDir);
    const notExperiment = recorded === undefined ? undefined : notAnExperimentReason(recorded);
    void vscode.window.showInformationMessage(
      notExperiment !== undefined
        ? `Only the checkpoint analyses (weights, conservation laws) run: the others need the model, and ${notExperiment}.`
        : ctx.isTrusted
          ? "This run's experiment file is outside the workspace, so only the checkpoint analyses (weights, conservation laws) run: they need no experiment code."
          : "In an untrusted workspace only the checkpoint analyses (weights, conservation laws) run: the others load the experiment file's code.",
    );
  }
  ctx.analyzers.request({ runDir });
  ctx.log.info(`analyzing ${runDir}`);
}

function isPythonFile(file: string): boolean {
  return path.extname(file).toLowerCase() === ".py";
}

/**
 * ▶ Run on a Python experiment (a `.py` calling `lm.init(`): the script runs with the chosen
 * interpreter in its folder, its runs go to the workspace's run root (unless it passes `root=`),
 * and the logger reports to the extension as a trainer does (pythonRun.ts).
 */
async function runPython(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (
    !requireTrust(
      ctx,
      "Running a Python experiment runs its code, so it needs a trusted workspace. Runs can still be viewed.",
    )
  )
    return;
  let file = isSystemTarget(arg) ? arg.file : arg instanceof vscode.Uri ? arg.fsPath : undefined;
  if (file === undefined) {
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && doc.uri.scheme === "file" && isPythonFile(doc.uri.fsPath)) file = doc.uri.fsPath;
  }
  if (file === undefined || !isPythonFile(file)) {
    void vscode.window.showInformationMessage(
      "Open a Python file that calls lm.init(…) (the Learning Mechanics logger, docs/pytorch.md), then run this command.",
    );
    return;
  }
  const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
  if (open?.isDirty) await open.save();
  const text = open ? open.getText() : (await vscode.workspace.fs.readFile(vscode.Uri.file(file))).toString();
  if (scanPythonInitCalls(text).length === 0) {
    void vscode.window.showInformationMessage(
      `${path.basename(file)} does not call lm.init(…): the extension runs Python scripts that log a run with the Learning Mechanics logger (docs/pytorch.md).`,
    );
    return;
  }
  if (ctx.supervisor.findScript(file)) {
    void vscode.window.showInformationMessage(`${path.basename(file)} is already running.`);
    return;
  }
  const setting = ctx.config.pythonPath;
  const python = choosePython(setting, setting === "" ? await pythonFromExtension(file) : undefined) ?? "python3";
  app.diagnostics.clear(file);
  ctx.showScriptOutput();
  await ctx.supervisor.runScript({
    python,
    file,
    runsRoot: ctx.runsRootFor(file),
    packageRoot: ctx.pythonPackageRoot,
  });
}

async function selectBackend(app: App): Promise<void> {
  const descriptions: Record<BackendSetting, string> = {
    auto: "best available: torch on CUDA → gpu → torch on the CPU → native → wasm → cpu",
    torch: "PyTorch (CPU, CUDA or MPS) in a Python worker; needs Python with torch (learningMechanics.pythonPath)",
    gpu: "@tensorflow/tfjs-node-gpu (CUDA); install it next to your experiments",
    native: "@tensorflow/tfjs-node (libtensorflow); install it next to your experiments",
    wasm: "WebAssembly (bundled)",
    cpu: "plain JavaScript (bundled; slowest)",
  };
  const current = app.ctx.config.backend;
  const pick = await vscode.window.showQuickPick(
    BACKENDS.map((b) => ({ label: b, description: descriptions[b], ...(b === current ? { detail: "current" } : {}) })),
    { title: "Select Training Backend", placeHolder: `Current: ${current} (applies to trainings started from now on)` },
  );
  if (!pick) return;
  const target = vscode.workspace.workspaceFolders?.length
    ? vscode.ConfigurationTarget.Workspace
    : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(CONFIG_SECTION).update(SettingKeys.backend, pick.label, target);
}

async function revealRunFolder(app: App, arg: unknown): Promise<void> {
  const runDir = runDirOf(arg) ?? app.runsView.selectedRunDirs()[0];
  if (!runDir) {
    void vscode.window.showInformationMessage("Select a run in the Runs view first.");
    return;
  }
  const uri = vscode.Uri.file(runDir);
  if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand("revealInExplorer", uri);
  else await vscode.commands.executeCommand("revealFileInOS", uri);
}

async function deleteRuns(app: App, arg: unknown, selected: unknown): Promise<void> {
  const { ctx } = app;
  let runDirs = Array.isArray(selected) ? selected.map(runDirOf).filter((d): d is string => d !== undefined) : [];
  if (runDirs.length === 0 && runDirOf(arg)) runDirs = [runDirOf(arg)!];
  if (runDirs.length === 0) runDirs = app.runsView.selectedRunDirs();
  if (runDirs.length === 0) {
    void vscode.window.showInformationMessage("Select a run in the Runs view first.");
    return;
  }
  const busy = runDirs.filter((d) => ctx.supervisor.findByRunDir(d));
  if (busy.length > 0) {
    void vscode.window.showWarningMessage(`Stop ${busy.map((d) => path.basename(d)).join(", ")} before deleting it.`);
    return;
  }
  const names = runDirs.map((d) => path.basename(d));
  const what = names.length === 1 ? `run ${names[0]}` : `${names.length} runs (${names.join(", ")})`;
  const choice = await vscode.window.showWarningMessage(
    `Delete ${what}? Its folder, metrics and checkpoints are deleted.`,
    { modal: true },
    "Delete",
  );
  if (choice !== "Delete") return;
  for (const dir of runDirs) {
    const uri = vscode.Uri.file(dir);
    try {
      await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: true });
    } catch {
      // No trash on this file system (remote, tmpfs): delete for good, as confirmed.
      await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: false });
    }
    ctx.runIndex.remove(dir);
    ctx.log.info(`deleted ${dir}`);
  }
  await ctx.rescan();
}

/**
 * Writes the example experiment where the user chooses (the first workspace folder is offered when
 * one is open) and opens it: the walkthrough's first step. A save dialog, so an existing file is
 * overwritten only after the dialog's own confirmation.
 */
async function createExample(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    title: "Create Example Experiment",
    saveLabel: "Create",
    ...(folder !== undefined ? { defaultUri: vscode.Uri.joinPath(folder, EXAMPLE_FILE_NAME) } : {}),
    filters: { "Experiment files": ["ts"] },
  });
  if (target === undefined) return;
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(exampleExperimentText()));
  await vscode.window.showTextDocument(target);
}

// ---------------------------------------------------------------------------------- mode connectivity

/** The LMC panel of a run (its lmc/ files and its instability analysis): its argument, else a pick of the runs that have one. */
async function openLmc(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  const given = runDirOf(arg) ?? (arg instanceof vscode.Uri ? arg.fsPath : undefined);
  if (given) {
    PANELS.lmc.open(ctx, [given]);
    return;
  }
  const runs = allRuns(ctx).filter((e) => hasLmcData(e.runDir));
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      'No run has an interpolation yet: use "Linear Mode Connectivity with…" on a run, or lm lmc / lm instability.',
    );
    return;
  }
  const runDir = (await pickRun(runs, "Open Mode Connectivity"))?.[0];
  if (runDir) PANELS.lmc.open(ctx, [runDir]);
}

/** A run a branching command is about: its argument, else a pick among the runs with checkpoints. */
async function chooseRunWithCheckpoints(app: App, arg: unknown, title: string): Promise<ValidRunEntry | undefined> {
  const { ctx } = app;
  const given = runDirOf(arg);
  if (given) {
    const entry = ctx.runIndex.get(given) ?? ctx.runIndex.update(given);
    if (!entry || entry.status === "invalid") throw new Error(`${given} is not a readable run folder`);
    return entry;
  }
  const runs = allRuns(ctx).filter((e) => checkpointSteps(e.runDir).length > 0);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage("No run with checkpoints in the run roots.");
    return undefined;
  }
  const dir = (await pickRun(runs, title))?.[0];
  return dir === undefined ? undefined : runs.find((e) => e.runDir === dir);
}

/** Whether the trainer can rebuild a run's model: a TypeScript/JavaScript experiment recorded in run.json. */
function trainerCanLoad(entry: ValidRunEntry, what: string): boolean {
  const experiment = entry.manifest.experiment?.path;
  if (experiment !== undefined && notAnExperimentReason(experiment) === undefined) return true;
  void vscode.window.showInformationMessage(
    experiment === undefined
      ? `${entry.manifest.id} records no experiment file, so the trainer cannot ${what}.`
      : `${entry.manifest.id} was written by ${path.basename(experiment)}, not by a TypeScript experiment, so the trainer cannot ${what}.`,
  );
  return false;
}

async function pickDataSeed(parent: ValidRunEntry): Promise<DataSeedChoice | undefined> {
  const fresh = newDataSeed();
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: "Same data order",
        description: "the parent's: reproduces its later steps exactly",
        choice: "same" as const,
      },
      { label: "New data order", description: `data seed ${fresh}`, choice: "new" as const },
      { label: "Data seed…", description: "type one", choice: "typed" as const },
    ],
    { title: `Branch ${parent.manifest.id}: data order`, placeHolder: "Which minibatch order after the branch point?" },
  );
  if (!pick) return undefined;
  if (pick.choice === "same") return { kind: "same" };
  if (pick.choice === "new") return { kind: "new", seed: fresh };
  const text = await vscode.window.showInputBox({
    title: `Branch ${parent.manifest.id}: data seed`,
    prompt: "The seed of the minibatch order (each epoch's permutation is drawn from it)",
    validateInput: (t) => {
      const r = parseDataSeed(t);
      return typeof r === "string" ? r : undefined;
    },
  });
  if (text === undefined) return undefined;
  const seed = parseDataSeed(text);
  return typeof seed === "number" ? { kind: "typed", seed } : undefined;
}

/**
 * "Branch from Checkpoint…": a new run from one of the run's checkpoints (weights, optimizer
 * state) with the same or another data order, `lm branch` beside its parent; it shows nested
 * under the parent in the Runs view. It runs the experiment's code: trusted workspaces only.
 */
async function branchRun(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (
    !requireTrust(
      ctx,
      "Branching trains a run, which runs the code of the experiment file, so it needs a trusted workspace.",
    )
  )
    return;
  const parent = await chooseRunWithCheckpoints(app, arg, "Branch from Checkpoint");
  if (!parent || !trainerCanLoad(parent, "branch it")) return;
  const steps = checkpointSteps(parent.runDir);
  if (steps.length === 0) {
    void vscode.window.showInformationMessage(`${parent.manifest.id} has no checkpoint to branch from.`);
    return;
  }
  const stepPick = await vscode.window.showQuickPick(
    [...steps].reverse().map((s) => ({ label: `step ${s}`, description: s === steps.at(-1) ? "last" : "", step: s })),
    { title: `Branch ${parent.manifest.id}: checkpoint`, placeHolder: `${steps.length} checkpoints` },
  );
  if (!stepPick) return;
  const seed = await pickDataSeed(parent);
  if (!seed) return;
  const experiment = parent.manifest.experiment?.path ?? parent.runDir;
  const launch = ctx.launch(experiment);
  const args = branchArgs(parent.runDir, stepPick.step, seed, ctx.config.backend);
  const what = `${parent.manifest.id} at step ${stepPick.step}${seed.kind === "same" ? "" : ` (data seed ${seed.seed})`}`;
  const result = await withCancellableProgress(`Branching ${what}…`, (signal) =>
    runLm(launch, args, (l) => ctx.log.info(l), signal),
  );
  if (!result.ok) {
    ctx.showError(`Branch ${what}: ${result.message}`);
    return;
  }
  const branchDir = firstLinePath(result.stdout, launch.cwd);
  if (branchDir) ctx.runIndex.update(branchDir);
  await ctx.rescan();
  void vscode.window.setStatusBarMessage(`Learning Mechanics: branched ${what}`, 8000);
  if (branchDir) PANELS.lossCurves.open(ctx, [parent.runDir, branchDir], { preserveFocus: true });
}

/**
 * "Linear Mode Connectivity with…": `lm lmc` between this run's last checkpoint and another
 * run's (picked), then the panel. It runs run A's experiment code: trusted workspaces only.
 */
async function lmcWith(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (
    !requireTrust(
      ctx,
      "Interpolating between two runs evaluates the model of the experiment file, which runs its code, so it needs a trusted workspace.",
    )
  )
    return;
  const a = await chooseRunWithCheckpoints(app, arg, "Linear Mode Connectivity");
  if (!a || !trainerCanLoad(a, "evaluate its model")) return;
  const others = allRuns(ctx).filter((e) => e.runDir !== a.runDir && checkpointSteps(e.runDir).length > 0);
  if (others.length === 0) {
    void vscode.window.showInformationMessage("Linear mode connectivity needs a second run with checkpoints.");
    return;
  }
  const sameSystem = (e: ValidRunEntry) => e.manifest.system === a.manifest.system;
  const ordered = [...others.filter(sameSystem), ...others.filter((e) => !sameSystem(e))];
  const bDir = (await pickRun(ordered, `Linear mode connectivity of ${a.manifest.id} with…`))?.[0];
  if (!bDir) return;
  const launch = ctx.launch(a.manifest.experiment?.path ?? a.runDir);
  const result = await withCancellableProgress(`Interpolating ${a.manifest.id} ↔ ${path.basename(bDir)}…`, (signal) =>
    runLm(launch, lmcArgs(a.runDir, bDir, ctx.config.backend), (l) => ctx.log.info(l), signal),
  );
  if (!result.ok) {
    ctx.showError(`Linear mode connectivity: ${result.message}`);
    return;
  }
  PANELS.lmc.open(ctx, [a.runDir]);
}

// ---------------------------------------------------------------------------------- sweeps

/** The sweep a command is about: its argument (a Runs view sweep node, or the folder), else a pick. */
async function chooseSweep(app: App, arg: unknown, title: string): Promise<SweepRead | undefined> {
  const { ctx } = app;
  const given = sweepDirOf(arg);
  if (given !== undefined) {
    if (!ctx.sweeps.get(given)) ctx.sweeps.update(given, ctx.runIndex.roots);
    const read = ctx.sweeps.get(given);
    if (!read) throw new Error(`${given} is not a sweep folder under the run roots (no sweep.json)`);
    return read;
  }
  const all = ctx.sweeps.all();
  if (all.length === 0) {
    void vscode.window.showInformationMessage(
      `No sweeps in the run roots (${ctx.runIndex.roots.join(", ") || "none"}): a sweep folder holds a sweep.json.`,
    );
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    all.map((r) => ({
      label: r.ok ? `${r.manifest.system} sweep` : path.basename(r.dir),
      description: r.ok ? `${r.manifest.points.length} points · ${path.basename(r.dir)}` : `sweep.json unreadable`,
      detail: r.ok ? r.manifest.fields.join(", ") || "seeds only" : r.problem,
      read: r,
    })),
    { title, matchOnDescription: true },
  );
  return pick?.read;
}

async function openSweep(app: App, arg: unknown): Promise<void> {
  const read = await chooseSweep(app, arg, "Open Sweep");
  if (!read) return;
  if (!read.ok) throw new Error(read.problem);
  PANELS.sweep.open(app.ctx, [read.dir]);
}

/** `lm sweep` on a system that declares a sweep (from its code lens): trusted workspaces only, like Train. */
async function runSweep(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  if (!requireTrust(ctx, "Running a sweep runs the code of the experiment file, so it needs a trusted workspace."))
    return;
  if (!isSystemTarget(arg)) {
    void vscode.window.showInformationMessage(
      "Run a sweep from the ▶ Sweep code lens above a system that declares one.",
    );
    return;
  }
  const chosen = await pickWhere(
    `Sweep of ${arg.system}`,
    ctx.config.slurm,
    { description: "its points train here, a few at a time" },
    "the sweep panel follows it from the run folders",
  );
  if (chosen === undefined) return;
  const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === arg.file);
  if (open?.isDirty) await open.save();
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `${chosen.where === "slurm" ? "Submitting to Slurm" : "Starting"} the sweep of ${arg.system}…`,
    },
    () => app.sweeps.start(ctx.launch(arg.file), arg.file, arg.system, ctx.runsRootFor(arg.file), chosen.flags),
  );
  if (!result.ok) {
    ctx.showError(`Sweep of ${arg.system}: ${result.message}`);
    return;
  }
  ctx.sweeps.update(result.sweepDir, ctx.runIndex.roots);
  PANELS.sweep.open(ctx, [result.sweepDir], { preserveFocus: true });
}

/** Slurm sweeps: `lm sweep-cancel` (scancel); a local sweep this window started: stop its process. */
async function cancelSweep(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  const read = await chooseSweep(app, arg, "Cancel Sweep");
  if (!read) return;
  if (!read.ok) throw new Error(read.problem);
  if (read.manifest.launcher.kind === "slurm") {
    const dir = read.dir;
    const r = await app.sweeps.cancelSlurm(ctx.launch(read.manifest.experiment), dir);
    if (!r.ok) ctx.showError(`Cancel Sweep: ${r.message}`);
    else
      void vscode.window.setStatusBarMessage(
        `Learning Mechanics: cancelled the Slurm jobs of ${path.basename(dir)}`,
        5000,
      );
    return;
  }
  if (app.sweeps.stopLocal(read.dir)) {
    void vscode.window.setStatusBarMessage(`Learning Mechanics: stopping the sweep ${path.basename(read.dir)}`, 5000);
    return;
  }
  void vscode.window.showInformationMessage(
    `${path.basename(read.dir)} is a local sweep this window did not start (or it has ended): stop it where it runs.`,
  );
}

// ---------------------------------------------------------------------------------- interventions

/**
 * "Compare with Parent": the intervention panel of a branch (its curves against its parent's from
 * the branch point on, and for an intervention the actual against the predicted change of the
 * query loss). Its argument, else a pick among the branches.
 */
async function compareWithParent(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  const given = runDirOf(arg);
  if (given) {
    const entry = ctx.runIndex.get(given) ?? ctx.runIndex.update(given);
    if (entry && entry.status !== "invalid" && entry.manifest.branchOf === undefined) {
      void vscode.window.showInformationMessage(
        `${entry.manifest.id} is not a branch of another run: "Remove and retrain…" in the Influence panel, or "Branch from Checkpoint…", makes one.`,
      );
      return;
    }
    PANELS.compare.open(ctx, [given]);
    return;
  }
  const branches = allRuns(ctx).filter((e) => e.manifest.branchOf !== undefined);
  if (branches.length === 0) {
    void vscode.window.showInformationMessage(
      'No run is a branch yet: use "Remove and retrain…" in the Influence panel, or "Branch from Checkpoint…" on a run.',
    );
    return;
  }
  const dir = (await pickRun(branches, "Compare with Parent"))?.[0];
  if (dir) PANELS.compare.open(ctx, [dir]);
}

/** A run with TracIn scores (what calibration scores): its argument, else a pick. */
async function runWithTracin(app: App, arg: unknown, title: string): Promise<string | undefined> {
  const { ctx } = app;
  const given = runDirOf(arg);
  if (given) return given;
  const runs = allRuns(ctx).filter((e) => existsSync(path.join(e.runDir, "analyses", "tracin.jsonl")));
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      "No run has TracIn scores yet (analyses/tracin.jsonl): open the Influence panel of a run, or run lm analyze RUN --only tracin --run-experiment.",
    );
    return undefined;
  }
  return (await pickRun(runs, title))?.[0];
}

/** "Calibrate Influence…": lm calibrate on a run, then its calibration panel. */
async function calibrateInfluence(app: App, arg: unknown): Promise<void> {
  const runDir = await runWithTracin(app, arg, "Calibrate Influence");
  if (runDir) await runCalibration(app.ctx, runDir, (dir) => PANELS.calibration.open(app.ctx, [dir]));
}

/** "Open Calibration Panel…": a run's newest calibration (predicted against actual per subset, the LDS). */
async function openCalibration(app: App, arg: unknown): Promise<void> {
  const { ctx } = app;
  const given = runDirOf(arg);
  if (given) {
    PANELS.calibration.open(ctx, [given]);
    return;
  }
  const runs = allRuns(ctx).filter((e) => existsSync(path.join(e.runDir, CALIBRATION_DIR)));
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      'No run has a calibration yet: use "Calibrate Influence…", or "Calibrate…" in the Influence panel.',
    );
    return;
  }
  const dir = (await pickRun(runs, "Open Calibration"))?.[0];
  if (dir) PANELS.calibration.open(ctx, [dir]);
}
