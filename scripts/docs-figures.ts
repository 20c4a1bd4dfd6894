// Renders the figures of docs/analyses.md: the real analysis panels (dist/webview bundles, served
// as the webview tests serve them, in Debian's Chromium) showing real run folders, built into
// panel messages exactly as the extension builds them (src/shared/analysisViews.ts). Saves PNGs
// to docs/figures/.
//
//   npm run docs:figures                       (the default run folders below)
//   node dist/scripts/docs-figures.cjs --grok DIR --grok-slow DIR --sweep DIR,DIR,... --influence DIR
//   node dist/scripts/docs-figures.cjs --sharpness DIR [--only sharpness]   (the Sharpness figure; alone with --only)
//   node dist/scripts/docs-figures.cjs --sweep DIR,DIR,... --only lazy-rich   (lazy-rich-run.png alone)
//   node dist/scripts/docs-figures.cjs --pytorch DIR   (only docs/pytorch.md's figures: Lazy vs rich and
//                                                       Influence of one run.watch run, pytorch-*.png)
//   node dist/scripts/docs-figures.cjs --imp-panel IMP_DIR   (only the sweep panel on an lm imp folder
//        of examples/lottery-tickets.experiment.ts: lottery-tickets.png)
//   node dist/scripts/docs-figures.cjs --sweep-panel SWEEP_DIR   (only the sweep panel on a finished
//        `lm sweep` of examples/double-descent.experiment.ts --system width: sweep-double-descent.png;
//        of examples/lazy-rich.experiment.ts --system alphaSweep, an α sweep: sweep-alpha.png, with
//        the final relative weight change against α, log-log, and the fitted c/α line)
//   node dist/scripts/docs-figures.cjs --lmc-panel RUN_DIR   (only the mode-connectivity panel of a run
//        with lmc/ files and an instability analysis beside it, docs/branching.md: lmc-panel.png)
//
// The run folders are not part of the repository (they are trained from examples/*.experiment.ts;
// docs/analyses.md says with which settings), so the defaults point at where they were made.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Page } from "playwright-core";
import type { RunRef } from "../src/shared/panels/common";
import type { GrokkingState } from "../src/shared/panels/grokking";
import type { InfluenceState } from "../src/shared/panels/influence";
import type { LazyRichState } from "../src/shared/panels/lazyRich";
import { grokRun, influenceRun, lazyRichRun, loadRunData, type RunData } from "../src/shared/analysisViews";
import { readJsonFileSync } from "../src/shared/atomicFile";
import { sharpnessRun } from "../src/shared/sharpnessView";
import { manifestProblems, RUN_MANIFEST, type RunManifest } from "../src/shared/runFormat";
import { RunIndex } from "../src/extension/runIndex";
import { LmcContent } from "../src/extension/panels/lmcPanel";
import { SweepContent } from "../src/extension/panels/sweepPanel";
import { alphaSweepGroups } from "../src/shared/implicitSweep";
import type { AlphaSweepLink } from "../src/shared/panels/lazyRich";
import { defaultSweepState, IMP_SWEEP_STATE, type SweepHostMessage, type SweepState } from "../src/shared/panels/sweep";
import { ALPHA_FIELD } from "../src/shared/alphaFit";
import type { LmcHostMessage } from "../src/shared/panels/lmc";
import { lmcHtml } from "../src/webview/lmc/page";
import { sweepHtml } from "../src/webview/sweep/page";
import { frames, post, serveAnalysisPanels, type AnalysisHostMessage } from "../test/webview/analysisPanels";
import { launchChromium, openPanel, serveWebviews, until } from "../test/webview/panelHarness";

const DEFAULTS = {
  grok: "/work/lit/runs2/modAdd-20261123-122901-fac6",
  grokSlow: "/work/lit/runs/modAdd-20261123-120526-e8b6",
  sweep: [
    "alpha0_1-20261123-120603-38cc",
    "alpha1-20261123-120621-d4f6",
    "alpha10-20261123-120630-c0a0",
    "alpha100-20261123-120653-46f3",
  ].map((d) => `/work/lit/runs/${d}`),
  influence: "/work/lit/runs/hierarchy-20261123-120724-dc2d",
};

