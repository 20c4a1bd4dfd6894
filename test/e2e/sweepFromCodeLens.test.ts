// e2e: the path a user takes to run a sweep. An experiment declaring a sweep of two points
// (test/fixtures/experiments/tinySweep.experiment.ts) shows `▶ Sweep (2 runs)`; a click runs the
// real `lm sweep` through the extension (the workspace is trusted), the Runs view follows the sweep
// folder to "tinySweep sweep · 2/2 finished", and the sweep panel opened from it draws both points.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { findOnPath } from "../../src/shared/findOnPath";
import { parseSweepManifest } from "../../src/shared/sweepFormat";
import type { CodeServer } from "./codeServer";
import { since, waitFor } from "./codeServer";
import {
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

const FILE = "tinySweep.experiment.ts";

describe("e2e: a sweep run from its code lens", () => {
  test("▶ Sweep (2 runs) runs lm sweep; the Runs view shows it finished; its panel draws both points", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async () => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy([FILE]);
    const runsRoot = join(ws.dir, "runs");
    let cs: CodeServer | undefined;
    try {
      let t0 = performance.now();
      cs = await startDevRig(ws.dir, { settings: { "learningMechanics.slurm.partition": "debug" } });
      live.push(cs);
      timings["server + workbench"] = since(t0);

      t0 = performance.now();
      await cs.openFile(FILE);
      // The Train lens comes from the file's scan; the Sweep lens beside it from the trainer's `list`.
      await cs.waitForCodeLens("▶ Train tinySweep", 90_000);
      const lenses = cs.page.locator(".codelens-decoration a");
      await waitFor(
        "the ▶ Sweep (2 runs) lens",
        async () => ((await lenses.allTextContents()).includes("▶ Sweep (2 runs)") ? true : undefined),
        60_000,
        300,
      ).catch(async (e: unknown) => {
        throw new Error(`${String(e)}; the lenses: ${JSON.stringify(await lenses.allTextContents())}`);
      });
      await cs.clickCodeLens("▶ Sweep (2 runs)");
      if (findOnPath("sbatch", process.env) !== undefined) {
        // sbatch on PATH: where it trains is asked; the Slurm row shows the settings' options.
        const rows = cs.page.locator(".quick-input-widget .monaco-list-row");
        await rows.first().waitFor({ state: "visible", timeout: 20_000 });
        const texts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, " "));
        assert.equal(texts.length, 2, JSON.stringify(texts));
        assert.match(texts[0]!, /^This machine/);
        assert.match(texts[1]!, /^Slurm.*--partition debug/);
        await rows.filter({ hasText: "This machine" }).first().click();
      }
      timings["code lens"] = since(t0);

      // The launcher names its sweep folder under the workspace's runs root; both points train there.
      t0 = performance.now();
      const sweepDir = await waitFor(
        "the sweep folder under runs/",
        async () => {
          if (!existsSync(runsRoot)) return undefined;
          const name = readdirSync(runsRoot).find((n) => /^tinySweep-sweep-\d{8}-\d{6}$/.test(n));
          return name === undefined ? undefined : join(runsRoot, name);
        },
        60_000,
        300,
      );
      await openRunsView(cs);
      const sweepRow = runsRow(cs, "tinySweep sweep · 2/2 finished");
      await sweepRow.waitFor({ state: "visible", timeout: 90_000 });
      timings["sweep trained, view says finished"] = since(t0);
      const parsed = parseSweepManifest(readFileSync(join(sweepDir, "sweep.json"), "utf8"));
      assert.ok(parsed.ok, `sweep.json is valid: ${parsed.ok ? "" : parsed.problems.join("; ")}`);
      assert.equal(parsed.manifest.system, "tinySweep");
      assert.deepEqual(
        parsed.manifest.points.map((p) => p.values),
        [{ "optimizer.lr": 0.01 }, { "optimizer.lr": 0.1 }],
      );
      for (const p of parsed.manifest.points) {
        const run = JSON.parse(readFileSync(join(sweepDir, p.run, "run.json"), "utf8")) as { status?: string };
        assert.equal(run.status, "finished", `point ${p.index}'s run.json`);
      }

      // Expanded: the two points, by value and seed.
      await sweepRow.locator(".monaco-tl-twistie").click();
      await runsRow(cs, "lr=0.1 · seed 0").waitFor({ state: "visible", timeout: 30_000 });
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
      const rows = await runsRows(cs);
      for (const label of ["lr=0.01 · seed 0", "lr=0.1 · seed 0"])
        assert.ok(
          rows.some((r) => r.startsWith(label)),
          `a row for ${label} in ${JSON.stringify(rows)}`,
        );

      // A click on the sweep opens its panel: both points have their final test loss, drawn.
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
          (await frame.locator("#summary").textContent()) === "tinySweep sweep · 2/2 finished · local"
            ? true
            : undefined,
        60_000,
        300,
      );
      const ink = await waitForInk(frame, 2000);
      timings["panel draws"] = since(t0);
      assert.equal(await frame.locator("#x").inputValue(), "optimizer.lr");
      assert.equal(await frame.locator("#y").inputValue(), "final:test_loss");
      const note = (await frame.locator("#note").textContent()) ?? "";
      assert.doesNotMatch(note, /no final test_loss/, `every point has its value: ${note}`);
      assert.ok(ink > 2000, `the chart has ink (${ink} pixels)`);
      await cs.screenshot("sweep-from-code-lens");
      console.log(`sweep from code lens e2e timings (ms): ${JSON.stringify(timings)}`);
    } finally {
      ws.dispose();
    }
  });
});
