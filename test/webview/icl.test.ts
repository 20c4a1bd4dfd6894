// The in-context learning webview in Chromium: typed messages in; the position chart draws up to
// six checkpoints early → late (pale → dark) with least squares and ridge dashed, the step chart
// the loss at the first, middle and last position with their ridge values dashed; log y by
// default (least squares spikes at k − 1 = dim), linear on request; text from files stays text;
// CSV out. Screenshot: dist/test/webview/icl.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import {
  type IclHostMessage,
  type IclRun,
  type IclWebviewMessage,
  isIclWebviewMessage,
} from "../../src/shared/panels/icl";
import { iclHtml } from "../../src/webview/icl/page";
import { frames, XSS } from "./analysisPanels";
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

const STEPS = [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000];
const RIDGE = [1, 0.77, 0.48, 0.24, 0.11, 0.1, 0.04, 0.03, 0.02, 0.017];
const RUN: IclRun = {
  runId: "icl",
  label: "iclLinear",
  colorIndex: 0,
  points: 10,
  steps: STEPS,
  loss: STEPS.map((_s, i) => RIDGE.map((r, k) => r + (k === 0 ? 0 : 1 / (1 + i)))),
  leastSquares: [1, 0.77, 0.48, 0.37, 3.8, 0.36, 0.05, 0.03, 0.024, 0.017],
  ridge: RIDGE,
  ridgeLambda: 0.04,
  noiseVariance: 0.01,
  notes: [],
};
RUN.loss[3]![4] = null;
const OTHER: IclRun = {
  runId: "other",
  label: XSS,
  colorIndex: 1,
  points: 4,
  steps: [],
  loss: [],
  leastSquares: null,
  ridge: null,
  ridgeLambda: null,
  noiseVariance: null,
  notes: [XSS],
};

async function post(p: Page, msg: IclHostMessage): Promise<void> {
  const before = (await p.evaluate("window.__lmPanel.messagesHandled()")) as number;
  await p.evaluate(
    (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
    msg,
  );
  await until(p, `window.__lmPanel.messagesHandled() > ${before}`);
  await frames(p);
}

type Charts = {
  name: string;
  yType: string;
  legend: string[];
  lines: { label: string; dashed: boolean; color: string; points: { x: number; y: number }[] }[];
}[];
const charts = async (): Promise<Charts> => (await page.evaluate("window.__lmPanel.charts()")) as Charts;

before(async () => {
  served = await serveWebviews(root, { icl: { css: ["common.css", "analysisPanels.css"], html: iclHtml } });
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "icl", { width: 1100, height: 760 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("init: six checkpoints early → late with the baselines dashed, and three positions over training", async () => {
  await post(page, { type: "init", runs: [RUN, OTHER] });
  const c = await charts();
  assert.deepEqual(
    c.map((x) => [x.name, x.yType]),
    [
      ["positions", "logarithmic"],
      ["steps", "logarithmic"],
    ],
  );
  const pos = c[0]!.lines;
  assert.deepEqual(
    pos.map((l) => [l.label, l.dashed]),
    [
      ["step 0", false],
      ["step 500", false],
      ["step 750", false],
      ["step 1250", false],
      ["step 1500", false],
      ["step 2000", false],
      ["least squares", true],
      ["ridge", true],
    ],
  );
  // The colour ramp: the same hue, more opaque later.
  const alpha = (color: string) => Number(/,\s*([\d.]+)\)$/.exec(color)?.[1] ?? "1");
  const alphas = pos.slice(0, 6).map((l) => alpha(l.color));
  assert.ok(
    alphas.every((a, i) => i === 0 || a > alphas[i - 1]!),
    `alphas rise early → late: ${alphas.join(" ")}`,
  );
  assert.deepEqual(pos[7]!.points.at(-1), { x: 10, y: 0.017 });
  assert.equal(pos[2]!.points.length, 9, "a null loss leaves a gap");
  const steps = c[1]!.lines;
  assert.deepEqual(
    steps.map((l) => [l.label, l.dashed]),
    [
      ["k = 1", false],
      ["ridge k = 1", true],
      ["k = 5", false],
      ["ridge k = 5", true],
      ["k = 10", false],
      ["ridge k = 10", true],
    ],
  );
  assert.equal(steps[4]!.points.length, STEPS.length);
  assert.match((await page.locator("#summary").textContent()) ?? "", /^step 2000: loss at k = 10 .* ridge 0\.0170/);
  // Both charts share the panel: side by side, each at least 280 px tall, with a legend beneath.
  const boxes = await page.locator(".chart-box").evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { top: Math.round(r.top), width: r.width, height: r.height };
    }),
  );
  assert.equal(boxes.length, 2);
  assert.equal(boxes[0]!.top, boxes[1]!.top, "side by side");
  for (const b of boxes) assert.ok(b.height >= 280 && b.width >= 320, `chart box ${b.width}×${b.height}`);
  assert.deepEqual(
    c.map((x) => x.legend),
    c.map((x) => x.lines.map((l) => l.label)),
    "each chart's legend names its lines",
  );
  await screenshot(page, root, "icl");
  assert.deepEqual(problems, { errors: [], dialogs: [] });
});

test("linear y on request; another run: its label and notes stay text, no charts without records", async () => {
  await page.locator("#logY").click();
  await until(page, "window.__lmPanel.state().logY === false");
  assert.equal((await charts())[0]!.yType, "linear");
  await page.selectOption("#run", OTHER.runId);
  await until(page, `window.__lmPanel.state().runId === ${JSON.stringify(OTHER.runId)}`);
  assert.deepEqual(await page.locator("#run option").allTextContents(), ["iclLinear", XSS]);
  assert.deepEqual(await page.locator("#notes li").allTextContents(), [XSS]);
  assert.equal(await page.locator("img").count(), 0, "no element made from text");
  assert.deepEqual(await charts(), []);
  assert.equal(await page.locator("#charts").isHidden(), true);
  assert.deepEqual(problems, { errors: [], dialogs: [] });
});

test("CSV export: the model per step and position, then each baseline per position", async () => {
  await page.locator("#exportCsv").click();
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const all = (await page.evaluate("window.__posted")) as unknown[];
  assert.ok(all.every(isIclWebviewMessage), "every posted message passes the guard");
  const msg = (all as IclWebviewMessage[]).filter((m) => m.type === "exportCsv").at(-1);
  assert.ok(msg?.type === "exportCsv");
  const lines = msg.csv.trim().split("\n");
  assert.equal(lines[0], "run_id,label,series,step,position,loss");
  assert.equal(lines.length, 1 + STEPS.length * 10 + 2 * 10);
  assert.equal(lines[1], "icl,iclLinear,model,0,1,1");
  assert.equal(lines.at(-1), "icl,iclLinear,ridge,,10,0.017");
  assert.equal(msg.suggestedName, "other-icl.csv");
});
