// End to end in a real VS Code (code-server) and a real Chromium, offline (test/e2e/codeServer.ts).
// Skips, saying why, when scripts/install-test-tools.sh has not been run, or while the extension
// does not yet contribute the commands a test drives.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { CodeServer, contributedCommands, missingTools, ROOT, since, sleep, waitFor } from "./codeServer";
import { EXAMPLES, INKED_PIXELS, RUNS_PANE, waitForGrowingChart, waitForQuietDom, workspaceCopy } from "./helpers";

const missing = missingTools();

/** Why the extension tests cannot run yet, or undefined. */
function extensionNotReady(): string | undefined {
  if (missing !== undefined) return missing;
  const commands = contributedCommands().map((c) => c.command);
  if (!commands.includes("learningMechanics.train") || !commands.includes("learningMechanics.stop")) {
    return "package.json does not contribute learningMechanics.train and learningMechanics.stop yet (the extension is being written)";
  }
  if (!existsSync(join(ROOT, "dist", "extension", "extension.js")))
    return "dist/extension/extension.js is not built (node scripts/build.mjs)";
  return undefined;
}

const opened: CodeServer[] = [];
after(async () => {
  for (const cs of opened.splice(0)) await cs.close();
});

async function startRig(
  folder: string,
  opts: Parameters<CodeServer["open"]>[0] = {},
  vsix?: string,
): Promise<CodeServer> {
  const cs = await CodeServer.start({ folder, ...(vsix !== undefined ? { vsix } : {}) });
  opened.push(cs);
  await cs.open(opts);
  return cs;
}

