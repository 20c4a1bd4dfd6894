// The one object that owns the extension's lifetimes (so nothing outlives deactivation): the output channel, settings,
// the run index and its watcher, the trainer supervisor, and the UI parts that show them. Every
// disposable is registered at birth with `push`; `dispose` releases them in reverse order.
import * as path from "node:path";
import * as vscode from "vscode";
import { notAnExperimentReason } from "../shared/experimentFile";
import { type Config, readConfig, runRootsChanged } from "./config";
import {
  CONFIG_SECTION,
  ContextKeys,
  EXTENSION_NAME,
  LIST_TIMEOUT_MS,
  READY_TIMEOUT_MS,
  STOP_GRACE_MS,
  WATCH_DEBOUNCE_MS,
} from "./constants";
import { AnalyzerPool, analysisDue } from "./analyzers";
import { Emitter, type Event } from "./events";
import { pathKey } from "./paths";
import { AnalysisCache } from "../shared/analysisFormat";
import { type RunEntry, RunIndex } from "./runIndex";
import { SweepIndex } from "./sweeps";
import { type ActiveRun, type Launch, type Log, SHUTDOWN_GRACE_MS, Supervisor } from "./supervisor";
import { type RunFolderChange, RunRootWatcher } from "./watcher";

export class Ctx implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  readonly log: vscode.LogOutputChannel;
  /** What Python experiments run by ▶ Run print (stdout and stderr, as they write it). */
  private readonly scriptOutput: vscode.OutputChannel;
  private configValue: Config;
  readonly supervisor: Supervisor;
  readonly analyzers: AnalyzerPool;
  private index: RunIndex;
  private readonly sweepIndex = new SweepIndex();
  private readonly watcher: RunRootWatcher;
  /** Run folders changed on disk (debounced), or many at once: a scan read more runs or finished (empty list). */
  private readonly runsChangedEmitter = new Emitter<RunFolderChange[]>();
  readonly onDidChangeRuns: Event<RunFolderChange[]> = this.runsChangedEmitter.event;
  /** A supervised training changed (phase, progress, run folder). */
  private readonly trainingChangedEmitter = new Emitter<ActiveRun>();
  readonly onDidChangeTraining: Event<ActiveRun> = this.trainingChangedEmitter.event;
  private readonly configChangedEmitter = new Emitter<Config>();
  readonly onDidChangeConfig: Event<Config> = this.configChangedEmitter.event;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = this.push(vscode.window.createOutputChannel(EXTENSION_NAME, { log: true }));
    this.scriptOutput = this.push(vscode.window.createOutputChannel(`${EXTENSION_NAME}: Python`));
    this.configValue = this.readConfig();
    this.push(this.runsChangedEmitter, this.trainingChangedEmitter, this.configChangedEmitter);

    const log: Log = {
      info: (m) => this.log.info(m),
      warn: (m) => this.log.warn(m),
      error: (m) => this.log.error(m),
      trace: (m) => this.log.trace(m),
    };
    this.supervisor = this.push(
      new Supervisor({
        launch: (file) => this.launch(file),
        log,
        scriptOutput: (_run, text) => this.scriptOutput.append(text),
        pythonPackageRoot: this.pythonPackageRoot,
        maxConcurrent: () => this.config.maxConcurrentTrainers,
        readyTimeoutMs: READY_TIMEOUT_MS,
        listTimeoutMs: LIST_TIMEOUT_MS,
        stopGraceMs: STOP_GRACE_MS,
      }),
    );
    this.push(
      this.supervisor.onDidChange((run) => {
        if (run.runDir) this.index.update(run.runDir);
        void vscode.commands.executeCommand("setContext", ContextKeys.training, this.supervisor.runs().length > 0);
        this.trainingChangedEmitter.fire(run);
      }),
      this.supervisor.onEvent(({ run, event }) => {
        // A training this window started: follow it with the analyzer as its checkpoints appear.
        if (event.type === "started" && run.runDir && this.config.autoAnalyze === "runRoots")
          this.analyzers.request({ runDir: run.runDir, follow: true });
        // The trainer tells us about its run folder before the watcher does (and even when the
        // root did not exist yet): index it at once, and make sure the root is watched.
        if ((event.type === "started" || event.type === "finished" || event.type === "checkpoint") && run.runDir) {
          this.index.update(run.runDir);
          if (event.type === "started") this.watcher.ensure();
          this.runsChangedEmitter.fire([
            {
              runDir: run.runDir,
              manifest: true,
              metrics: false,
              checkpoints: event.type === "checkpoint",
              analyses: false,
              removed: false,
            },
          ]);
        }
      }),
    );

    this.analyzers = this.push(
      new AnalyzerPool({
        launch: (runDir) => this.launch(runDir),
        log,
        maxConcurrent: () => this.config.maxConcurrentAnalyzers,
        startTimeoutMs: READY_TIMEOUT_MS,
        experimentFile: (runDir) => this.experimentFileToRun(runDir),
      }),
    );

    this.index = new RunIndex(this.runRoots());
    this.watcher = this.push(
      new RunRootWatcher(WATCH_DEBOUNCE_MS, (m) => this.log.warn(m), {
        // Said once: in the log, and for a while in the status bar.
        notice: (m) => {
          this.log.warn(m);
          void vscode.window.setStatusBarMessage(`$(eye) ${m}`, 15_000);
        },
      }),
    );
    this.push(
      this.watcher.onDidChange((changes) => {
        for (const c of changes) {
          // sweep.json rewritten, or a point folder added: the watcher reports its sweep folder.
          this.sweepIndex.update(c.runDir, this.index.roots);
          let entry: RunEntry | undefined;
          if (c.removed) this.index.remove(c.runDir);
          else if (c.manifest) entry = this.index.update(c.runDir);
          if (
            this.config.autoAnalyze === "runRoots" &&
            analysisDue(c, entry, this.supervisor.findByRunDir(c.runDir) !== undefined)
          )
            this.analyzers.request({ runDir: c.runDir });
        }
        this.runsChangedEmitter.fire(changes);
      }),
    );
    void this.rescan();

    this.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(CONFIG_SECTION)) return;
        this.reloadConfig();
      }),
      // Trust granted: the workspace's own run roots apply from now on.
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.reloadConfig()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.rescan()),
    );
  }

  /** Settings as this workspace may set them (an untrusted one cannot choose the run roots). */
  private readConfig(): Config {
    return readConfig(vscode.workspace.getConfiguration(CONFIG_SECTION), { trusted: vscode.workspace.isTrusted });
  }

  private reloadConfig(): void {
    const before = this.configValue;
    this.configValue = this.readConfig();
    // Trainers already running keep their settings: they are never restarted for a setting.
    if (runRootsChanged(before, this.configValue)) void this.rescan();
    this.configChangedEmitter.fire(this.configValue);
  }

  /** Registers disposables for the extension's lifetime; returns the first. */
  push<T extends vscode.Disposable>(first: T, ...rest: vscode.Disposable[]): T {
    this.disposables.push(first, ...rest);
    return first;
  }

  get config(): Config {
    return this.configValue;
  }
  get runIndex(): RunIndex {
    return this.index;
  }
  /** The panels' analysis files, read incrementally (a record appended costs that record). */
  readonly analysisCache = new AnalysisCache();
  /** The sweep folders under the run roots (src/extension/sweeps.ts). */
  get sweeps(): SweepIndex {
    return this.sweepIndex;
  }
  get isTrusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  /** Absolute run roots: relative settings resolve against every workspace folder. */
  runRoots(): string[] {
    const folders =
      vscode.workspace.workspaceFolders?.filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath) ?? [];
    const out: string[] = [];
    for (const root of this.config.runRoots) {
      if (path.isAbsolute(root)) out.push(path.normalize(root));
      else for (const f of folders) out.push(path.join(f, root));
    }
    return [...new Set(out)];
  }

  /** Where a new run of `file` goes: the first run root, under the file's workspace folder. */
  runsRootFor(file: string): string {
    const first = this.config.runRoots[0] ?? "runs";
    if (path.isAbsolute(first)) return first;
    return path.join(this.cwdFor(file), first);
  }

  /** Working directory for a trainer of `file`: its workspace folder, else its own folder. */
  cwdFor(file: string | undefined): string {
    if (file) {
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
      return folder?.uri.fsPath ?? path.dirname(file);
    }
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? this.extension.extensionUri.fsPath;
  }

  /** The extension's `python/` folder (the logger's package, put on a Python experiment's PYTHONPATH). */
  get pythonPackageRoot(): string {
    return vscode.Uri.joinPath(this.extension.extensionUri, "python").fsPath;
  }

  /** Reveals the Python output channel (keeping the focus where it is) before a script runs. */
  showScriptOutput(): void {
    this.scriptOutput.show(true);
  }

  /** How to start a trainer for `file`: the configured Node, or VS Code's own runtime as Node. */
  launch(file: string): Launch {
    const sidecar = vscode.Uri.joinPath(this.extension.extensionUri, "dist", "trainer", "sidecar.js").fsPath;
    const node = this.config.nodePath;
    return {
      node: node !== "" ? node : process.execPath,
      electronRunAsNode: node === "",
      sidecar,
      cwd: this.cwdFor(file),
    };
  }

  /**
   * Re-reads every run root, then (re)watches them. The scan is asynchronous (activation returns
   * at once): runs appear in the Runs view and code lenses as it reads them (`onDidChangeRuns`
   * fires with an empty list after ~250 ms, then at intervals growing to 2 s, and at the end).
   * Resolves when the scan is done, or was superseded by a newer rescan. Same roots: the index is
   * rescanned in place, so nothing disappears meanwhile; new roots: a new, empty index at once.
   */
  rescan(): Promise<void> {
    const roots = this.runRoots();
    const next = new RunIndex(roots);
    if (!sameRoots(next.roots, this.index.roots)) {
      this.index.cancelScan();
      this.index = next;
      this.runsChangedEmitter.fire([]);
    }
    const index = this.index;
    // Changes after this instant are caught up by the watcher, which starts after the scan.
    const startedAt = Date.now();
    void this.sweepIndex.scan(roots).then(() => this.runsChangedEmitter.fire([]));
    return index.scan({ onProgress: () => this.runsChangedEmitter.fire([]) }).then(
      (result) => {
        if (result.kind === "superseded" || this.disposed) return;
        const n = result.runs;
        this.log.info(
          `run roots: ${roots.join(", ") || "(none: no workspace folder)"}; ${n} run${n === 1 ? "" : "s"} found`,
        );
        this.watcher.setRoots(index.roots, n, startedAt);
        this.runsChangedEmitter.fire([]);
      },
      (e: unknown) => this.log.error(`scanning run roots: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  /**
   * Whether the analyzer may load the experiment file of a run: the workspace is trusted and the
   * file is inside one of its folders (a run.json from elsewhere may name any file).
   */
  mayRunExperimentOf(runDir: string): boolean {
    return this.experimentFileToRun(runDir) !== undefined;
  }

  /**
   * The experiment file of a run when the analyzer may load it (see mayRunExperimentOf), else
   * undefined. A file that is no TypeScript/JavaScript experiment (the Python script that wrote
   * the run) is never named: the analyzer cannot load it.
   */
  experimentFileToRun(runDir: string): string | undefined {
    if (!vscode.workspace.isTrusted) return undefined;
    const file = this.recordedExperiment(runDir);
    if (file === undefined || notAnExperimentReason(file) !== undefined) return undefined;
    return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) !== undefined ? file : undefined;
  }

  /** The experiment (or script) file a run's run.json records, if any. */
  recordedExperiment(runDir: string): string | undefined {
    const e = this.index.get(runDir) ?? this.index.update(runDir);
    return e && e.status !== "invalid" ? e.manifest.experiment?.path : undefined;
  }

  /**
   * Shows an error and reveals the log (a failure is never only logged). An error that Problems already shows at its
   * line (a config or syntax error in the experiment file) leaves the panel area to Problems and
   * offers it instead: revealing the log there would hide the very list the user needs.
   */
  showError(message: string, options: { inProblems?: boolean } = {}): void {
    this.log.error(message);
    if (options.inProblems) {
      void vscode.window.showErrorMessage(message, "Show Problems", "Show Trainer Log").then((choice) => {
        if (choice === "Show Problems") void vscode.commands.executeCommand("workbench.actions.view.problems");
        else if (choice) this.log.show();
      });
      return;
    }
    this.log.show(true);
    void vscode.window.showErrorMessage(message, "Show Trainer Log").then((choice) => {
      if (choice) this.log.show();
    });
  }

  /** Stops trainers gracefully, then kills what is left after SHUTDOWN_GRACE_MS (deactivate awaits this). */
  async shutdown(): Promise<void> {
    await Promise.all([this.supervisor.shutdown(SHUTDOWN_GRACE_MS), this.analyzers.shutdown(SHUTDOWN_GRACE_MS)]);
  }

  dispose(): void {
    this.disposed = true;
    this.index.cancelScan();
    for (const d of this.disposables.reverse()) {
      try {
        d.dispose();
      } catch (e) {
        console.error(e);
      }
    }
    this.disposables.length = 0;
  }
}

/** Whether two root lists name the same folders (in any order). */
function sameRoots(a: readonly string[], b: readonly string[]): boolean {
  const keys = new Set(a.map((r) => pathKey(r)));
  return a.length === b.length && b.every((r) => keys.has(pathKey(r)));
}
