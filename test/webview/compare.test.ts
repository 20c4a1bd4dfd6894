// The intervention panels' webview in Chromium: a branch against its parent (the change of the
// query loss, actual solid against TracIn's dashed prediction and the BIF's point, zero drawn;
// parent and branch overlaid from the branch step; the verdict and notes as text; log loss), and a
// calibration (predicted against actual per subset with y = x, the BIF on its own, the subsets'
// table, the LDS in words); CSV out; hostile text stays text.
// Screenshots: dist/test/webview/compare.png, dist/test/webview/calibration.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import {
  type BranchComparison,
  type CalibrationView,
  type CompareHostMessage,
  isCompareWebviewMessage,
} from "../../src/shared/panels/compare";
import { compareHtml } from "../../src/webview/compare/page";
import { countColor, frames, XSS } from "./analysisPanels";
import {
  launchChromium,
  openPanel,
  type PageProblems,
  type Served,
  screenshot,
  serveWebviews,
  until,
} from "./panelHarness";

const root = path.resolve(__dirname, "../../..");
let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

const STEPS = Array.from({ length: 21 }, (_, i) => 200 + i * 10);
const PARENT_LOSS = STEPS.map((s) => Math.exp(-s / 150));
const ACTUAL = STEPS.map((s) => 0.03 * (1 - Math.exp(-(s - 200) / 60)));
const PREDICTED = STEPS.map((s) => 0.034 * (1 - Math.exp(-(s - 200) / 70)));

const BRANCH: BranchComparison = {
  kind: "branch",
  parent: { runId: "/runs/parent", label: "parent", colorIndex: 0 },
  branch: { runId: "/runs/branch", label: XSS, colorIndex: 1 },
  branchStep: 200,
  change: "removing 10 examples (1, 2, …), TracIn's top 10 proponents at step 200, branched at step 200",
  query: "64 test examples",
  curves: [
    {
      key: "query_loss",
      parent: { steps: STEPS, values: PARENT_LOSS },
      branch: { steps: STEPS, values: PARENT_LOSS.map((p, i) => p + ACTUAL[i]!) },
    },
    {
      key: "train_loss",
      parent: { steps: STEPS, values: PARENT_LOSS.map((p) => p / 2) },
      branch: { steps: STEPS, values: PARENT_LOSS.map((p, i) => (i === 3 ? null : p / 2.2)) },
    },
    {
      key: "test_acc",
      parent: { steps: STEPS, values: STEPS.map((s) => Math.min(1, s / 400)) },
      branch: { steps: STEPS, values: STEPS.map((s) => Math.min(1, s / 420)) },
    },
  ],
  actual: { steps: STEPS, values: ACTUAL },
  predictions: [
    { name: "TracIn", steps: STEPS, change: PREDICTED, method: "TracIn" },
    { name: "BIF", steps: [400], change: [0.02], method: "BIF" },
  ],
  sentences: [
    `At step 400, removing these 10 examples made the query loss higher ${XSS}.`,
    "TracIn predicted +0.0337.",
  ],
};

const CALIBRATION: CalibrationView = {
  kind: "calibration",
  run: { runId: "/runs/parent", label: "parent", colorIndex: 0 },
  source: "calibration/parent-sweep.json",
  summary: "8 subsets of 20 % removed at step 200 (the query: 64 test examples)",
  points: Array.from({ length: 8 }, (_, index) => ({
    index,
    run: index === 3 ? XSS : `000${index}`,
    size: 6,
    actual: 0.01 * index,
    tracin: 0.011 * index + (index % 2) * 0.002,
    bif: index === 0 ? null : -0.5 * index,
  })),
  lds: { tracin: 1, bif: -1 },
  others: [],
};

