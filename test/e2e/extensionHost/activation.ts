// Runs inside code-server's extension host (payload extensionTestsPath) on a folder with a plain
// TypeScript file and no experiment file or run folder (test/e2e/tsPlugin.test.ts writes it): the
// extension stays inactive while TypeScript works on the file, and activates when one of its
// commands runs. Results go to the console as `[lm-e2e]` lines.
import * as vscode from "vscode";

const EXTENSION_ID = "learning-mechanics.learning-mechanics";

export async function run(): Promise<void> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => {
    console.log(`[lm-e2e] ${ok ? "ok" : "FAIL"} ${what}`);
    if (!ok) failures.push(what);
  };
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (ext === undefined || folder === undefined) throw new Error("no extension or no workspace folder");

  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, "util.ts"));
  await vscode.window.showTextDocument(doc);
  // TypeScript has seen the file once its deliberate error is reported: the language is active.
  const deadline = Date.now() + 90_000;
  while (vscode.languages.getDiagnostics(doc.uri).length === 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 250));
  check(vscode.languages.getDiagnostics(doc.uri).length > 0, "TypeScript checked util.ts");
  check(!ext.isActive, "a TypeScript file alone does not activate the extension");

  await vscode.commands.executeCommand("learningMechanics.refreshRuns");
  check(ext.isActive, "running one of its commands activates it");
  if (failures.length > 0) throw new Error(`${failures.length} check(s) failed: ${failures.join("; ")}`);
}