describe("e2e: code-server + Chromium", () => {
  test("the rig: workbench loads examples/ and shows grokking.experiment.ts", {
    skip: missing ?? false,
    timeout: 180_000,
  }, async (t) => {
    const t0 = performance.now();
    const cs = await startRig(EXAMPLES);
    try {
      const tOpen = performance.now();
      await cs.clickExplorerRow("grokking.experiment.ts");
      const text = await waitFor(
        "modelSystem in the editor",
        async () => ((await cs.editorText()).includes("modelSystem") ? true : undefined),
        30_000,
      );
      assert.equal(text, true);
      const editor = await cs.editorText();
      assert.match(editor, /export const modAdd = modelSystem\(/);
      assert.match(
        await cs.page
          .locator(".tab.active")
          .getAttribute("aria-label")
          .then((l) => l ?? ""),
        /grokking\.experiment\.ts/,
      );
      const openMs = since(tOpen);
      // Quick Open reaches a file too (the path other tests use for nested files).
      await cs.openFile("deep-linear.experiment.ts");
      assert.match(await cs.editorText(), /modelSystem/);
      await cs.clickExplorerRow("grokking.experiment.ts");
      const shot = await cs.screenshot("workbench-grokking");
      t.diagnostic(
        `timings ms: server start ${cs.timings.serverStart}, browser launch ${cs.timings.browserLaunch}, workbench load ${cs.timings.workbenchLoad}, open file ${openMs}, total ${since(t0)}; screenshot ${shot}`,
      );
    } catch (e) {
      await cs.screenshot("workbench-grokking-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
    }
  });

  const notReady = extensionNotReady();

  test("the extension's commands are registered in code-server's extension host", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async (t) => {
    const index = join(ROOT, "dist", "e2e-host", "index.js");
    if (!existsSync(index)) {
      t.skip(`${index} is not built (esbuild entry test/e2e/extensionHost/index.ts, cjs, vscode external)`);
      return;
    }
    const ws = workspaceCopy();
    const cs = await startRig(ws.dir, { extensionDevelopmentPath: ROOT, extensionTestsPath: index });
    try {
      const code = await cs.exitCode(120_000);
      assert.equal(code, 0, `extension host suite failed\n${cs.diagnostics()}`);
      t.diagnostic(
        `timings ms: ${cs.timings.install !== undefined ? `install ${cs.timings.install}, ` : ""}server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}`,
      );
    } finally {
      await cs.close();
      ws.dispose();
    }
  });

  test("train modAdd from its code lens, watch the chart, hover, stop", {
    skip: notReady ?? false,
    timeout: 300_000,
  }, async (t) => {
    await trainWatchHoverStop(t, { extensionDir: ROOT }, stopTitle());
  });

  test("the packaged .vsix installs and trains", { skip: notReady ?? false, timeout: 420_000 }, async (t) => {
    // Package this machine's target exactly as package.json's `package` script does (dist/ is
    // already built by the test build), into a temp dir so the repository's packages are left alone.
    const tmp = mkdtempSync(join(tmpdir(), "lm-e2e-vsix-"));
    try {
      const target = `${process.platform}-${process.arch}`;
      const vsix = join(tmp, `learning-mechanics-${target}.vsix`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [join(ROOT, "scripts", "package.mjs"), "--targets", target, "--out", tmp], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 180_000,
      });
      assert.equal(r.status, 0, `scripts/package.mjs exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
      assert.ok(existsSync(vsix), `vsce did not write ${vsix}`);
      t.diagnostic(`package ${since(t0)} ms, ${(statSync(vsix).size / 1e6).toFixed(1)} MB`);
      await trainWatchHoverStop(t, { vsix }, stopTitle());
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("a run written by a separate process appears in the Runs view and its panel", {
    skip: notReady ?? false,
    timeout: 300_000,
  }, async (t) => {
    const ws = workspaceCopy();
    // A small, fast system inside the workspace (12 evaluations in 60 steps).
    cpSync(join(ROOT, "test", "fixtures", "experiments", "tiny.experiment.ts"), join(ws.dir, "tiny.experiment.ts"));
    const runName = "cli-tinyAdd";
    const runDir = join(ws.dir, "runs", runName);
    // runs/ exists before the workbench opens. When it does not, the extension's watcher
    // (src/extension/watcher.ts) watches the parent, and on seeing runs/ appear re-creates its chokidar
    // watcher with ignoreInitial: writes during that re-scan are lost, and this sub-second run's final
    // run.json ("finished") was missed: the row stayed "running · step 60/60" for over 60 s.
    mkdirSync(join(ws.dir, "runs"));
    const cs = await startRig(ws.dir, { extensionDevelopmentPath: ROOT });
    try {
      // Open an experiment so the extension is surely active before the run appears.
      await cs.clickExplorerRow("grokking.experiment.ts");
      await cs.waitForCodeLens("▶ Train modAdd", 90_000);

      const tRun = performance.now();
      const cli = spawn(
        process.execPath,
        [
          join(ROOT, "dist", "trainer", "cli.js"),
          "train",
          join(ws.dir, "tiny.experiment.ts"),
          "--system",
          "tinyAdd",
          "--run-dir",
          runDir,
          "--backend",
          "wasm",
          "--steps",
          "60",
        ],
        {
          cwd: ws.dir,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let cliOut = "";
      cli.stdout.on("data", (d: Buffer) => (cliOut += d.toString()));
      cli.stderr.on("data", (d: Buffer) => (cliOut += d.toString()));
      // A cleared timer, not a sleep(): a pending 120 s timer would keep the test process alive.
      let killTimer: NodeJS.Timeout | undefined;
      const code = await new Promise<number | null>((resolveExit, reject) => {
        cli.once("exit", (c) => resolveExit(c));
        killTimer = setTimeout(() => {
          cli.kill("SIGKILL");
          reject(new Error(`the CLI trainer did not finish within 120 s\n${cliOut}`));
        }, 120_000);
      }).finally(() => clearTimeout(killTimer));
      assert.equal(code, 0, `CLI trainer exited ${code}\n${cliOut}`);
      const cliMs = since(tRun);
      const manifest = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as { status: string; system: string };
      assert.equal(manifest.system, "tinyAdd");

      // The Learning Mechanics activity-bar container and its Runs tree.
      const tView = performance.now();
      await cs.page
        .locator('.part.activitybar .action-item a[aria-label^="Learning Mechanics"]')
        .first()
        .click({ timeout: 30_000 });
      const pane = cs.page.locator('[id="workbench.view.extension.learningMechanics"]');
      await pane.waitFor({ state: "visible", timeout: 30_000 });
      const runRow = pane.locator(".monaco-list-row", { hasText: runName }).first();
      await runRow.waitFor({ state: "visible", timeout: 60_000 });
      // The CLI has exited, so the row must come to say how the run ended ("finished · step 60/60").
      const tStatus = performance.now();
      await pane
        .locator(".monaco-list-row", { hasText: `${runName}${manifest.status}` })
        .first()
        .waitFor({ state: "visible", timeout: 60_000 });
      const statusMs = since(tStatus);
      await pane
        .locator(".monaco-list-row", { hasText: "tinyAdd" })
        .first()
        .waitFor({ state: "visible", timeout: 10_000 });
      const rows = (await pane.locator(".monaco-list-row").allInnerTexts()).map((r) => r.replace(/\s+/g, " ").trim());
      assert.ok(
        rows.some((r) => r.includes("tiny.experiment.ts")),
        `Runs view rows: ${JSON.stringify(rows)}`,
      );
      assert.ok(
        rows.some((r) => r.startsWith("tinyAdd")),
        `Runs view rows: ${JSON.stringify(rows)}`,
      );
      assert.ok(
        rows.some((r) => r.includes(runName) && r.includes(manifest.status)),
        `Runs view rows: ${JSON.stringify(rows)}`,
      );
      const viewMs = since(tView);
      await cs.screenshot("extension-cli-run-view");

      // Let the tree settle before clicking: a click that lands while the view refreshes runs a
      // command handle the extension host has already disposed ("Actual command not found",
      // microsoft/vscode#173233). The workspace is trusted, so the run is analysed after it ends
      // and its row changes once per analysis: wait for that to end first.
      await waitFor(
        "the run's analysis to end",
        async () => {
          const text = (await runRow.innerText()).replace(/\s+/g, " ");
          const analysed = existsSync(join(runDir, "analyses")) && readdirSync(join(runDir, "analyses")).length > 0;
          return analysed && !/analysis queued|analysing/.test(text) ? text : undefined;
        },
        120_000,
        500,
      );
      const settle = await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_500, 60_000);

      // Its row opens the loss curves panel, which draws the run's metrics.
      const tPanel = performance.now();
      await runRow.click();
      const frame = await cs.webviewFrame(undefined, 60_000);
      await frame.locator("canvas").first().waitFor({ state: "visible", timeout: 30_000 });
      const ink = await waitFor(
        "the chart to draw the run's points",
        async () => {
          const n = await frame.evaluate<number>(INKED_PIXELS);
          return n > 500 ? n : undefined;
        },
        60_000,
        1_000,
      );
      const panelMs = since(tPanel);
      await sleep(500);
      await cs.screenshot("extension-cli-run-panel");
      t.diagnostic(
        `timings ms: ${cs.timings.install !== undefined ? `install ${cs.timings.install}, ` : ""}server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}, CLI run ${cliMs}, view shows run ${viewMs} (final status ${statusMs} after the row), panel drawn ${panelMs}; tree settled after ${settle.ms} ms (${settle.mutations} DOM mutations); inked pixels ${ink}; rows ${JSON.stringify(rows)}`,
      );
    } catch (e) {
      await cs.screenshot("extension-cli-run-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
      ws.dispose();
    }
  });
});

/** The palette title of the Stop command, from package.json. */
function stopTitle(): string {
  const stop = contributedCommands().find((c) => c.command === "learningMechanics.stop");
  return stop?.category !== undefined ? `${stop.category}: ${stop.title}` : (stop?.title ?? "Learning Mechanics: Stop");
}

/**
 * The user's path through a training run, for the extension in development mode from `extensionDir`
 * or installed from `vsix`: code lens → run folder + status bar → chart grows → hover says "step" →
 * palette Stop → run.json "stopped".
 */
async function trainWatchHoverStop(
  t: TestContext,
  install: { extensionDir: string } | { vsix: string },
  stopTitle: string,
): Promise<void> {
  const ws = workspaceCopy();
  const runsDir = join(ws.dir, "runs");
  const shot = (name: string): string => ("vsix" in install ? `extension-vsix-${name}` : `extension-${name}`);
  const cs =
    "vsix" in install
      ? await startRig(ws.dir, {}, install.vsix)
      : await startRig(ws.dir, { extensionDevelopmentPath: install.extensionDir });
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
    await waitFor(
      "a status bar item naming modAdd",
      async () => ((await cs.statusBarText()).includes("modAdd") ? true : undefined),
      30_000,
    );
    const startMs = since(tTrain);

    // The loss curves panel draws more as metrics arrive.
    const { before, grown } = await waitForGrowingChart(cs, { frameMs: 60_000, growMs: 90_000 });
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
    const status = await waitFor(
      "run.json status stopped",
      () => {
        const s = (JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as { status: string }).status;
        return s === "stopped" ? s : undefined;
      },
      60_000,
      500,
    );
    assert.equal(status, "stopped");
    t.diagnostic(
      `timings ms: ${cs.timings.install !== undefined ? `install ${cs.timings.install}, ` : ""}server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}, code lens ${lensMs}, training visible ${startMs}; hover "${hover.replace(/\s+/g, " ")}"`,
    );
  } catch (e) {
    await cs.screenshot(shot("failure")).catch(() => undefined);
    throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
  } finally {
    await cs.close();
    ws.dispose();
  }
}

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