async function post(p: Page, msg: CompareHostMessage): Promise<void> {
  const before = (await p.evaluate("window.__lmPanel.messagesHandled()")) as number;
  await p.evaluate(
    (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
    msg,
  );
  await until(p, `window.__lmPanel.messagesHandled() > ${before}`);
  await frames(p);
}

type Charts = {
  key: string;
  yType: string;
  lines: { label: string; dashed: boolean; points: { x: number; y: number }[] }[];
}[];
const charts = async (): Promise<Charts> => (await page.evaluate("window.__lmPanel.charts()")) as Charts;

before(async () => {
  served = await serveWebviews(root, {
    compare: { css: ["common.css", "analysisPanels.css", "compare.css"], html: compareHtml },
  });
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "compare", { width: 1200, height: 900 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("a branch: the change (actual, TracIn dashed, the BIF's point, zero) and both runs overlaid; text stays text", async () => {
  await post(page, { type: "init", view: BRANCH, notes: [XSS] });
  assert.equal(await page.locator("#title").textContent(), `${XSS} against its parent parent`);
  assert.equal(await page.locator("#change").textContent(), `${BRANCH.change} · query: 64 test examples`);
  assert.deepEqual(await page.locator("#sentences li").allTextContents(), BRANCH.sentences);
  assert.deepEqual(await page.locator("#notes li").allTextContents(), [XSS]);
  assert.equal(await page.locator("img").count(), 0, "no element made from text");
  const c = await charts();
  assert.deepEqual(
    c.map((x) => x.key),
    ["change", "query_loss", "train_loss", "test_acc"],
  );
  const change = c[0]!;
  assert.deepEqual(
    change.lines.map((l) => [l.label, l.dashed, l.points.length]),
    [
      ["actual (branch − parent)", false, 21],
      ["predicted by TracIn", true, 21],
      ["predicted by BIF", true, 1],
      ["no change", false, 2],
    ],
  );
  assert.deepEqual(change.lines[0]!.points[20], { x: 400, y: ACTUAL[20] });
  assert.deepEqual(change.lines[3]!.points, [
    { x: 200, y: 0 },
    { x: 400, y: 0 },
  ]);
  const train = c[2]!;
  assert.deepEqual(
    train.lines.map((l) => [l.label, l.dashed, l.points.length]),
    [
      ["parent (parent)", true, 21],
      [`${XSS} (branch)`, false, 20],
    ],
    "the parent dashed, the branch solid; a null is a gap",
  );
  assert.equal(train.yType, "linear");
  await screenshot(page, root, "compare");
  assert.ok((await countColor(page, "chart-change", "#f14c4c")) > 100, "the actual change is drawn (the branch's red)");
  assert.ok((await countColor(page, "chart-change", "#d18616")) > 100, "TracIn's prediction is drawn (orange)");
  assert.ok((await countColor(page, "chart-query_loss", "#3794ff")) > 50, "the parent's query loss is drawn (blue)");
  assert.deepEqual(problems, { errors: [], dialogs: [] });
});

test("log loss: the loss charts on a log axis (accuracy stays linear), kept in the state", async () => {
  await page.locator("#logLoss").click();
  await until(page, "window.__lmPanel.state().logLoss === true");
  const c = await charts();
  assert.deepEqual(
    c.map((x) => [x.key, x.yType]),
    [
      ["change", "linear"],
      ["query_loss", "logarithmic"],
      ["train_loss", "logarithmic"],
      ["test_acc", "linear"],
    ],
  );
  await until(page, "window.__posted.some((m) => m.type === 'stateChanged' && m.state.logLoss === true)");
});

test("a calibration: predicted against actual per subset with y = x, the BIF apart, the table and the LDS", async () => {
  await post(page, { type: "init", view: CALIBRATION, notes: [] });
  assert.equal(await page.locator("#logLoss").isHidden(), true);
  assert.equal(await page.locator("#title").textContent(), "Calibration of parent");
  const rows = await page
    .locator("#subsetRows tr")
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  assert.equal(rows.length, 8);
  assert.deepEqual(rows[3], ["3", "6", "0.03000", "0.03500", "-1.500", XSS]);
  assert.deepEqual(rows[0], ["0", "6", "0", "0", "—", "0000"]);
  const sentences = await page.locator("#sentences li").allTextContents();
  assert.equal(
    sentences[0],
    "Linear datamodeling score (Spearman ρ of predicted against actual change over 8 subsets): TracIn 1.000, BIF -1.000.",
  );
  const c = await charts();
  assert.deepEqual(
    c.map((x) => x.key),
    ["tracin", "bif"],
  );
  assert.deepEqual(
    c[0]!.lines.map((l) => [l.label, l.dashed, l.points.length]),
    [
      ["subsets (8)", false, 8],
      ["predicted = actual", true, 2],
    ],
  );
  assert.deepEqual(c[0]!.lines[0]!.points[2], { x: 0.022, y: 0.02 });
  assert.equal(c[1]!.lines[0]!.points.length, 7, "a subset without a BIF prediction is left out");
  await screenshot(page, root, "calibration");
  assert.ok((await countColor(page, "chart-tracin", "#d18616")) > 50, "the subsets are drawn (orange)");
  assert.equal(await page.locator("img").count(), 0);
});

test("CSV: a branch's series and changes; a calibration's subsets", async () => {
  await post(page, { type: "init", view: BRANCH, notes: [] });
  await page.locator("#exportCsv").click();
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const all = (await page.evaluate("window.__posted")) as unknown[];
  assert.ok(all.every(isCompareWebviewMessage), "every posted message passes the guard");
  const last = () =>
    (all as { type: string; csv?: string; suggestedName?: string }[]).filter((m) => m.type === "exportCsv").at(-1);
  const lines = last()!.csv!.trim().split("\n");
  assert.equal(lines[0], "series,quantity,step,value");
  assert.equal(lines[1], `parent,query_loss,200,${PARENT_LOSS[0]}`);
  assert.ok(lines.includes(`TracIn,query_loss_change,400,${PREDICTED[20]}`));
  assert.ok(lines.includes("branch,train_loss,230,"), "a null is an empty cell");
  assert.equal(last()!.suggestedName, "_img_src_x_onerror_alert_1_-intervention.csv", "the file name from safeName");
  await post(page, { type: "init", view: CALIBRATION, notes: [] });
  const before = all.length;
  await page.locator("#exportCsv").click();
  await until(page, `window.__posted.filter((m) => m.type === 'exportCsv').length > 1`);
  const again = ((await page.evaluate("window.__posted")) as { type: string; csv?: string }[]).slice(before);
  const cal = again
    .filter((m) => m.type === "exportCsv")
    .at(-1)!
    .csv!.trim()
    .split("\n");
  assert.equal(cal[0], "subset,size,actual,tracin,bif,run");
  assert.equal(cal[1], "0,6,0,0,,0000");
  assert.equal(cal.length, 9);
});
