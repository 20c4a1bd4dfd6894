// Hovers: over a model system's name in an experiment file (its latest run), and over a checkpoint
// path in any file (its tensors, read from the safetensors header only — never the tensor data).
import { stat } from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import { readSafetensorsHeader } from "../shared/safetensors";
import type { Ctx } from "./context";
import type { ExperimentSystems } from "./experiments";
import { checkpointHover, escapeMarkdown, findCheckpointPaths, systemHover } from "./hoverContent";
import type { LatestMetrics } from "./latestMetrics";
import { StatCache } from "./statCache";

function markdown(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text, true);
  md.isTrusted = false;
  return md;
}

export class SystemHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly ctx: Ctx,
    private readonly systems: ExperimentSystems,
    private readonly latest: LatestMetrics,
  ) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const range = document.getWordRangeAtPosition(position, /[A-Za-z_$][\w$]*/);
    if (!range) return undefined;
    const word = document.getText(range);
    const file = document.uri.fsPath;
    const system = this.systems
      .positions(document)
      .find((s) => s.name === word || (word === "default" && s.name === "default"));
    if (!system) return undefined;
    const active = this.ctx.supervisor.find(file, system.name);
    const runDir = active?.runDir ?? this.ctx.runIndex.latest(file, system.name)?.runDir;
    const entry = runDir ? this.ctx.runIndex.get(runDir) : undefined;
    const manifest = entry && entry.status !== "invalid" ? entry.manifest : undefined;
    const latest = runDir ? this.latest.get(runDir) : undefined;
    const sps =
      active && (active.phase.kind === "training" || active.phase.kind === "stopping")
        ? active.phase.progress?.stepsPerSecond
        : undefined;
    let text = systemHover(system.name, manifest, latest, sps);
    if (system.summary?.description)
      text = `${text}\n\n---\n\n${system.summary.description.replace(/[\\`*_{}[\]()#+\-.!|<>$]/g, "\\$&")}`;
    return new vscode.Hover(markdown(text), range);
  }
}

export class CheckpointHoverProvider implements vscode.HoverProvider {
  /** Hover text per checkpoint file, while its mtime and size are unchanged. */
  private readonly texts = new StatCache<string>();

  async provideHover(
    document: vscode.TextDocument,
    position: vscode.Position,
    token: vscode.CancellationToken,
  ): Promise<vscode.Hover | undefined> {
    const line = document.lineAt(position.line).text;
    if (!line.includes(".safetensors")) return undefined;
    const match = findCheckpointPaths(line).find((m) => position.character >= m.start && position.character <= m.end);
    if (!match) return undefined;
    const candidates = path.isAbsolute(match.path)
      ? [match.path]
      : [
          ...(document.uri.scheme === "file" ? [path.resolve(path.dirname(document.uri.fsPath), match.path)] : []),
          ...(vscode.workspace.workspaceFolders ?? []).map((f) => path.resolve(f.uri.fsPath, match.path)),
        ];
    for (const file of candidates) {
      if (token.isCancellationRequested) return undefined;
      let stamp: { mtimeMs: number; size: number };
      try {
        // Regular files only: a FIFO named like a checkpoint would hold a reader thread for ever.
        const s = await stat(file);
        if (!s.isFile()) continue;
        stamp = { mtimeMs: s.mtimeMs, size: s.size };
      } catch {
        continue;
      }
      const range = new vscode.Range(position.line, match.start, position.line, match.end);
      const text = await this.texts.get(file, stamp, async () => {
        try {
          return checkpointHover(file, await readSafetensorsHeader(file), stamp.size);
        } catch (e) {
          return `**${escapeMarkdown(path.basename(file))}**: not a readable safetensors file (${escapeMarkdown(e instanceof Error ? e.message : String(e))})`;
        }
      });
      return new vscode.Hover(markdown(text), range);
    }
    return undefined;
  }
}
