// End to end in a real VS Code (code-server) and a real Chromium, offline (test/e2e/codeServer.ts).
// Skips, saying why, when scripts/install-test-tools.sh has not been run, or while the extension
// does not yet contribute the commands a test drives.
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { CodeServer, contributedCommands, missingTools, ROOT, since, sleep, waitFor } from "./codeServer";

const EXAMPLES = join(ROOT, "examples");
const missing = missingTools();

/** Why the extension tests cannot run yet, or undefined. */
function extensionNotReady(): string | undefined {
  if (missing !== undefined) return missing;
  const commands = contributedCommands().map((c) => c.command);
  if (!commands.includes("learningMechanics.train") || !commands.includes("learningMechanics.stop")) {
    return "package.json does not contribute learningMechanics.train and learningMechanics.stop yet (the extension is being written)";
  }
  if (!existsSync(join(ROOT, "dist", "extension", "extension.js"))) return "dist/extension/extension.js is not built (node scripts/build.mjs)";
  return undefined;
}

/** A run-free copy of examples/, so a training run never writes into the repository. */
function examplesCopy(): { dir: string; dispose(): void } {
  const parent = mkdtempSync(join(tmpdir(), "lm-e2e-ws-"));
  const dir = join(parent, "examples");
  cpSync(EXAMPLES, dir, { recursive: true, filter: (src) => !src.startsWith(join(EXAMPLES, "runs")) });
  // The examples' tsconfig maps "learning-mechanics" to ../src/sdk: point it at this repository's SDK.
  const tsconfig = join(dir, "tsconfig.json");
  if (existsSync(tsconfig)) writeFileSync(tsconfig, readFileSync(tsconfig, "utf8").replace("../src/sdk/index.ts", join(ROOT, "src", "sdk", "index.ts")));
  return { dir, dispose: () => rmSync(parent, { recursive: true, force: true }) };
}

const opened: CodeServer[] = [];
after(async () => {
  for (const cs of opened.splice(0)) await cs.close();
});

async function startRig(folder: string, opts: Parameters<CodeServer["open"]>[0] = {}): Promise<CodeServer> {
  const cs = await CodeServer.start({ folder });
  opened.push(cs);
  await cs.open(opts);
  return cs;
}

