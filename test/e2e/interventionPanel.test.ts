// e2e: the loop of docs/interventions.md "Intervene and check" in a real VS Code. A 12-step linear
// regression (test/fixtures/experiments/intervene.experiment.ts) trained and TracIn-analysed by the
// real CLI; its Influence panel from the Runs view; a clicked cell → "Remove and retrain…" → the
// checkpoint (step 2) and "Remove" picked → the real `lm intervene` trains the branch and writes
// intervention.json → "Compare" in the notification opens the intervention panel, whose charts draw
// (inked pixels of the change chart and the overlaid curves) and whose verdict is the file's.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, describe, test } from "node:test";
import type { Frame } from "playwright-core";
import type { CodeServer } from "./codeServer";
import { since, sleep, waitFor } from "./codeServer";
import {
  CLI,
  cliTrain,
  contextMenuAction,
  pickQuickItem,
  contextMenuLabels,
  extensionNotReady,
  inkedPixels,
  openRunsView,
  RUNS_PANE,
  runsRow,
  startDevRig,
  visibleNotifications,
  waitForQuietDom,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const x of live.splice(0)) await x.close();
});

/** `lm ARGS…` with the real CLI (wasm), to the end. */
function lm(cwd: string, args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args, "--backend", "wasm"], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`lm ${args[0]} exited ${code}\n${out}`)))),
  );
}

/** The content frame of the visible webview that has `selector` (each page has its own element). */
async function frameWith(cs: CodeServer, selector: string, timeoutMs = 60_000): Promise<Frame> {
  return waitFor(
    `a webview with ${selector}`,
    async () => {
      for (const outer of await cs.page.locator("iframe.webview.ready").elementHandles()) {
        if (!(await outer.isVisible())) continue;
        const inner = await (await outer.contentFrame())?.$("iframe#active-frame");
        const frame = await inner?.contentFrame();
        if (frame && (await frame.$(selector)) !== null) return frame;
      }
      return undefined;
    },
    timeoutMs,
    300,
  );
}

describe("e2e: intervene and check", () => {
  test("Influence panel → Remove and retrain… → the branch trains → Compare opens the intervention panel, which draws", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async () => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy(["intervene.experiment.ts"]);
    const file = join(ws.dir, "intervene.experiment.ts");
    const runs = join(ws.dir, "runs");
    const parent = join(runs, "linreg-a");
    let t0 = performance.now();
    await cliTrain(ws.dir, file, "linreg", parent, 12);
    await lm(ws.dir, ["analyze", parent, "--only", "tracin", "--run-experiment"]);
    timings["CLI run + TracIn"] = since(t0);
    let cs: CodeServer | undefined;
    try {
      t0 = performance.now();
      cs = await startDevRig(ws.dir, {
        settings: { "learningMechanics.backend": "wasm", "learningMechanics.autoAnalyze": "off" },
      });
      live.push(cs);
      timings["server + workbench"] = since(t0);

      t0 = performance.now();
      await openRunsView(cs);
      const row = runsRow(cs, "linreg-a");
      await row.waitFor({ state: "visible", timeout: 60_000 });
      await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 800, 30_000);
      await contextMenuAction(cs, row, "Open Influence Panel…");
      const inf = await frameWith(cs, "#heatmap");
      await waitFor(
        "the heatmap to draw",
        async () => ((await inf.evaluate<number>(inkedPixels("#heatmap"))) > 2_000 ? true : undefined),
        30_000,
        250,
      );
      // A cell in the middle of the heatmap (any example, a TracIn step): the selection the
      // branch's latest checkpoint is bounded by.
      const box = (await inf.locator("#heatmap").boundingBox())!;
      await inf.page().mouse.click(box.x + 64 + (box.width - 78) * 0.9, box.y + 4 + (box.height - 26) * 0.5);
      await inf.locator("#sideExample").waitFor({ state: "visible", timeout: 10_000 });
      timings["Influence panel"] = since(t0);

      t0 = performance.now();
      await inf.locator("#intervene").click();
      await pickQuickItem(cs, "step 2");
      await pickQuickItem(cs, "Remove");
      const compare = cs.page.locator(".notification-list-item .monaco-button", { hasText: "Compare" }).first();
      await compare.waitFor({ state: "visible", timeout: 90_000 });
      timings["lm intervene"] = since(t0);
      const branchDir = readdirSync(runs)
        .map((n) => join(runs, n))
        .find((d) => d !== parent && existsSync(join(d, "intervention.json")));
      assert.ok(branchDir, "the branch beside its parent, with intervention.json");
      const manifest = JSON.parse(readFileSync(join(branchDir, "run.json"), "utf8")) as {
        branchOf: { runId: string; step: number; change: { kind: string; action: { kind: string } } };
      };
      assert.equal(manifest.branchOf.runId, "linreg-a");
      assert.equal(manifest.branchOf.step, 2);
      assert.deepEqual(manifest.branchOf.change.action, { kind: "remove" });
      const sentence = (await visibleNotifications(cs)).find((n) => /was predicted by TracIn/.test(n.text));
      assert.ok(sentence, "the CLI's sentence in the notification");

      t0 = performance.now();
      await compare.click();
      const cmp = await frameWith(cs, "#chart-change");
      const ink = await waitFor(
        "the change chart to draw",
        async () => {
          const n = await cmp.evaluate<number>(inkedPixels("#chart-change"));
          return n > 1_000 ? n : undefined;
        },
        30_000,
        250,
      );
      const curveInk = await cmp.evaluate<number>(inkedPixels("#chart-query_loss"));
      assert.ok(curveInk > 1_000, `the query loss of parent and branch drawn (${curveInk} inked pixels)`);
      assert.match((await cmp.locator("#title").innerText()).trim(), /against its parent linreg-a$/);
      const sentences = await cmp.locator("#sentences li").allInnerTexts();
      assert.match(
        sentences[0] ?? "",
        /^At step 12, with this example removed, the query loss \(.+\) is (higher|lower) than the parent's/,
      );
      assert.match(sentences[1] ?? "", /^TracIn predicted [+−]/);
      assert.equal(await cmp.locator("#panelError").isHidden(), true, "no problem reading the files");
      timings["intervention panel"] = since(t0);
      await sleep(300);
      await cs.screenshot("intervention-panel");

      // Compare with Parent is offered on the branch's row only (the branch is nested under its parent).
      const branchRow = runsRow(cs, basename(branchDir));
      await waitFor(
        "the branch nested under its parent",
        async () => {
          if ((await row.getAttribute("aria-expanded")) === "false") await row.locator(".monaco-tl-twistie").click();
          return (await branchRow.count()) > 0 && (await branchRow.isVisible()) ? true : undefined;
        },
        30_000,
        500,
      );
      assert.ok((await contextMenuLabels(cs, branchRow)).includes("Compare with Parent"), "on the branch");
      assert.ok(!(await contextMenuLabels(cs, row)).includes("Compare with Parent"), "not on the parent");
      console.log(`intervention e2e timings (ms): ${JSON.stringify({ ...timings, ink })}`);
    } finally {
      ws.dispose();
    }
  });
});