const VIEWPORT = { width: 1200, height: 800 };
const MAX_HEIGHT = 1600;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function readManifest(runDir: string): RunManifest {
  const r = readJsonFileSync(path.join(runDir, RUN_MANIFEST));
  if (!r.ok) throw new Error(r.error);
  const problems = manifestProblems(r.value);
  if (problems.length) throw new Error(`${runDir}: ${problems.join("; ")}`);
  return r.value as RunManifest;
}

function load(runDir: string, label: string, colorIndex: number): { ref: RunRef; data: RunData } {
  const data = loadRunData(runDir, readManifest(runDir));
  for (const u of data.unreadable) console.warn(`${runDir}: analyses/${u.analysis}.jsonl unreadable: ${u.message}`);
  return { ref: { runId: runDir, label, colorIndex }, data };
}

/** A short label like the ones the Runs view shows: the system and its distinguishing settings. */
function modAddLabel(data: RunData): string {
  const task = (data.manifest.config as { task?: { p?: number; trainFraction?: number } }).task;
  return `${data.manifest.system} p=${task?.p ?? "?"} frac=${task?.trainFraction ?? "?"}`;
}

/**
 * The sweep panel on a sweep folder: its `init` built by the extension's own host code
 * (SweepContent over a run index, src/extension/panels/sweepPanel.ts, which summarizes each point
 * with src/shared/sweepSummary.ts). A width sweep is shown with final test loss against the width
 * on log axes and the min–max spread over seeds; an α sweep as the panel opens it
 * (defaultSweepState: final relative weight change against α, log-log, with the c/α line).
 */
