// The lazy-vs-rich webview in Chromium: typed messages in; regime badge, per-measure charts, the
// reasons for missing measures, the links to the runs' α sweeps (shown by the sweep panel:
// sweepAlpha.test.ts), exports out.
// Screenshots: dist/test/webview/lazyRich*.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { AlphaSweepLink, LazyRichRun, LazyRichState } from "../../src/shared/panels/lazyRich";
import { countColor, frames, lastPosted, post, posted, serveAnalysisPanels, XSS } from "./analysisPanels";
import { launchChromium, openPanel, screenshot, until, type PageProblems, type Served } from "./panelHarness";

const root = path.resolve(__dirname, "../../..");
let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

const STEPS = Array.from({ length: 11 }, (_, i) => i * 100);
const ramp = (scale: number): number[] => STEPS.map((s) => scale * (1 - Math.exp(-s / 300)));

const RUN_A: LazyRichRun = {
  runId: "mlp-alpha1",
  label: "mlp α=1",
  colorIndex: 0,
  steps: STEPS,
  relativeWeightChange: [
    { layer: "dense1/kernel", values: ramp(0.8) },
    { layer: "dense2/kernel", values: ramp(1.4) },
  ],
  paramNorm: [
    { layer: "dense1/kernel", values: STEPS.map((s) => 12 + s / 200) },
    { layer: "dense2/kernel", values: STEPS.map((s) => 6 + s / 100) },
  ],
  kernelDistance: ramp(0.6),
  kernelAlignment: STEPS.map((s) => 0.1 + 0.5 * (1 - Math.exp(-s / 400))),
  cka: [
    { layer: "hidden", values: STEPS.map((s) => 1 - 0.4 * (1 - Math.exp(-s / 300))) },
    { layer: "logits", values: [...STEPS.map((s) => 1 - 0.7 * (1 - Math.exp(-s / 300))).slice(0, 10), null] },
  ],
  missing: [],
  regime: {
    badge: "rich",
    reason: "kernel distance 0.58 > 0.3 and relative weight change 1.4 > 0.5 at the last checkpoint",
  },
};

const TORCH_REASON =
  "run written by PyTorch: the extension has no model to evaluate the kernel or representations with";
const RUN_B: LazyRichRun = {
  runId: "torch-run",
  label: XSS,
  colorIndex: 1,
  steps: STEPS,
  relativeWeightChange: [{ layer: XSS, values: ramp(0.02) }],
  paramNorm: [{ layer: XSS, values: STEPS.map(() => 20) }],
  missing: [
    { metric: "kernelDistance", reason: TORCH_REASON },
    { metric: "kernelAlignment", reason: TORCH_REASON },
    { metric: "cka", reason: TORCH_REASON },
  ],
  regime: { badge: "lazy", reason: "relative weight change 0.02 < 0.05" },
};

const SWEEP: AlphaSweepLink = {
  id: "implicit:teacher-student:/runs/ts-0.1",
  name: "teacher-student",
  kind: "implicit",
  runs: 4,
  alphas: [0.1, 1, 10, 100],
};
const DECLARED: AlphaSweepLink = {
  id: "declared:/runs/alphaSweep-sweep-20260101-000000",
  name: XSS,
  kind: "declared",
  runs: 8,
  alphas: [0.1, 1, 10, 100],
};

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

