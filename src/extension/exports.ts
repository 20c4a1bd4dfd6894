// Saving what a panel exports (CSV, PNG): a save dialog beside the run, then the bytes.
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import type { Ctx } from "./context";

export async function saveExport(
  ctx: Ctx,
  nearRunDir: string | undefined,
  name: string,
  data: Buffer,
  filters: Record<string, string[]>,
): Promise<void> {
  const defaultUri = vscode.Uri.file(path.join(nearRunDir ?? ctx.cwdFor(undefined), name));
  const target = await vscode.window.showSaveDialog({ defaultUri, filters });
  if (!target) return;
  try {
    if (target.scheme === "file") await writeFile(target.fsPath, data);
    else await vscode.workspace.fs.writeFile(target, data);
    ctx.log.info(`saved ${target.fsPath}`);
  } catch (e) {
    ctx.showError(`Could not save ${target.fsPath}: ${(e as Error).message}`);
  }
}
