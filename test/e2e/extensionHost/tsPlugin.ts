// Runs inside code-server's extension host (payload extensionTestsPath), with the extension loaded
// from an unpacked .vsix: IntelliSense for experiment files in a folder that has no node_modules
// and no tsconfig, served by VS Code's built-in TypeScript extension through the shipped server
// plugin. The workspace (written by test/e2e/tsPlugin.test.ts) holds `mine.experiment.ts` (correct)
// and `broken.experiment.ts` (one type error). Results go to the console as `[lm-e2e]` lines.
import * as vscode from "vscode";

const TS_EXTENSION = "vscode.typescript-language-features";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function poll<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** Position just after the first `needle` in `doc`. */
function after(doc: vscode.TextDocument, needle: string): vscode.Position {
  const i = doc.getText().indexOf(needle);
  if (i < 0) throw new Error(`"${needle}" is not in ${doc.fileName}`);
  return doc.positionAt(i + needle.length);
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === "string" ? c : c.value))
    .join("\n");
}

export async function run(): Promise<void> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => {
    console.log(`[lm-e2e] ${ok ? "ok" : "FAIL"} ${what}`);
    if (!ok) failures.push(what);
  };

  const ts = vscode.extensions.getExtension(TS_EXTENSION);
  check(ts !== undefined, `${TS_EXTENSION} (VS Code's built-in TypeScript) is present`);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (ts === undefined || folder === undefined) throw new Error(failures.join("; ") || "no workspace folder");
  await ts.activate();

  const good = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, "mine.experiment.ts"));
  await vscode.window.showTextDocument(good);
  const bad = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, "broken.experiment.ts"));
  await vscode.window.showTextDocument(bad, { viewColumn: vscode.ViewColumn.Beside });

  // The broken file's error arrives once tsserver has checked the open files (VS Code asks for
  // both at once), so after it the correct file's empty list is an answer, not a pending one.
  const errors = await poll(
    "the type error in broken.experiment.ts",
    () => {
      const d = vscode.languages.getDiagnostics(bad.uri).filter((x) => x.source === "ts");
      return d.length > 0 ? d : undefined;
    },
    90_000,
  );
  for (const d of errors) console.log(`[lm-e2e] broken.experiment.ts:${d.range.start.line + 1}: ${d.message}`);
  check(errors.length === 1, `broken.experiment.ts has one error (has ${errors.length})`);
  check(
    errors[0]?.message.includes("Type 'string' is not assignable to type 'number'") === true &&
      errors[0].range.start.line === bad.positionAt(bad.getText().indexOf("steps")).line,
    "the error is on the `steps` line: a string where a number goes",
  );
  await sleep(2_000);
  const goodDiagnostics = vscode.languages.getDiagnostics(good.uri);
  for (const d of goodDiagnostics) console.log(`[lm-e2e] mine.experiment.ts:${d.range.start.line + 1}: ${d.message}`);
  check(goodDiagnostics.length === 0, `mine.experiment.ts has no diagnostics (has ${goodDiagnostics.length})`);

  const completions = await vscode.commands.executeCommand<vscode.CompletionList>(
    "vscode.executeCompletionItemProvider",
    good.uri,
    after(good, "tasks."),
    ".",
  );
  const labels = completions.items.map((i) => (typeof i.label === "string" ? i.label : i.label.label));
  console.log(`[lm-e2e] completions after tasks.: ${labels.slice(0, 12).join(", ")}`);
  for (const name of ["modularArithmetic", "sparseParity", "teacherStudent", "hierarchical", "fromFile", "custom"])
    check(labels.includes(name), `completion after \`tasks.\` lists ${name}`);

  const fieldHover = hoverText(
    await vscode.commands.executeCommand<vscode.Hover[]>(
      "vscode.executeHoverProvider",
      good.uri,
      after(good, "modularArithmetic({ p").translate(0, -1),
    ),
  );
  console.log(`[lm-e2e] hover on p: ${fieldHover.replace(/\n/g, " | ")}`);
  check(/Modulus/.test(fieldHover) && /Default: 97/.test(fieldHover), "hover on `p` gives its meaning and default");

  if (failures.length > 0) throw new Error(`${failures.length} check(s) failed: ${failures.join("; ")}`);
}
