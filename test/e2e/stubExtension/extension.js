// A stand-in extension for the rig's self-test (test/e2e/workbench.test.ts): it shows the same
// kinds of things the real one does — a code lens, a status bar item, a webview with a growing
// canvas, a hover, a run.json whose status a palette command sets to "stopped".
const vscode = require("vscode");
const fs = require("node:fs");
const path = require("node:path");

exports.activate = (context) => {
  let step = 0;
  let timer;
  let runDir;
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  const write = (s) => fs.writeFileSync(path.join(runDir, "run.json"), JSON.stringify({ system: "modAdd", status: s, step }));
  context.subscriptions.push(
    status,
    vscode.languages.registerCodeLensProvider({ pattern: "**/*.experiment.ts" }, {
      provideCodeLenses: (doc) => {
        const i = doc.getText().indexOf("export const modAdd");
        if (i < 0) return [];
        const pos = doc.positionAt(i);
        return [new vscode.CodeLens(new vscode.Range(pos, pos), { title: "▶ Train modAdd", command: "lmStub.train" })];
      },
    }),
    vscode.languages.registerHoverProvider({ pattern: "**/*.experiment.ts" }, {
      provideHover: (doc, pos) => {
        const r = doc.getWordRangeAtPosition(pos);
        if (r === undefined || doc.getText(r) !== "modAdd") return undefined;
        return new vscode.Hover(`modAdd: step ${step}`);
      },
    }),
    vscode.commands.registerCommand("lmStub.train", () => {
      const root = vscode.workspace.workspaceFolders[0].uri.fsPath;
      runDir = path.join(root, "runs", `stub-${Date.now()}`);
      fs.mkdirSync(runDir, { recursive: true });
      write("running");
      const panel = vscode.window.createWebviewPanel("lmStub.curves", "Stub curves", vscode.ViewColumn.Beside, { enableScripts: true });
      panel.webview.html = `<!DOCTYPE html><html><body><canvas id="c" width="300" height="150"></canvas><script>
        const ctx = document.getElementById("c").getContext("2d");
        window.addEventListener("message", (e) => { ctx.fillStyle = "#36c"; ctx.fillRect(e.data.step * 3, 140 - e.data.step, 3, 3); });
      </script></body></html>`;
      timer = setInterval(() => {
        step++;
        status.text = `$(pulse) modAdd step ${step}`;
        status.show();
        panel.webview.postMessage({ step });
      }, 300);
    }),
    vscode.commands.registerCommand("lmStub.stop", () => {
      clearInterval(timer);
      status.hide();
      if (runDir !== undefined) write("stopped");
    }),
  );
};
exports.deactivate = () => {};