async function sweepPanelFigure(
  root: string,
  outDir: string,
  sweepDir: string,
  chosen?: { state: SweepState; file: string },
): Promise<string[]> {
  const dir = path.resolve(sweepDir);
  const content = new SweepContent({ runIndex: new RunIndex([path.dirname(dir)]) }, dir);
  const width: SweepState = chosen?.state ?? {
    y: "final:test_loss",
    x: "model.features",
    group: "",
    logX: true,
    logY: true,
    spread: "minmax",
  };
  const first = content.init(width);
  if (first.problems?.length) throw new Error(first.problems.join("\n"));
  const isInit = (m: SweepHostMessage): m is Extract<SweepHostMessage, { type: "init" }> => m.type === "init";
  let init = first.messages.find(isInit);
  if (!init) throw new Error(`${dir}: no sweep panel init (not a sweep folder?)`);
  const alpha = !chosen && init.sweep.fields.includes(ALPHA_FIELD);
  if (alpha) init = { ...init, state: defaultSweepState(init.sweep.fields) };
  const y = init.state?.y ?? "final:test_loss";
  const file = chosen?.file ?? (alpha ? "sweep-alpha.png" : "sweep-double-descent.png");
  const measured = init.points.filter((p) => p.y[y] !== undefined).length;
  console.log(`${dir}: ${init.points.length} points, ${measured} with ${y}`);
  const served = await serveWebviews(root, { sweep: { css: ["common.css", "analysisPanels.css"], html: sweepHtml } });
  const browser = await launchChromium();
  try {
    const { page, problems } = await openPanel(browser, served.origin, "sweep", { width: 1000, height: 620 });
    const before = (await page.evaluate("window.__lmPanel.messagesHandled()")) as number;
    await page.evaluate(
      (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
      init,
    );
    await until(page, `window.__lmPanel.messagesHandled() > ${before}`);
    // chart.js animates its first draw; let it settle.
    await page.waitForTimeout(800);
    await frames(page);
    const out = path.join(outDir, file);
    await page.screenshot({ path: out });
    console.log(`${out}: ${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
    return problems.errors.map((e) => `${file}: ${e}`);
  } finally {
    await browser.close();
    await served.close();
  }
}

/**
 * docs/branching.md's figure: the mode-connectivity panel of a run, built by the extension's own
 * host code (LmcContent over the run folder, src/shared/lmcView.ts), showing loss (the error
 * barrier of this example is 0 at every k; its loss barrier is what falls with k).
 */
async function lmcPanelFigure(root: string, outDir: string, runDir: string): Promise<string[]> {
  const update = new LmcContent(path.resolve(runDir)).init({ measure: "loss" });
  if (update.problems?.length) throw new Error(update.problems.join("\n"));
  const init = update.messages.find((m): m is Extract<LmcHostMessage, { type: "init" }> => m.type === "init");
  if (!init) throw new Error(`${runDir}: no panel init`);
  console.log(`${runDir}: ${init.curves.length} interpolations, ${init.instability?.points.length ?? 0} values of k`);
  const served = await serveWebviews(root, {
    lmc: { css: ["common.css", "analysisPanels.css", "lmc.css"], html: lmcHtml },
  });
  const browser = await launchChromium();
  try {
    const { page, problems } = await openPanel(browser, served.origin, "lmc", { width: 1100, height: 940 });
    const before = (await page.evaluate("window.__lmPanel.messagesHandled()")) as number;
    await page.evaluate(
      (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
      init,
    );
    await until(page, `window.__lmPanel.messagesHandled() > ${before}`);
    await page.waitForTimeout(800);
    await frames(page);
    const out = path.join(outDir, "lmc-panel.png");
    await page.screenshot({ path: out });
    console.log(`${out}: ${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
    return problems.errors.map((e) => `lmc-panel.png: ${e}`);
  } finally {
    await browser.close();
    await served.close();
  }
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, "../..");
  const outDir = path.join(root, "docs/figures");
  fs.mkdirSync(outDir, { recursive: true });

  const lmcPanelDir = arg("lmc-panel");
  if (lmcPanelDir) {
    const problems = await lmcPanelFigure(root, outDir, lmcPanelDir);
    if (problems.length) {
      console.error(problems.join("\n"));
      process.exitCode = 1;
    }
    return;
  }

  const sweepPanelDir = arg("sweep-panel");
  const impPanelDir = arg("imp-panel");
  if (sweepPanelDir || impPanelDir) {
    const problems = sweepPanelDir
      ? await sweepPanelFigure(root, outDir, sweepPanelDir)
      : await sweepPanelFigure(root, outDir, impPanelDir!, { state: IMP_SWEEP_STATE, file: "lottery-tickets.png" });
    if (problems.length) {
      console.error(problems.join("\n"));
      process.exitCode = 1;
    }
    return;
  }

  const grokDir = arg("grok") ?? DEFAULTS.grok;
  const grokSlowDir = arg("grok-slow") ?? DEFAULTS.grokSlow;
  const sweepDirs = arg("sweep")?.split(",") ?? DEFAULTS.sweep;
  const influenceDir = arg("influence") ?? DEFAULTS.influence;

  const served = await serveAnalysisPanels(root);
  const browser = await launchChromium();
  const problems: string[] = [];

  async function shoot(
    panel: "grokking" | "lazyRich" | "influence" | "sharpness",
    msg: AnalysisHostMessage,
    file: string,
    prepare?: (page: Page) => Promise<void>,
  ): Promise<void> {
    const opened = await openPanel(browser, served.origin, panel, VIEWPORT);
    const { page } = opened;
    await post(page, msg);
    if (prepare) await prepare(page);
    await page.waitForTimeout(300);
    // The panels scroll inside their own containers (a webview's body never scrolls), so a full-page
    // screenshot would cut them: grow the viewport by what the containers hide, up to a limit.
    const hidden = (await page.evaluate(
      `Math.max(0, ...[...document.querySelectorAll("*")].map((e) => getComputedStyle(e).overflowY === "auto" ? e.scrollHeight - e.clientHeight : 0))`,
    )) as number;
    if (hidden > 0)
      await page.setViewportSize({ width: VIEWPORT.width, height: Math.min(VIEWPORT.height + hidden, MAX_HEIGHT) });
    // chart.js animates its first draw and resizes on a viewport change; let it settle.
    await page.waitForTimeout(800);
    await frames(page);
    const out = path.join(outDir, file);
    await page.screenshot({ path: out, fullPage: true });
    for (const e of opened.problems.errors) problems.push(`${file}: ${e}`);
    console.log(`${out}: ${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
    await page.close();
  }

  try {
    // Sharpness: the edge-of-stability example (examples/edge-of-stability.experiment.ts, system eos).
    const sharpnessDir = arg("sharpness");
    if (sharpnessDir) {
      const eos = load(sharpnessDir, "eos · full-batch GD, η = 0.1", 0);
      await shoot(
        "sharpness",
        { type: "init", runs: [sharpnessRun(eos.ref, eos.data)], state: { runId: null, logLoss: true } },
        "sharpness-eos.png",
      );
    }
    if (arg("only") === "sharpness") return;

    // docs/pytorch.md: the panels on one PyTorch run with run.watch (docs/examples/watch_mlp.py), alone.
    const pytorchDir = arg("pytorch");
    if (pytorchDir) {
      const py = load(pytorchDir, "PyTorch MLP · a + b mod 23 (run.watch)", 0);
      const lr = lazyRichRun(py.ref, py.data);
      const lrState: LazyRichState = { runId: lr.runId, logY: false };
      await shoot("lazyRich", { type: "init", runs: [lr], sweeps: [], state: lrState }, "pytorch-lazy-rich.png");
      const pyInf = influenceRun(py.ref, py.data);
      if (!pyInf) throw new Error(`${pytorchDir} has no tracin or bif analysis`);
      const pySteps = pyInf.matrices.find((m) => m.method === "tracin")?.steps;
      const pyState: InfluenceState = {
        method: "tracin",
        sort: "index",
        groupByLabel: false,
        rowPx: 0,
        selected: pySteps?.length ? { example: 0, step: pySteps.at(-1)! } : null,
      };
      await shoot("influence", { type: "init", run: pyInf, state: pyState }, "pytorch-influence.png");
      return;
    }

    // --only lazy-rich: the lazy-vs-rich run figure alone (from --sweep's runs).
    const only = arg("only");
    if (only !== "lazy-rich") {
      // Grokking: the run that grokked, then the one that did not within its budget.
      const grokState: GrokkingState = { logX: false, logLoss: true, focusRun: null, hiddenRuns: [] };
      const grok = load(grokDir, "", 0);
      grok.ref.label = modAddLabel(grok.data);
      await shoot("grokking", { type: "init", runs: [grokRun(grok.ref, grok.data)], state: grokState }, "grokking.png");
      if (fs.existsSync(grokSlowDir)) {
        const slow = load(grokSlowDir, "", 1);
        slow.ref.label = modAddLabel(slow.data);
        await shoot(
          "grokking",
          { type: "init", runs: [grokRun(slow.ref, slow.data)], state: grokState },
          "grokking-p97.png",
        );
      }
    }

    // Lazy vs rich: the richest run of an α sweep, with the link to the sweep (the sweep panel's
    // figure of an α sweep is --sweep-panel's).
    const sweep = sweepDirs.map((d, i) =>
      load(
        d,
        path
          .basename(d)
          .replace(/-\d{8}-\d{6}-[0-9a-f]{4}$/, "")
          .replace("alpha", "α=")
          .replace("_", "."),
        i,
      ),
    );
    const runs = sweep.map(({ ref, data }) => lazyRichRun(ref, data));
    const sweeps: AlphaSweepLink[] = alphaSweepGroups(sweep.map((r) => r.data)).map((g) => ({
      id: g.name,
      name: g.name,
      kind: "implicit",
      runs: g.runs.length,
      alphas: [...new Set(g.runs.map((r) => r.alpha))],
    }));
    if (!sweeps.length) throw new Error("the sweep runs do not form an α sweep (configs differ in more than α?)");
    const runState: LazyRichState = { runId: runs[0]!.runId, logY: false };
    await shoot("lazyRich", { type: "init", runs, sweeps, state: runState }, "lazy-rich-run.png");
    if (only === "lazy-rich") return;

    // Influence: TracIn on the deep linear network's hierarchy, one cell selected.
    const inf = load(influenceDir, "deep linear · hierarchy (8 items)", 0);
    const run = influenceRun(inf.ref, inf.data);
    if (!run) throw new Error(`${influenceDir} has no tracin or bif analysis`);
    const tracin = run.matrices.find((m) => m.method === "tracin");
    const selectedStep = tracin?.steps.find((s) => s >= 1600) ?? tracin?.steps.at(-1);
    const infState: InfluenceState = {
      method: "tracin",
      sort: "index",
      groupByLabel: false,
      rowPx: 0,
      selected: selectedStep === undefined ? null : { example: 1, step: selectedStep },
    };
    await shoot("influence", { type: "init", run, state: infState }, "influence-deep-linear.png");
    const bifState: InfluenceState = { ...infState, method: "bif" };
    if (run.matrices.some((m) => m.method === "bif"))
      await shoot("influence", { type: "init", run, state: bifState }, "influence-deep-linear-bif.png");
  } finally {
    await browser.close();
    await served.close();
  }
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
