// e2e: "Branch from Checkpoint…" from a run's context menu in the Runs view: the step picked from
// the run's checkpoints, a typed data seed; the real `lm branch` writes the branch beside its
// parent (branchOf: step 20, data seed 5), and the Runs view shows it one level under its parent.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { CodeServer } from "./codeServer";
import { since, sleep, waitFor } from "./codeServer";
import {
  cliTrain,
  contextMenuAction,
  pickQuickItem,
  extensionNotReady,
  openRunsView,
  RUNS_PANE,
  rowLevel,
  runsRow,
  startDevRig,
  waitForQuietDom,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const x of live.splice(0)) await x.close();
});

describe("e2e: Branch from Checkpoint…", () => {
  test("a run's context menu → step 20, data seed 5 → the branch under its parent", {
    skip: notReady ?? false,
    timeout: 240_000,
  }, async () => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const file = join(ws.dir, "tiny.experiment.ts");
    const runs = join(ws.dir, "runs");
    const parent = join(runs, "tiny-a");
    let t0 = performance.now();
    await cliTrain(ws.dir, file, "tinyAdd", parent, 60);
    timings["CLI run"] = since(t0);
    let cs: CodeServer | undefined;
    try {
      t0 = performance.now();
      cs = await startDevRig(ws.dir, { settings: { "learningMechanics.backend": "wasm" } });
      live.push(cs);
      timings["server + workbench"] = since(t0);

      t0 = performance.now();
      await openRunsView(cs);
      const parentRow = runsRow(cs, "tiny-a");
      await parentRow.waitFor({ state: "visible", timeout: 60_000 });
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 800, 30_000);
      await contextMenuAction(cs, parentRow, "Branch from Checkpoint…");
      await pickQuickItem(cs, "step 20");
      await pickQuickItem(cs, "Data seed…");
      const input = cs.page.locator(".quick-input-widget input");
      await input.waitFor({ state: "visible", timeout: 10_000 });
      await input.fill("x");
      await cs.page
        .locator(".quick-input-widget", { hasText: "a data seed is a whole number" })
        .waitFor({ state: "visible", timeout: 10_000 });
      await input.fill("5");
      await sleep(200);
      await cs.page.keyboard.press("Enter");

      const branchDir = await waitFor(
        "the branch's run folder, finished",
        async () => {
          for (const name of existsSync(runs) ? readdirSync(runs) : []) {
            if (name === "tiny-a") continue;
            const m = join(runs, name, "run.json");
            if (!existsSync(m)) continue;
            const status = (JSON.parse(readFileSync(m, "utf8")) as { status: string }).status;
            if (status === "finished") return join(runs, name);
          }
          return undefined;
        },
        120_000,
        500,
      );
      timings["lm branch"] = since(t0);
      const manifest = JSON.parse(readFileSync(join(branchDir, "run.json"), "utf8")) as { branchOf: unknown };
      assert.deepEqual(manifest.branchOf, { run: "../tiny-a", runId: "tiny-a", step: 20, change: { dataSeed: 5 } });

      const name = branchDir.slice(runs.length + 1);
      const branchRow = runsRow(cs, name);
      await waitFor(
        "the branch nested under its parent",
        async () => {
          if ((await parentRow.getAttribute("aria-expanded")) === "false")
            await parentRow.locator(".monaco-tl-twistie").click();
          return (await branchRow.count()) > 0 && (await branchRow.isVisible()) ? true : undefined;
        },
        60_000,
        500,
      );
      assert.equal(await rowLevel(branchRow), (await rowLevel(parentRow)) + 1, "one level under its parent");
      await cs.screenshot("branch-command");
      console.log(`branch command e2e timings (ms): ${JSON.stringify(timings)}`);
    } finally {
      ws.dispose();
    }
  });
});
