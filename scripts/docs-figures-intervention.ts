// Renders the figures of docs/interventions.md ("Intervene and check"): the real intervention
// panel (dist/webview bundle, served as the webview tests serve it, in Debian's Chromium) on a real
// branch written by `lm intervene`, and the calibration panel on the run `lm calibrate` scored,
// built into panel messages as the extension builds them (src/extension/panels/comparePanel.ts).
// Saves docs/figures/intervention-panel.png and docs/figures/calibration-panel.png.
//
//   npm run docs:figures:intervention -- --branch BRANCH_DIR [--calibrated RUN_DIR]

import * as fs from "node:fs";
import * as path from "node:path";
import { CalibrationContent, CompareContent } from "../src/extension/panels/comparePanel";
import { RunIndex } from "../src/extension/runIndex";
import { compareHtml } from "../src/webview/compare/page";
import { frames } from "../test/webview/analysisPanels";
import { launchChromium, openPanel, serveWebviews, until } from "../test/webview/panelHarness";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const branch = arg("--branch");
  if (!branch) throw new Error("usage: docs-figures-intervention --branch BRANCH_DIR [--calibrated RUN_DIR]");
  const calibrated = arg("--calibrated");
  const root = path.resolve(__dirname, "../..");
  const outDir = path.join(root, "docs/figures");
  fs.mkdirSync(outDir, { recursive: true });
  const dirs = [path.resolve(branch), ...(calibrated ? [path.resolve(calibrated)] : [])];
  const env = { runIndex: new RunIndex(dirs.map((d) => path.dirname(d))) };
  const shots: { name: string; height: number; update: ReturnType<CompareContent["init"]> }[] = [
    { name: "intervention-panel", height: 1080, update: new CompareContent(env, dirs[0]!).init(undefined) },
  ];
  if (calibrated)
    shots.push({
      name: "calibration-panel",
      height: 620,
      update: new CalibrationContent(env, path.resolve(calibrated)).init(undefined),
    });
  const served = await serveWebviews(root, {
    compare: { css: ["common.css", "analysisPanels.css", "compare.css"], html: compareHtml },
  });
  const browser = await launchChromium();
  let failed = false;
  try {
    for (const shot of shots) {
      if (shot.update.problems?.length) throw new Error(shot.update.problems.join("\n"));
      const { page, problems } = await openPanel(browser, served.origin, "compare", {
        width: 1100,
        height: shot.height,
      });
      for (const m of shot.update.messages)
        await page.evaluate(
          (msg) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(msg, "*"),
          m,
        );
      await until(page, "window.__lmPanel.messagesHandled() > 0");
      await page.waitForTimeout(800);
      await frames(page);
      const out = path.join(outDir, `${shot.name}.png`);
      await page.screenshot({ path: out, fullPage: true });
      console.log(`${out}: ${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
      if (problems.errors.length) {
        console.error(problems.errors.join("\n"));
        failed = true;
      }
      await page.close();
    }
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
