// Runs inside code-server's extension host (the payload's extensionTestsPath): VS Code calls
// `run()`, and its outcome becomes the page's `window.codeAutomationExit(code)`. Mocha-free on
// purpose: a handful of checks against the real `vscode` API, each one able to fail.
// Bundle: entry test/e2e/extensionHost/index.ts → dist/test/e2e/extensionHost/index.js (node, cjs,
// `vscode` external). Driven by test/e2e/workbench.test.ts.
import * as vscode from "vscode";

const EXTENSION_ID = "learning-mechanics.learning-mechanics";

interface PackageJson {
  contributes?: { commands?: Array<{ command: string }> };
}

export async function run(): Promise<void> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => {
    console.log(`[lm-e2e] ${ok ? "ok" : "FAIL"} ${what}`);
    if (!ok) failures.push(what);
  };

  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  check(ext !== undefined, `extension ${EXTENSION_ID} is present`);
  if (ext === undefined) throw new Error(failures.join("; "));
  // Tests can start before activation: activate explicitly.
  await ext.activate();
  check(ext.isActive, "extension activates");

  const contributed = ((ext.packageJSON as PackageJson).contributes?.commands ?? []).map((c) => c.command);
  check(contributed.length > 0, "package.json contributes commands");
  const registered = new Set(await vscode.commands.getCommands(true));
  for (const id of contributed) check(registered.has(id), `command ${id} is registered`);

  if (failures.length > 0) throw new Error(`${failures.length} check(s) failed: ${failures.join("; ")}`);
}