before(async () => {
  served = await serveAnalysisPanels(root);
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "lazyRich", { width: 1100, height: 800 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("init: the first run's regime badge and reason, and one chart per measure with its lines", async () => {
  assert.deepEqual((await posted(page))[0], { type: "ready" });
  await post(page, { type: "init", runs: [RUN_A, RUN_B], sweeps: [SWEEP] });
  assert.equal(await page.locator("#regime .badge").textContent(), "rich");
  assert.match((await page.locator("#regime .badge").getAttribute("class")) ?? "", /badge-rich/);
  assert.equal(await page.locator("#regime .regime-reason").textContent(), RUN_A.regime!.reason);
  const charts = await hook<{ metric: string; lines: { label: string; points: { x: number; y: number }[] }[] }[]>(
    page,
    "charts()",
  );
  assert.deepEqual(
    charts.map((c) => c.metric),
    ["relativeWeightChange", "paramNorm", "kernelDistance", "kernelAlignment", "cka"],
  );
  const rwc = charts[0]!;
  assert.deepEqual(
    rwc.lines.map((l) => l.label),
    ["dense1/kernel", "dense2/kernel"],
  );
  assert.deepEqual(
    rwc.lines[1]!.points,
    STEPS.map((x, i) => ({ x, y: RUN_A.relativeWeightChange![1]!.values[i] })),
  );
  assert.equal(charts[4]!.lines[1]!.points.length, 10, "a null CKA value leaves a gap, not a zero");
  assert.equal(await page.locator(".lr-cell.missing").count(), 0);
  // Both layer colours are drawn in the relative-weight-change chart.
  await frames(page);
  const canvasId = await page
    .locator('.lr-cell[data-metric="relativeWeightChange"] canvas')
    .evaluate((c) => ((c as unknown as { id: string }).id = "rwcCanvas"));
  assert.equal(canvasId, "rwcCanvas");
  assert.ok((await countColor(page, "rwcCanvas", "#3794ff")) > 100);
  assert.ok((await countColor(page, "rwcCanvas", "#f14c4c")) > 100);
});

test("a run from another framework: weight-space charts only, and why the rest is missing; names as text", async () => {
  await page.selectOption("#run", RUN_B.runId);
  await until(page, `window.__lmPanel.state().runId === ${JSON.stringify(RUN_B.runId)}`);
  assert.deepEqual(await page.locator("#run option").allTextContents(), ["mlp α=1", XSS]);
  assert.equal(await page.locator("#regime .badge").textContent(), "lazy");
  const charts = await hook<{ metric: string; lines: { label: string }[] }[]>(page, "charts()");
  assert.deepEqual(
    charts.map((c) => c.metric),
    ["relativeWeightChange", "paramNorm"],
  );
  assert.equal(charts[0]!.lines[0]!.label, XSS);
  const missing = page.locator(".lr-cell.missing");
  assert.deepEqual(
    await missing.evaluateAll((cells) =>
      cells.map((c) => (c as unknown as { dataset: { metric: string } }).dataset.metric),
    ),
    ["kernelDistance", "kernelAlignment", "cka"],
  );
  assert.deepEqual(
    await missing.locator(".missing-reason").allTextContents(),
    [1, 2, 3].map(() => `Not available: ${TORCH_REASON}`),
  );
  assert.equal(await page.locator("img").count(), 0);
  assert.deepEqual(problems.dialogs, []);
  await screenshot(page, root, "lazyRich-torch");
  await page.selectOption("#run", RUN_A.runId);
  await until(page, `window.__lmPanel.state().runId === ${JSON.stringify(RUN_A.runId)}`);
});

test("log y applies to the change and norm charts, not to the bounded similarities", async () => {
  await page.click("#logY");
  await until(page, "window.__lmPanel.state().logY === true");
  const types = await page.evaluate("window.__lmPanel.charts().map((c) => c.yType)");
  // At step 0 the relative change is 0: no point on a log axis.
  assert.deepEqual(types, ["logarithmic", "logarithmic", "logarithmic", "linear", "linear"]);
  const rwc = (await hook<{ lines: { points: unknown[] }[] }[]>(page, "charts()"))[0]!;
  assert.equal(rwc.lines[0]!.points.length, 10);
  await screenshot(page, root, "lazyRich");
  await page.click("#logY");
  await until(page, "window.__lmPanel.state().logY === false");
});

test("α sweeps are links to the sweep panel: one per sweep, a click posts its id", async () => {
  assert.equal(await page.locator("#sweeps").isVisible(), true);
  assert.deepEqual(await page.locator("#sweeps a.sweep-link").allTextContents(), [
    "teacher-student (4 runs, α 0.1–100, differing only in α) ↗",
  ]);
  await page.click("#sweeps a.sweep-link");
  await until(page, "window.__posted.some((m) => m.type === 'openSweep')");
  assert.deepEqual(await lastPosted(page, "openSweep"), { type: "openSweep", id: SWEEP.id });
  // A declared sweep's name (its folder's) stays text.
  await post(page, { type: "run", run: RUN_A, sweeps: [DECLARED, SWEEP] });
  const texts = await page.locator("#sweeps a.sweep-link").allTextContents();
  assert.deepEqual(texts, [
    `${XSS} (8 runs, α 0.1–100) ↗`,
    "teacher-student (4 runs, α 0.1–100, differing only in α) ↗",
  ]);
  await post(page, { type: "run", run: RUN_A, sweeps: [SWEEP] });
});

test("CSV export: long-format measures of the runs", async () => {
  await page.click("#exportCsv");
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const runCsv = await lastPosted(page, "exportCsv");
  assert.ok(runCsv);
  const lines = runCsv.csv.trimEnd().split("\n");
  assert.equal(lines[0], "run_id,label,metric,layer,step,value");
  // A: 2+2 layers × 11 + 11 + 11 + 11 + 10 values; B: 2 × 11.
  assert.equal(lines.length - 1, 4 * 11 + 11 + 11 + 21 + 22);
  assert.ok(lines.includes(`mlp-alpha1,mlp α=1,kernelDistance,,1000,${RUN_A.kernelDistance![10]}`));
  assert.ok(lines.includes(`torch-run,${XSS},paramNorm,${XSS},500,20`));
});

test("a new checkpoint replaces the run; init with state restores the view", async () => {
  const more: LazyRichRun = {
    ...RUN_A,
    steps: [...STEPS, 1100],
    relativeWeightChange: RUN_A.relativeWeightChange!.map((l) => ({ ...l, values: [...l.values, 2] })),
    paramNorm: undefined as never,
    kernelDistance: [...RUN_A.kernelDistance!, 0.7],
    kernelAlignment: [...RUN_A.kernelAlignment!, 0.7],
    cka: undefined as never,
    missing: [{ metric: "paramNorm", reason: "not logged" }],
  };
  delete (more as Partial<LazyRichRun>).paramNorm;
  delete (more as Partial<LazyRichRun>).cka;
  await post(page, { type: "run", run: more });
  const charts = await hook<{ metric: string; lines: { points: unknown[] }[] }[]>(page, "charts()");
  assert.deepEqual(
    charts.map((c) => c.metric),
    ["relativeWeightChange", "kernelDistance", "kernelAlignment"],
  );
  assert.equal(charts[0]!.lines[0]!.points.length, 12);
  assert.deepEqual(await page.locator(".missing-reason").allTextContents(), [
    "Not available: not logged",
    "Not available: not computed for this run",
  ]);
  assert.deepEqual(problems.errors, []);

  const p = (await openPanel(browser, served.origin, "lazyRich", { width: 900, height: 600 })).page;
  try {
    const state: LazyRichState = { runId: RUN_B.runId, logY: true };
    await post(p, { type: "init", runs: [RUN_A, RUN_B], sweeps: [SWEEP], state });
    assert.equal(await p.inputValue("#run"), RUN_B.runId);
    assert.equal(await p.evaluate("window.__lmPanel.charts()[0].yType"), "logarithmic");
    // Without sweeps there are no links.
    await post(p, { type: "init", runs: [RUN_A], sweeps: [] });
    assert.equal(await p.locator("#sweeps").isVisible(), false);
  } finally {
    await p.close();
  }
});
