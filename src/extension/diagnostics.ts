// Problems from the trainer: config problems (`systems` replies) and `error` events with a location
// in an experiment file become diagnostics at their line (a Python script's traceback too, at the
// innermost line of the user's files, which may be a module the script imports). Cleared for a
// file, with the other files its errors were placed in, when a later `list`, training or run of
// it begins or reports nothing wrong.
import * as vscode from "vscode";
import type { ConfigProblem, Location, SystemSummary, TrainerEvent } from "../shared/trainerProtocol";
import { problemMessage } from "./problemText";

const SOURCE = "learning-mechanics";

/** A 1-based trainer location → a 0-based range covering the rest of the line. */
function rangeOf(location: Location | undefined): vscode.Range {
  const line = Math.max(0, (location?.line ?? 1) - 1);
  const col = Math.max(0, (location?.column ?? 1) - 1);
  return new vscode.Range(line, col, line, Number.MAX_SAFE_INTEGER);
}

export class TrainerDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection(SOURCE);
  /** The other files an error of a file was shown in (a helper module of a script), to clear with it. */
  private readonly placedElsewhere = new Map<string, Set<string>>();

  /** Replaces the diagnostics of `file` with the config problems of its systems. */
  setSystems(file: string, systems: readonly SystemSummary[]): void {
    const byFile = new Map<string, vscode.Diagnostic[]>([[file, []]]);
    for (const s of systems) {
      for (const p of s.problems) this.add(byFile, file, p, s.location, `${s.name}: `);
    }
    for (const [f, diags] of byFile) this.collection.set(vscode.Uri.file(f), diags);
  }

  /** Shows an `error` event of `file` (a syntax error, a runtime error in user code, config problems). */
  setError(file: string, event: Extract<TrainerEvent, { type: "error" }>): void {
    const byFile = new Map<string, vscode.Diagnostic[]>([[file, []]]);
    if (event.problems && event.problems.length > 0) {
      for (const p of event.problems) this.add(byFile, file, p, event.location, "");
    } else {
      const target = event.location?.file ?? file;
      const d = new vscode.Diagnostic(
        rangeOf(event.location),
        problemMessage(event.message, event.location),
        vscode.DiagnosticSeverity.Error,
      );
      d.source = SOURCE;
      d.code = event.kind;
      if (!byFile.has(target)) byFile.set(target, []);
      byFile.get(target)!.push(d);
      if (target !== file) {
        const others = this.placedElsewhere.get(file) ?? new Set<string>();
        others.add(target);
        this.placedElsewhere.set(file, others);
      }
    }
    for (const [f, diags] of byFile) this.collection.set(vscode.Uri.file(f), diags);
  }

  clear(file: string): void {
    this.collection.delete(vscode.Uri.file(file));
    for (const other of this.placedElsewhere.get(file) ?? []) this.collection.delete(vscode.Uri.file(other));
    this.placedElsewhere.delete(file);
  }

  private add(
    byFile: Map<string, vscode.Diagnostic[]>,
    file: string,
    p: ConfigProblem,
    fallback: Location | undefined,
    prefix: string,
  ): void {
    const location = p.location ?? fallback;
    const target = location?.file ?? file;
    const d = new vscode.Diagnostic(
      rangeOf(location),
      `${prefix}${p.path}: ${p.message}`,
      vscode.DiagnosticSeverity.Error,
    );
    d.source = SOURCE;
    d.code = "config";
    if (!byFile.has(target)) byFile.set(target, []);
    byFile.get(target)!.push(d);
  }

  dispose(): void {
    this.collection.dispose();
  }
}
