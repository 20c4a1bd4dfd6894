// Renders the in-context learning figure of docs/analyses.md: the real panel (dist/webview bundle,
// served as the webview tests serve it, in Debian's Chromium) showing a real run folder trained
// from examples/in-context-regression.experiment.ts and analysed with `lm analyze --only icl`,
// built into panel messages as the extension builds them (src/shared/iclView.ts). Saves
// docs/figures/icl.png.
//
//   npm run docs:figures:icl -- --run RUN_DIR

import * as fs from "node:fs";
import * as path from "node:path";
import { loadRunData } from "../src/shared/analysisViews";
import { readJsonFileSync } from "../src/shared/atomicFile";
import { iclRun } from "../src/shared/iclView";
import type { IclHostMessage } from "../src/shared/panels/icl";
import { manifestProblems, RUN_MANIFEST, type RunManifest } from "../src/shared/runFormat";
import { iclHtml } from "../src/webview/icl/page";
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
  const i = process.argv.indexOf("--run");
  const dir = i >= 0 ? process.argv[i + 1] : undefined;
  if (!dir) throw new Error("usage: docs-figures-icl --run RUN_DIR");
  const root = path.resolve(__dirname, "../..");
  const outDir = path.join(root, "docs/figures");
  fs.mkdirSync(outDir, { recursive: true });
  const manifest = readManifest(dir);
  const run = iclRun(
    { runId: dir, label: manifest.system, colorIndex: 0 },
    loadRunData(dir, manifest, { metrics: false }),
  );
  const served = await serveWebviews(root, { icl: { css: ["common.css", "analysisPanels.css"], html: iclHtml } });
  const browser = await launchChromium();
  let failed = false;
  try {
    const { page, problems } = await openPanel(browser, served.origin, "icl", { width: 1100, height: 420 });
    const msg: IclHostMessage = { type: "init", runs: [run], state: { runId: dir, logY: true } };
    await page.evaluate(
      (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
      msg,
    );
    await until(page, "window.__lmPanel.messagesHandled() > 0");
    await page.waitForTimeout(800);
    await frames(page);
    const out = path.join(outDir, "icl.png");
    await page.screenshot({ path: out, fullPage: true });
    console.log(`${out}: ${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
    if (problems.errors.length) {
      console.error(problems.errors.join("\n"));
      failed = true;
    }
    await page.close();
  } finally {
    await browser.close();
    await served.close();
  }
  if (failed) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
