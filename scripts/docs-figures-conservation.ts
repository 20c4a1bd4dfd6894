// Renders the conservation-laws figures of docs/analyses.md: the real panel (dist/webview bundle,
// served as the webview tests serve it, in Debian's Chromium) showing real run folders trained
// from examples/conservation.experiment.ts, built into panel messages as the extension builds them
// (src/shared/conservationView.ts). Saves docs/figures/conservation-*.png. Kept apart from
// docs-figures.ts, whose default run folders it does not need.
//
//   npm run docs:figures:conservation -- --runs NO_DECAY_DIR,WITH_DECAY_DIR[,HALF_LR_DIR]

import * as fs from "node:fs";
import * as path from "node:path";
import { loadRunData } from "../src/shared/analysisViews";
import { readJsonFileSync } from "../src/shared/atomicFile";
import { conservationRun } from "../src/shared/conservationView";
import type { ConservationHostMessage, ConservationState } from "../src/shared/panels/conservation";
import { manifestProblems, RUN_MANIFEST, type RunManifest } from "../src/shared/runFormat";
import { conservationHtml } from "../src/webview/conservation/page";
import { frames } from "../test/webview/analysisPanels";
import { launchChromium, openPanel, serveWebviews, until } from "../test/webview/panelHarness";

function readManifest(runDir: string): RunManifest {
  const r = readJsonFileSync(path.join(runDir, RUN_MANIFEST));
  if (!r.ok) throw new Error(r.error);
  const problems = manifestProblems(r.value);
  if (problems.length) throw new Error(`${runDir}: ${problems.join("; ")}`);
  return r.value as RunManifest;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--runs");
  const dirs = i >= 0 ? (process.argv[i + 1] ?? "").split(",").filter(Boolean) : [];
  if (dirs.length < 2) throw new Error("usage: docs-figures-conservation --runs NO_DECAY_DIR,WITH_DECAY_DIR[,...]");
  const root = path.resolve(__dirname, "../..");
  const outDir = path.join(root, "docs/figures");
  fs.mkdirSync(outDir, { recursive: true });
  const runs = dirs.map((d, k) => {
    const manifest = readManifest(d);
    const description = (manifest.config as { description?: unknown }).description;
    const label =
      typeof description === "string" && description ? `${manifest.system} · ${description}` : manifest.system;
    return conservationRun({ runId: d, label, colorIndex: k }, loadRunData(d, manifest, { metrics: false }));
  });
  const served = await serveWebviews(root, {
    conservation: { css: ["common.css", "analysisPanels.css", "conservation.css"], html: conservationHtml },
  });
  const browser = await launchChromium();
  const errors: string[] = [];
  try {
    const shots: [string, ConservationState][] = [
      ["conservation-decay.png", { runId: runs[1]!.runId, logY: false }],
      ["conservation-no-decay.png", { runId: runs[0]!.runId, logY: true }],
    ];
    for (const [file, state] of shots) {
      const { page, problems } = await openPanel(browser, served.origin, "conservation", { width: 1200, height: 640 });
      const msg: ConservationHostMessage = { type: "init", runs, state };
      await page.evaluate(
        (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
        msg,
      );
      await until(page, "window.__lmPanel.messagesHandled() > 0");
      await page.waitForTimeout(800);
      await frames(page);
      const out = path.join(outDir, file);
      await page.screenshot({ path: out, fullPage: true });
      errors.push(...problems.errors.map((e) => `${file}: ${e}`));
      console.log(`${out}: ${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
      await page.close();
    }
  } finally {
    await browser.close();
    await served.close();
  }
  if (errors.length) {
    console.error(errors.join("\n"));
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
