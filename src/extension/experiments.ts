// What the trainer said about each experiment file: the `list` reply (systems, their locations and
// config problems, sweep sizes), asked for when a file is first opened and again when it is saved.
// Listing runs the file's code, so it happens only in a trusted workspace. Problems go to the Problems panel through TrainerDiagnostics.
import * as vscode from "vscode";
import type { SystemSummary } from "../shared/trainerProtocol";
import type { Ctx } from "./context";
import type { TrainerDiagnostics } from "./diagnostics";
import { Emitter } from "./events";
import { mergeWithTrainerList, ScanCache, type SystemPosition } from "./experimentScanner";

export class ExperimentSystems implements vscode.Disposable {
  private readonly listed = new Map<string, SystemSummary[]>();
  private readonly inFlight = new Map<string, Promise<SystemSummary[] | undefined>>();
  /** Code lenses and hovers ask for a document's systems on every refresh: scan each version once. */
  private readonly scans = new ScanCache();
  private readonly changedEmitter = new Emitter<string>();
  readonly onDidChange = this.changedEmitter.event;
  private readonly subscriptions: vscode.Disposable[] = [this.changedEmitter];

  constructor(
    private readonly ctx: Ctx,
    private readonly diagnostics: TrainerDiagnostics,
    private readonly isExperiment: (document: vscode.TextDocument) => boolean,
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (this.isExperiment(doc) && this.ctx.isTrusted) void this.list(doc.uri.fsPath);
      }),
      // An experiment opened in a trusted workspace is listed once, so what only the trainer
      // knows (▶ Sweep (N runs), config problems, descriptions) shows without a save first.
      vscode.workspace.onDidOpenTextDocument((doc) => this.listIfNew(doc)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.scans.forget(doc.uri.toString())),
    );
    for (const doc of vscode.workspace.textDocuments) this.listIfNew(doc);
  }

  /** Lists an open experiment the trainer has not answered for yet (trusted workspaces only). */
  private listIfNew(doc: vscode.TextDocument): void {
    const file = doc.uri.fsPath;
    if (doc.uri.scheme !== "file" || !this.isExperiment(doc) || !this.ctx.isTrusted) return;
    if (this.listed.has(file) || this.inFlight.has(file)) return;
    void this.list(file).catch(() => undefined);
  }

  /** Systems of a document: the trainer's last answer merged with a scan of the current text. */
  positions(document: vscode.TextDocument): SystemPosition[] {
    const scanned = this.scans.get(document.uri.toString(), document.version, () => document.getText());
    return mergeWithTrainerList(
      scanned,
      document.isDirty ? undefined : this.listed.get(document.uri.fsPath),
      document.uri.fsPath,
    );
  }

  /** Asks a trainer for the systems of `file`; updates Problems. Undefined when it failed. */
  list(file: string, signal?: AbortSignal): Promise<SystemSummary[] | undefined> {
    const running = this.inFlight.get(file);
    if (running !== undefined) return running;
    const p = (async () => {
      try {
        const reply = await this.ctx.supervisor.list(file, signal);
        if (reply.error) {
          this.diagnostics.setError(file, reply.error);
          this.ctx.log.warn(`listing ${file}: ${reply.error.message}`);
          this.listed.delete(file);
          return undefined;
        }
        this.diagnostics.setSystems(file, reply.systems);
        this.listed.set(file, reply.systems);
        return reply.systems;
      } catch (e) {
        this.ctx.log.error(`listing ${file}: ${(e as Error).message}`);
        throw e;
      } finally {
        this.inFlight.delete(file);
        this.changedEmitter.fire(file);
      }
    })();
    this.inFlight.set(file, p);
    return p;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
