// e2e: the extension in Restricted Mode (an untrusted workspace: training refused with a reason,
// no trainer started, runs still viewable), and a loss-curves panel surviving a window reload
// (the WebviewPanelSerializer brings back the panel, its runs and its view settings).
import assert from "node:assert/strict";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { CodeServer } from "./codeServer";
import { since, sleep, waitFor } from "./codeServer";
import {
  clearNotifications,
  cliTrain,
  editorTabs,
  extensionNotReady,
  legend,
  lossCurvesFrame,
  openRunsView,
  RUNS_PANE,
  runsRow,
  runsRows,
  sidecarsIn,
  startDevRig,
  visibleNotifications,
  waitForInk,
  waitForQuietDom,
  withStaleCommandRetry,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: CodeServer[] = [];
after(async () => {
  for (const cs of live.splice(0)) await cs.close();
});

const TRUST_WARNING = /Training runs the code of the experiment file, so it needs a trusted workspace/;

describe("e2e: trust and restore", () => {
  test("untrusted workspace: Train explains why it is disabled, starts no trainer; the Runs view still lists runs", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async (t) => {
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const runs = join(ws.dir, "runs");
    mkdirSync(runs);
    const timings: Record<string, number> = {};
    let t0 = performance.now();
    await cliTrain(ws.dir, join(ws.dir, "tiny.experiment.ts"), "tinyAdd", join(runs, "earlier"), 10);
    timings["CLI run"] = since(t0);
    let cs: CodeServer | undefined;
    // Trainer processes seen at any poll while the test clicks Train (sampled every 100 ms).
    const seen = new Set<number>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (const pid of sidecarsIn(ws.dir)) seen.add(pid);
        await sleep(100);
      }
    })();
    try {
      t0 = performance.now();
      // Trust on, no startup prompt: a folder nobody trusted opens in Restricted Mode.
      cs = await startDevRig(ws.dir, {
        workspaceTrust: true,
        settings: { "security.workspace.trust.startupPrompt": "never", "security.workspace.trust.banner": "always" },
      });
      live.push(cs);
      timings["server + workbench"] = since(t0);
      await waitFor(
        "Restricted Mode in the status bar",
        async () => ((await cs!.statusBarText()).includes("Restricted Mode") ? true : undefined),
        30_000,
      );

      // The code lens is there (viewing works) and says, when clicked, why training is off.
      t0 = performance.now();
      await cs.openFile("tiny.experiment.ts");
      await cs.clickCodeLens("▶ Train tinyAdd", 90_000);
      const fromLens = await waitFor(
        "the trust warning",
        async () => (await visibleNotifications(cs!)).find((n) => TRUST_WARNING.test(n.text)),
        15_000,
        200,
      );
      assert.equal(fromLens.severity, "warning");
      assert.match(fromLens.text, /Runs can still be viewed/);
      assert.ok(
        await cs.page
          .locator(".notification-list-item .monaco-button", { hasText: "Manage Workspace Trust" })
          .first()
          .isVisible(),
        "the warning offers Manage Workspace Trust",
      );
      timings["code lens → warning"] = since(t0);
      await cs.screenshot("untrusted-codelens-warning");
      // The editor title's Train button is hidden in Restricted Mode (`isWorkspaceTrusted`).
      assert.equal(
        await cs.page.locator('.editor-actions .action-label[aria-label^="Train Model System"]').count(),
        0,
        "no Train button in the editor title",
      );

      // The palette command says the same.
      t0 = performance.now();
      // Cleared first, so the warning seen next is a new one.
      await clearNotifications(cs);
      await waitFor(
        "the first warning cleared",
        async () => ((await visibleNotifications(cs!)).some((n) => TRUST_WARNING.test(n.text)) ? undefined : true),
        10_000,
        200,
      );
      await cs.runCommand("Learning Mechanics: Train Model System…");
      await waitFor(
        "the trust warning again",
        async () => ((await visibleNotifications(cs!)).some((n) => TRUST_WARNING.test(n.text)) ? true : undefined),
        15_000,
        200,
      );
      timings["palette → warning"] = since(t0);

      // Nothing was started: no sidecar with this workspace as its cwd, no new run folder.
      await sleep(2_000);
      polling = false;
      await poller;
      assert.deepEqual([...seen], [], "no trainer process started");
      assert.deepEqual(readdirSync(runs), ["earlier"], "no run folder written");

      // Runs stay viewable: listed in the Runs view, and Open draws them.
      t0 = performance.now();
      await openRunsView(cs);
      await runsRow(cs, "earlier").waitFor({ state: "visible", timeout: 30_000 });
      const rows = await runsRows(cs);
      assert.ok(
        rows.some((r) => r.startsWith("earlier") && r.includes("finished · step 10/10")),
        `rows ${JSON.stringify(rows)}`,
      );
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      await withStaleCommandRetry(
        cs,
        () => runsRow(cs!, "earlier").click(),
        async () => (await editorTabs(cs!)).some((l) => l.includes("Loss curves · earlier")),
      );
      const frame = await lossCurvesFrame(cs, ["earlier"]);
      const ink = await waitForInk(frame);
      timings["Runs view + Open"] = since(t0);
      await cs.screenshot("untrusted-runs-view");
      t.diagnostic(`timings ms: ${JSON.stringify(timings)}; ink ${ink}; rows ${JSON.stringify(rows)}`);
    } catch (e) {
      await cs?.screenshot("untrusted-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      polling = false;
      await poller;
      await cs?.close();
      ws.dispose();
    }
  });

  test("a loss-curves panel is restored with its run and view settings after a window reload", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async (t) => {
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const runs = join(ws.dir, "runs");
    mkdirSync(runs);
    const timings: Record<string, number> = {};
    await cliTrain(ws.dir, join(ws.dir, "tiny.experiment.ts"), "tinyAdd", join(runs, "keep"), 20);
    let cs: CodeServer | undefined;
    try {
      let t0 = performance.now();
      cs = await startDevRig(ws.dir);
      live.push(cs);
      timings["server + workbench"] = since(t0);

      t0 = performance.now();
      await openRunsView(cs);
      await runsRow(cs, "keep").waitFor({ state: "visible", timeout: 60_000 });
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      await withStaleCommandRetry(
        cs,
        () => runsRow(cs!, "keep").click(),
        async () => (await editorTabs(cs!)).some((l) => l.includes("Loss curves · keep")),
      );
      let frame = await lossCurvesFrame(cs, ["keep"]);
      const inkBefore = await waitForInk(frame);
      // A view setting to survive the reload: log y, saved through the page's stateChanged message.
      const logY = `document.getElementById("logY").checked === true`;
      assert.equal(await frame.evaluate<boolean>(logY), false, "log y starts off");
      await frame.locator("#logY").click();
      await waitFor("log y on", async () => ((await frame.evaluate<boolean>(logY)) ? true : undefined), 10_000, 100);
      timings["open + log y"] = since(t0);
      await cs.screenshot("restore-before");
      // The host persists the state in workspaceState; give the write a moment before the reload.
      await sleep(1_000);

      t0 = performance.now();
      // The user's reload (the workbench saves its editors, then reloads the page), not a bare
      // page.reload(): that tears the page down before the browser storage is written.
      const reloaded = cs.page.waitForEvent("framenavigated", {
        predicate: (f) => f === cs!.page.mainFrame(),
        timeout: 60_000,
      });
      await cs.runCommand("Developer: Reload Window");
      await reloaded;
      await cs.page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 60_000 });
      await waitFor(
        "the restored panel's tab",
        async () => ((await editorTabs(cs!)).some((l) => l.includes("Loss curves · keep")) ? true : undefined),
        60_000,
      );
      timings["reload → tab"] = since(t0);
      const tab = cs.page.locator('.tab[aria-label*="Loss curves · keep"]').first();
      await tab.click();
      frame = await lossCurvesFrame(cs, ["keep"]);
      const restored = await legend(frame);
      assert.deepEqual(restored, [{ label: "keep", status: "finished" }]);
      const inkAfter = await waitForInk(frame);
      assert.equal(await frame.evaluate<boolean>(logY), true, "log y is still on after the reload");
      timings["reload → chart drawn"] = since(t0);
      // One panel for the run, not a revived one plus a fresh one.
      assert.equal((await editorTabs(cs)).filter((l) => l.includes("Loss curves · keep")).length, 1);
      await cs.screenshot("restore-after");
      t.diagnostic(`timings ms: ${JSON.stringify(timings)}; ink before ${inkBefore}, after ${inkAfter}`);
    } catch (e) {
      await cs?.screenshot("restore-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      await cs?.close();
      ws.dispose();
    }
  });
});
