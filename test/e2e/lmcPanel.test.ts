// e2e: two runs of a small system trained by the real CLI (wasm), `lm lmc` between them; the
// run's context menu in the Runs view opens the mode-connectivity panel, which lists the
// interpolation and draws it; a second `lm lmc` while the panel is open appears without reopening.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { CodeServer } from "./codeServer";
import { since, waitFor } from "./codeServer";
import {
  CLI,
  cliTrain,
  contextMenuAction,
  extensionNotReady,
  openRunsView,
  RUNS_PANE,
  runsRow,
  startDevRig,
  waitForInk,
  waitForQuietDom,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const x of live.splice(0)) await x.close();
});

/** `lm lmc` with the real CLI; its stdout (the file written) or a failure with what it said. */
function lmc(cwd: string, args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, "lmc", ...args, "--backend", "wasm", "--points", "5"], {
    cwd,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `lm lmc ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout.trim();
}

describe("e2e: the mode-connectivity panel", () => {
  test("opened from a run's context menu, it shows the run's interpolation and a new one live", {
    skip: notReady ?? false,
    timeout: 240_000,
  }, async () => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const file = join(ws.dir, "tiny.experiment.ts");
    const runA = join(ws.dir, "runs", "tiny-a");
    const runB = join(ws.dir, "runs", "tiny-b");
    let t0 = performance.now();
    await Promise.all([cliTrain(ws.dir, file, "tinyAdd", runA, 60), cliTrain(ws.dir, file, "tinyAdd", runB, 20)]);
    timings["2 CLI runs"] = since(t0);
    t0 = performance.now();
    const first = lmc(ws.dir, [runA, runB]);
    timings["lm lmc"] = since(t0);
    assert.match(first, /tiny-a[\\/]lmc[\\/]60--.*--20\.json$/);
    let cs: CodeServer | undefined;
    try {
      t0 = performance.now();
      cs = await startDevRig(ws.dir);
      live.push(cs);
      timings["server + workbench"] = since(t0);

      t0 = performance.now();
      const c = cs;
      let frame: Awaited<ReturnType<CodeServer["webviewFrame"]>> | undefined;
      for (let attempt = 1; frame === undefined; attempt++) {
        await openRunsView(c);
        await runsRow(c, "tiny-a").waitFor({ state: "visible", timeout: 60_000 });
        await waitForQuietDom(c, `${RUNS_PANE} .monaco-list`, 800, 30_000);
        await contextMenuAction(c, runsRow(c, "tiny-a"), "Open Mode Connectivity Panel…");
        try {
          frame = await c.webviewFrame("Mode connectivity", attempt === 1 ? 20_000 : 60_000);
        } catch (e) {
          if (attempt >= 2) throw e;
        }
      }
      const rows = async () => (await frame!.locator("#rows tr td:first-child").allTextContents()).map((s) => s.trim());
      const one = await waitFor(
        "the interpolation in the table",
        async () => ((await rows()).length === 1 ? await rows() : undefined),
        60_000,
        300,
      );
      assert.match(one[0]!, /^tiny-a @ 60 ↔ tiny-b @ 20$/);
      assert.match((await frame.locator("#rows tr td").nth(1).textContent()) ?? "", /^lmc\/60--.*--20\.json$/);
      const ink = await waitForInk(frame, 1500);
      timings["panel draws"] = since(t0);
      assert.ok(ink > 1500, `the charts have ink (${ink} pixels)`);
      assert.deepEqual(
        await frame.locator(".lr-cell").evaluateAll((cells) => cells.map((e) => e.getAttribute("data-chart"))),
        ["train_error", "test_error"],
      );

      // Live: another interpolation written while the panel is open appears in it.
      t0 = performance.now();
      lmc(ws.dir, [runA, runA]);
      await waitFor(
        "the new interpolation in the panel",
        async () => ((await rows()).length === 2 ? true : undefined),
        60_000,
        300,
      );
      timings["new file shown"] = since(t0);
      assert.deepEqual((await rows()).sort(), ["tiny-a @ 60 ↔ tiny-a @ 60", "tiny-a @ 60 ↔ tiny-b @ 20"]);
      // The self-interpolation is flat: its barriers are exactly 0.
      const selfRow = frame.locator("#rows tr", { hasText: "tiny-a @ 60 ↔ tiny-a @ 60" });
      assert.deepEqual(await selfRow.locator("td.num").allTextContents(), ["0", "0"]);
      await cs.screenshot("lmc-panel");
      console.log(`lmc panel e2e timings (ms): ${JSON.stringify(timings)}`);
    } finally {
      ws.dispose();
    }
  });
});