describe("e2e: code-server + Chromium", () => {
  test("the rig: workbench loads examples/ and shows grokking.experiment.ts", { skip: missing ?? false, timeout: 180_000 }, async (t) => {
    const t0 = performance.now();
    const cs = await startRig(EXAMPLES);
    try {
      const tOpen = performance.now();
      await cs.clickExplorerRow("grokking.experiment.ts");
      const text = await waitFor("modelSystem in the editor", async () => ((await cs.editorText()).includes("modelSystem") ? true : undefined), 30_000);
      assert.equal(text, true);
      const editor = await cs.editorText();
      assert.match(editor, /export const modAdd = modelSystem\(/);
      assert.match(await cs.page.locator(".tab.active").getAttribute("aria-label").then((l) => l ?? ""), /grokking\.experiment\.ts/);
      const openMs = since(tOpen);
      // Quick Open reaches a file too (the path other tests use for nested files).
      await cs.openFile("deep-linear.experiment.ts");
      assert.match(await cs.editorText(), /modelSystem/);
      await cs.clickExplorerRow("grokking.experiment.ts");
      const shot = await cs.screenshot("workbench-grokking");
      t.diagnostic(`timings ms: server start ${cs.timings.serverStart}, browser launch ${cs.timings.browserLaunch}, workbench load ${cs.timings.workbenchLoad}, open file ${openMs}, total ${since(t0)}; screenshot ${shot}`);
    } catch (e) {
      await cs.screenshot("workbench-grokking-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
    }
  });

  const notReady = extensionNotReady();

  test("the extension's commands are registered in code-server's extension host", { skip: notReady ?? false, timeout: 180_000 }, async (t) => {
    const index = join(ROOT, "dist", "e2e-host", "index.js");
    if (!existsSync(index)) {
      t.skip(`${index} is not built (esbuild entry test/e2e/extensionHost/index.ts, cjs, vscode external)`);
      return;
    }
    const ws = examplesCopy();
    const cs = await startRig(ws.dir, { extensionDevelopmentPath: ROOT, extensionTestsPath: index });
    try {
      const code = await cs.exitCode(120_000);
      assert.equal(code, 0, `extension host suite failed\n${cs.diagnostics()}`);
      t.diagnostic(`timings ms: server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}`);
    } finally {
      await cs.close();
      ws.dispose();
    }
  });

  test("train modAdd from its code lens, watch the chart, hover, stop", { skip: notReady ?? false, timeout: 300_000 }, async (t) => {
    const stop = contributedCommands().find((c) => c.command === "learningMechanics.stop");
    await trainWatchHoverStop(t, ROOT, stop?.category !== undefined ? `${stop.category}: ${stop.title}` : (stop?.title ?? "Learning Mechanics: Stop"));
  });
});

/**
 * The user's path through a training run, for the extension in development mode from `extensionDir`:
 * code lens → run folder + status bar → chart grows → hover says "step" → palette Stop → run.json "stopped".
 */
async function trainWatchHoverStop(t: TestContext, extensionDir: string, stopTitle: string): Promise<void> {
  const ws = examplesCopy();
  const runsDir = join(ws.dir, "runs");
  const shot = (name: string): string => `extension-${name}`;
  const cs = await startRig(ws.dir, { extensionDevelopmentPath: extensionDir });
  try {
    await cs.clickExplorerRow("grokking.experiment.ts");
    const tLens = performance.now();
    await cs.waitForCodeLens("▶ Train modAdd", 90_000);
    const lensMs = since(tLens);
    await cs.screenshot(shot("codelens"));

    await cs.clickCodeLens("▶ Train modAdd");
    const tTrain = performance.now();
    // Training started: a run folder with run.json for modAdd, and the status bar names it.
    const runDir = await waitFor("a modAdd run folder under runs/", () => findRun(runsDir, "modAdd"), 90_000);
    await waitFor("a status bar item naming modAdd", async () => ((await cs.statusBarText()).includes("modAdd") ? true : undefined), 30_000);
    const startMs = since(tTrain);

    // The loss curves panel draws more as metrics arrive.
    const frame = await cs.webviewFrame(undefined, 60_000);
    await frame.locator("canvas").first().waitFor({ state: "visible", timeout: 30_000 });
    const inked = (): Promise<number> => frame.evaluate<number>(INKED_PIXELS);
    const before = await inked();
    const grown = await waitFor("the chart to gain points", async () => {
      const now = await inked();
      return now > before ? now : undefined;
    }, 90_000, 1_000);
    assert.ok(grown > before, `chart ink ${before} → ${grown}`);
    await cs.screenshot(shot("training"));

    // The hover over the system's name reports training progress.
    await cs.focusFirstEditorGroup();
    const hover = await cs.hoverAt("modAdd");
    // A step count, not just the word: TypeScript's own hover (`steps: …`) must not satisfy this.
    assert.match(hover, /\bstep\b\D{0,3}\d/i, `hover text: ${hover}`);
    await cs.screenshot(shot("hover"));

    // Stop from the command palette; the run's manifest records it.
    await cs.runCommand(stopTitle);
    // A quick pick may ask which run when several are active; there is one, Enter takes it.
    await sleep(500);
    if (await cs.page.locator(".quick-input-widget").isVisible()) await cs.page.keyboard.press("Enter");
    const status = await waitFor("run.json status stopped", () => {
      const s = (JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as { status: string }).status;
      return s === "stopped" ? s : undefined;
    }, 60_000, 500);
    assert.equal(status, "stopped");
    t.diagnostic(`timings ms: server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}, code lens ${lensMs}, training visible ${startMs}; hover "${hover.replace(/\s+/g, " ")}"`);
  } catch (e) {
    await cs.screenshot(shot("failure")).catch(() => undefined);
    throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
  } finally {
    await cs.close();
    ws.dispose();
  }
}

/** Evaluated in the webview: how many canvas pixels are not transparent (grows as curves extend). */
/**
 * Pixels of every canvas that differ from that canvas's background (its top-left pixel): the chart
 * fills its background, so "any alpha" would count the whole canvas and never grow.
 */
const INKED_PIXELS = `(() => {
  let n = 0;
  for (const c of document.querySelectorAll("canvas")) {
    const ctx = c.getContext("2d");
    if (ctx === null || c.width === 0 || c.height === 0) continue;
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    const [r, g, b, a] = [data[0], data[1], data[2], data[3]];
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) + Math.abs(data[i + 3] - a) > 24) n++;
    }
  }
  return n;
})()`;

/** The newest run folder of `system` under `runsDir` (one or two levels deep), if any. */
function findRun(runsDir: string, system: string): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  const candidates: string[] = [];
  const visit = (dir: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (existsSync(join(p, "run.json"))) candidates.push(p);
      else if (depth < 1) visit(p, depth + 1);
    }
  };
  visit(runsDir, 0);
  for (const p of candidates.sort().reverse()) {
    try {
      const m = JSON.parse(readFileSync(join(p, "run.json"), "utf8")) as { system?: string };
      if (m.system === system) return p;
    } catch {
      // Being written; the next poll reads it.
    }
  }
  return undefined;
}
