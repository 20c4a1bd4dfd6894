// e2e: a sweep folder in the workspace (sweep.json written by the test, three of its four points
// trained by the real CLI trainer, the fourth pending) shows in the Runs view as
// "tinyAdd sweep · 3/4 finished" with its points (values + seed) as children, not under the
// system; a click opens the sweep panel, which draws the points and says one has no value yet.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { SWEEP_FORMAT, type SweepManifest, sweepRunName } from "../../src/shared/sweepFormat";
import type { CodeServer } from "./codeServer";
import { since, waitFor } from "./codeServer";
import {
  cliTrain,
  extensionNotReady,
  openRunsView,
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

const LR = "optimizer.lr";

describe("e2e: the sweep panel", () => {
  test("a sweep folder in the Runs view, its points, and its panel drawing them", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async () => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const file = join(ws.dir, "tiny.experiment.ts");
    const sweepDir = join(ws.dir, "runs", "tinyAdd-sweep-20260101-000000");
    mkdirSync(sweepDir, { recursive: true });
    const values = [0.003, 0.03];
    const manifest: SweepManifest = {
      format: SWEEP_FORMAT,
      version: 1,
      experiment: file,
      system: "tinyAdd",
      createdAt: "2026-01-01T00:00:00.000Z",
      fields: [LR],
      mode: "grid",
      seeds: [0, 1],
      points: [0, 1, 2, 3].map((index) => ({
        index,
        values: { [LR]: values[index >> 1]! },
        seed: index & 1,
        run: sweepRunName(index),
        status: index < 3 ? "finished" : "pending",
      })),
      launcher: { kind: "local", parallel: 2 },
    };
    writeFileSync(join(sweepDir, "sweep.json"), JSON.stringify(manifest));
    let t0 = performance.now();
    // Different lengths, so the two runs at lr = 0.003 end at different losses (a spread to draw).
    await Promise.all(
      [0, 1, 2].map((i) => cliTrain(ws.dir, file, "tinyAdd", join(sweepDir, sweepRunName(i)), 10 + 20 * i)),
    );
    timings["3 CLI runs"] = since(t0);
    let cs: CodeServer | undefined;
    try {
      t0 = performance.now();
      cs = await startDevRig(ws.dir);
      live.push(cs);
      timings["server + workbench"] = since(t0);

      t0 = performance.now();
      await openRunsView(cs);
      const sweepRow = runsRow(cs, "tinyAdd sweep · 3/4 finished");
      await sweepRow.waitFor({ state: "visible", timeout: 60_000 });
      timings["view lists the sweep"] = since(t0);
      // Expanded: its four points, labelled by their values and seeds; the runs are not also
      // listed under the experiment's system.
      await sweepRow.locator(".monaco-tl-twistie").click();
      await runsRow(cs, "lr=0.03 · seed 1").waitFor({ state: "visible", timeout: 30_000 });
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      const rows = await runsRows(cs);
      for (const label of ["lr=0.003 · seed 0", "lr=0.003 · seed 1", "lr=0.03 · seed 0", "lr=0.03 · seed 1"])
        assert.ok(
          rows.some((r) => r.startsWith(label)),
          `a row for ${label} in ${JSON.stringify(rows)}`,
        );
      assert.ok(
        rows.some((r) => r.startsWith("lr=0.03 · seed 1") && r.includes("pending")),
        `the untrained point is pending: ${JSON.stringify(rows)}`,
      );
      assert.ok(!rows.some((r) => r.startsWith("tiny.experiment.ts")), `no experiment group: ${JSON.stringify(rows)}`);

      // A click on the sweep opens its panel, which draws the three trained points.
      t0 = performance.now();
      const c = cs;
      await withStaleCommandRetry(
        c,
        () => sweepRow.locator(".label-name").click(),
        async () => (await c.page.locator('.tab[aria-label*="Sweep"]').count()) > 0,
      );
      const frame = await cs.webviewFrame("Sweep");
      await waitFor(
        "the sweep panel's summary",
        async () =>
          (await frame.locator("#summary").textContent()) === "tinyAdd sweep · 3/4 finished · local" ? true : undefined,
        60_000,
        300,
      );
      // The points' values are read in the background and arrive as `point` messages.
      await waitFor(
        "every trained point's value in the panel",
        async () =>
          /1 of 4 points have no final test_loss yet/.test((await frame.locator("#note").textContent()) ?? "")
            ? true
            : undefined,
        60_000,
        300,
      );
      const ink = await waitForInk(frame, 2000);
      timings["panel draws"] = since(t0);
      assert.equal(await frame.locator("#x").inputValue(), LR);
      assert.equal(await frame.locator("#y").inputValue(), "final:test_loss");
      assert.ok(ink > 2000, `the chart has ink (${ink} pixels)`);
      await cs.screenshot("sweep-panel");
      console.log(`sweep panel e2e timings (ms): ${JSON.stringify(timings)}`);
    } finally {
      ws.dispose();
    }
  });
});
