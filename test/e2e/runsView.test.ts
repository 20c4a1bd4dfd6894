// e2e: the Runs view's actions on runs written by the real CLI trainer before the workbench opens:
// the experiment → system → run tree, Open (inline action), Reveal Run Folder, Delete (modal:
// Cancel keeps, Delete removes from disk and view) and Compare Runs on a two-run selection.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { CodeServer } from "./codeServer";
import { since, sleep, waitFor } from "./codeServer";
import {
  cliTrain,
  contextMenuAction,
  editorTabs,
  extensionNotReady,
  legend,
  lossCurvesFrame,
  modalDialog,
  notifications,
  openRunsView,
  rowLevel,
  RUNS_PANE,
  runsRow,
  runsRows,
  startDevRig,
  waitForInk,
  waitForQuietDom,
  withStaleCommandRetry,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const x of live.splice(0)) await x.close();
});

describe("e2e: the Runs view", () => {
  test("runs tree, Open, Reveal Run Folder, Delete (cancel, confirm), Compare Runs", {
    skip: notReady ?? false,
    timeout: 240_000,
  }, async (t) => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const runs = join(ws.dir, "runs");
    mkdirSync(runs);
    const file = join(ws.dir, "tiny.experiment.ts");
    // Three short runs, trained at once; two of one system (compared), one of another (deleted).
    let t0 = performance.now();
    await Promise.all([
      cliTrain(ws.dir, file, "tinyAdd", join(runs, "alpha"), 10),
      cliTrain(ws.dir, file, "tinyAdd", join(runs, "bravo"), 10),
      cliTrain(ws.dir, file, "tinyRegression", join(runs, "charlie"), 10),
    ]);
    timings["3 CLI runs"] = since(t0);
    let cs: CodeServer | undefined;
    try {
      t0 = performance.now();
      cs = await startDevRig(ws.dir);
      live.push(cs);
      timings["server + workbench"] = since(t0);
      const page = cs.page;

      // experiment → system → run, newest run first within a system.
      t0 = performance.now();
      await openRunsView(cs);
      await runsRow(cs, "charlie").waitFor({ state: "visible", timeout: 60_000 });
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      const rows = await runsRows(cs);
      timings["view lists runs"] = since(t0);
      const labels = await page.locator(`${RUNS_PANE} .monaco-list-row .label-name`).allInnerTexts();
      const startedAt = (id: string): number =>
        Date.parse((JSON.parse(readFileSync(join(runs, id, "run.json"), "utf8")) as { startedAt: string }).startedAt);
      const addOrder = ["alpha", "bravo"].sort((a, b) => startedAt(b) - startedAt(a) || b.localeCompare(a));
      assert.deepEqual(
        labels,
        ["tiny.experiment.ts", "tinyAdd", ...addOrder, "tinyRegression", "charlie"],
        `rows ${JSON.stringify(rows)}`,
      );
      assert.deepEqual(
        await Promise.all(labels.map((l) => rowLevel(runsRow(cs!, l)))),
        [1, 2, 3, 3, 2, 3],
        "aria-level of experiment, system, run rows",
      );
      assert.ok(
        rows.some((r) => r.startsWith("tinyAdd") && r.includes("2 runs")),
        `rows ${JSON.stringify(rows)}`,
      );
      assert.ok(
        rows.some((r) => r.startsWith("charlie") && r.includes("finished · step 10/10")),
        `rows ${JSON.stringify(rows)}`,
      );
      await cs.screenshot("runs-view-tree");

      // Open: the row's inline action opens the loss-curves panel of that run.
      t0 = performance.now();
      const alpha = runsRow(cs, "alpha");
      const openAttempts = await withStaleCommandRetry(
        cs,
        async () => {
          await alpha.hover();
          await alpha.locator('.actions .action-label[aria-label^="Open Run"]').first().click();
        },
        async () => (await editorTabs(cs!)).some((l) => l.includes("Loss curves · alpha")),
      );
      const alphaFrame = await lossCurvesFrame(cs, ["alpha"]);
      assert.deepEqual(await legend(alphaFrame), [{ label: "alpha", status: "finished" }]);
      const alphaInk = await waitForInk(alphaFrame);
      timings["Open → chart drawn"] = since(t0);
      await cs.screenshot("runs-view-open");

      // Reveal Run Folder: the folder is in the workspace, so the Explorer reveals and selects it.
      t0 = performance.now();
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      await contextMenuAction(cs, runsRow(cs, "bravo"), "Reveal Run Folder");
      const explorerRow = page
        .locator(".explorer-folders-view .monaco-list-row.selected", { hasText: "bravo" })
        .first();
      await explorerRow.waitFor({ state: "visible", timeout: 15_000 });
      // A single-folder workspace has no root row: runs/ is level 1, expanded to show bravo at level 2.
      assert.equal(await explorerRow.getAttribute("aria-level"), "2", "runs/bravo sits at level 2 of the Explorer");
      const runsFolderRow = page
        .locator('.explorer-folders-view .monaco-list-row[aria-level="1"]', { hasText: /^\s*runs\s*$/ })
        .first();
      assert.equal(
        await runsFolderRow.getAttribute("aria-expanded"),
        "true",
        "the Explorer expanded runs/ to reveal bravo",
      );
      await sleep(500);
      const afterReveal = await notifications(cs);
      assert.deepEqual(
        afterReveal.filter((n) => n.severity === "error"),
        [],
        "no error notification after Reveal Run Folder",
      );
      timings["Reveal Run Folder"] = since(t0);
      await cs.screenshot("runs-view-reveal");

      // Delete asks first: Cancel keeps the folder and the row.
      t0 = performance.now();
      await openRunsView(cs);
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      await contextMenuAction(cs, runsRow(cs, "charlie"), "Delete Run");
      let dialog = await modalDialog(cs);
      assert.match(dialog.text, /Delete run charlie\?/);
      assert.ok(
        dialog.buttons.includes("Delete") && dialog.buttons.includes("Cancel"),
        `dialog buttons ${JSON.stringify(dialog.buttons)}`,
      );
      await cs.screenshot("runs-view-delete-confirm");
      await dialog.press("Cancel");
      await sleep(1_000);
      assert.ok(existsSync(join(runs, "charlie", "run.json")), "Cancel keeps runs/charlie");
      assert.ok(await runsRow(cs, "charlie").isVisible(), "Cancel keeps the charlie row");
      timings["Delete → Cancel"] = since(t0);

      // … and Delete removes it from disk and from the view (its system row goes with it).
      t0 = performance.now();
      await contextMenuAction(cs, runsRow(cs, "charlie"), "Delete Run");
      dialog = await modalDialog(cs);
      await dialog.press("Delete");
      await waitFor(
        "runs/charlie to be deleted",
        () => (existsSync(join(runs, "charlie")) ? undefined : true),
        15_000,
        100,
      );
      await runsRow(cs, "charlie").waitFor({ state: "detached", timeout: 15_000 });
      await runsRow(cs, "tinyRegression").waitFor({ state: "detached", timeout: 15_000 });
      assert.ok(
        existsSync(join(runs, "alpha", "run.json")) && existsSync(join(runs, "bravo", "run.json")),
        "the other runs stay",
      );
      const afterDelete = await notifications(cs);
      assert.deepEqual(
        afterDelete.filter((n) => n.severity === "error"),
        [],
        "no error notification after Delete",
      );
      timings["Delete → confirm"] = since(t0);

      // Compare Runs on a two-run selection: one panel, both runs in its legend.
      t0 = performance.now();
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      const title = "Loss curves · 2 runs";
      const compareAttempts = await withStaleCommandRetry(
        cs,
        async () => {
          await runsRow(cs!, "alpha").click();
          await runsRow(cs!, "bravo").click({ modifiers: ["Control"] });
          await contextMenuAction(cs!, runsRow(cs!, "bravo"), "Compare Runs");
        },
        async () => (await editorTabs(cs!)).some((l) => l.includes(title)),
      );
      const tabs = await editorTabs(cs);
      assert.equal(tabs.filter((l) => l.includes(title)).length, 1, `one compare panel: ${JSON.stringify(tabs)}`);
      const frame = await lossCurvesFrame(cs, ["alpha", "bravo"]);
      const compared = await legend(frame);
      assert.deepEqual(compared.map((l) => l.label).sort(), ["alpha", "bravo"]);
      assert.deepEqual(
        compared.map((l) => l.status),
        ["finished", "finished"],
      );
      const ink = await waitForInk(frame);
      timings["Compare Runs → chart drawn"] = since(t0);
      await cs.screenshot("runs-view-compare");
      t.diagnostic(
        `timings ms: ${JSON.stringify(timings)}; server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}; attempts: open ${openAttempts}, compare ${compareAttempts}; ink alpha ${alphaInk}, compare ${ink}`,
      );
    } catch (e) {
      await cs?.screenshot("runs-view-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      await cs?.close();
      ws.dispose();
    }
  });
});
