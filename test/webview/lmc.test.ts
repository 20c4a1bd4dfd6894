// The linear-mode-connectivity webview in Chromium: typed messages in; the table of
// interpolations (labels and sources as text, the barriers of the measure shown), train and test
// charts along α with each curve solid and its chord dashed, the barrier against k on a log(1 + k)
// axis labelled with k; error ↔ loss; loss when there is no error; CSV out.
// Screenshot: dist/test/webview/lmc.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import {
  chord,
  isLmcWebviewMessage,
  type LmcCurve,
  type LmcHostMessage,
  type LmcWebviewMessage,
} from "../../src/shared/panels/lmc";
import { lmcHtml } from "../../src/webview/lmc/page";
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

const ALPHA = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
const bump = (h: number, base: number, end = base) => ALPHA.map((a) => base + a * (end - base) + h * 4 * a * (1 - a));

const SEEDS: LmcCurve = {
  id: "/runs/lmc-a/lmc/600--lmc-b--600.json",
  label: "lmc-a @ 600 ↔ lmc-b @ 600",
  source: "lmc/600--lmc-b--600.json",
  colorIndex: 0,
  alpha: ALPHA,
  values: {
    train_loss: bump(1.43, 0.017, 0.018),
    train_error: bump(0.476, 0),
    test_loss: bump(0.5, 4.1, 4.2),
    test_error: [1, 1, 1, 1, 1, null, 1, 1, 1, 1, 1],
  },
  barrier: { train_loss: 1.43, train_error: 0.476, test_loss: 0.5, test_error: 0 },
};
const K0: LmcCurve = {
  id: "/runs/lmc-a-instability/lmc-k0.json",
  label: "k = 0 (data seeds 1, 2)",
  source: "../lmc-a-instability/lmc-k0.json",
  k: 0,
  colorIndex: 1,
  alpha: ALPHA,
  values: { train_loss: bump(0.004, 0.02), train_error: bump(0, 0), test_loss: bump(0, 4), test_error: bump(0, 1) },
  barrier: { train_loss: 0.004, train_error: 0, test_loss: 0, test_error: 0 },
};
const HOSTILE: LmcCurve = { ...K0, id: "x", label: XSS, source: XSS, colorIndex: 2, k: 300 };
const INIT: LmcHostMessage = {
  type: "init",
  curves: [SEEDS, K0, HOSTILE],
  instability: {
    parentId: "lmc-a",
    source: "../lmc-a-instability",
    dataSeeds: [1, 2],
    points: [0, 25, 100, 300].map((k) => ({
      k,
      barrier: { train_loss: 0.004 / (1 + k / 25), train_error: 0, test_loss: 0.01, test_error: 0.02 / (1 + k) },
    })),
  },
  notes: [XSS],
};

async function post(p: Page, msg: LmcHostMessage): Promise<void> {
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
  xTicks: string[];
  lines: { label: string; dashed: boolean; points: { x: number; y: number }[] }[];
}[];
const charts = async (): Promise<Charts> => (await page.evaluate("window.__lmPanel.charts()")) as Charts;

before(async () => {
  served = await serveWebviews(root, { lmc: { css: ["common.css", "analysisPanels.css", "lmc.css"], html: lmcHtml } });
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "lmc", { width: 1100, height: 900 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("init: the table, train and test error along α with dashed chords, and the barrier against k", async () => {
  await post(page, INIT);
  const rows = await page
    .locator("#rows tr")
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent?.trim())));
  assert.deepEqual(rows, [
    ["lmc-a @ 600 ↔ lmc-b @ 600", "lmc/600--lmc-b--600.json", "0.476", "0"],
    ["k = 0 (data seeds 1, 2)", "../lmc-a-instability/lmc-k0.json", "0", "0"],
    [XSS, XSS, "0", "0"],
  ]);
  assert.deepEqual(await page.locator("#notes li").allTextContents(), [XSS]);
  assert.equal(await page.locator("img").count(), 0, "no element made from text");
  assert.equal(await page.evaluate("window.__lmPanel.measure()"), "error");
  const c = await charts();
  assert.deepEqual(
    c.map((x) => x.key),
    ["train_error", "test_error", "barrier"],
  );
  const train = c[0]!;
  assert.deepEqual(
    train.lines.map((l) => [l.label, l.dashed]),
    [
      [SEEDS.label, false],
      [`${SEEDS.label} (chord)`, true],
      [K0.label, false],
      [`${K0.label} (chord)`, true],
      [XSS, false],
      [`${XSS} (chord)`, true],
    ],
  );
  const mid = train.lines[0]!.points[5]!;
  assert.equal(mid.x, 0.5);
  assert.ok(Math.abs(mid.y - 0.476) < 1e-12);
  assert.deepEqual(
    train.lines[1]!.points.map((p) => p.y),
    chord(ALPHA, SEEDS.values.train_error ?? []),
  );
  assert.equal(c[1]!.lines[0]!.points.length, 10, "a null value is a gap, not a zero");
  const barrier = c[2]!;
  assert.deepEqual(barrier.xTicks, ["0", "25", "100", "300"], "ticks at the measured k, labelled with k");
  assert.deepEqual(
    barrier.lines.map((l) => [l.label, l.dashed, l.points.length]),
    [
      ["train error barrier", false, 4],
      ["test error barrier", true, 4],
    ],
  );
  assert.deepEqual(
    barrier.lines[1]!.points.map((p) => [Number((10 ** p.x - 1).toFixed(6)), p.y]),
    [0, 25, 100, 300].map((k) => [k, 0.02 / (1 + k)]),
  );
  await page.locator('.lr-cell[data-chart="train_error"] canvas').evaluate((el) => {
    el.id = "trainCanvas";
  });
  await screenshot(page, root, "lmc");
  assert.ok((await countColor(page, "trainCanvas", "#3794ff")) > 100, "the first curve is drawn (blue)");
  assert.ok((await countColor(page, "trainCanvas", "#f14c4c")) > 50, "the second curve is drawn (red)");
  assert.deepEqual(problems, { errors: [], dialogs: [] });
});

test("loss instead of error: the table's barriers, charts and state follow", async () => {
  await page.selectOption("#measure", "loss");
  await until(page, "window.__lmPanel.state().measure === 'loss'");
  const c = await charts();
  assert.deepEqual(
    c.map((x) => x.key),
    ["train_loss", "test_loss", "barrier"],
  );
  assert.deepEqual(await page.locator("#rows tr").first().locator("td.num").allTextContents(), ["1.43", "0.500"]);
  assert.equal(c[2]!.lines[0]!.label, "train loss barrier");
  // The host is told after a short pause (the runtime's saver).
  await until(page, "window.__posted.some((m) => m.type === 'stateChanged' && m.state.measure === 'loss')");
});

test("a regression task (no error values): loss is shown whatever the choice", async () => {
  await page.selectOption("#measure", "error");
  await until(page, "window.__lmPanel.state().measure === 'error'");
  const lossOnly: LmcCurve = {
    ...SEEDS,
    values: { train_loss: SEEDS.values.train_loss ?? [] },
    barrier: { train_loss: 1.43 },
  };
  await post(page, { type: "init", curves: [lossOnly], instability: null, notes: [] });
  assert.equal(await page.evaluate("window.__lmPanel.measure()"), "loss");
  assert.deepEqual(
    (await charts()).map((x) => x.key),
    ["train_loss"],
  );
  assert.equal(await page.locator("#instabilityNote").isHidden(), true);
});

test("CSV export: one line per interpolation and α", async () => {
  await post(page, INIT);
  await page.locator("#exportCsv").click();
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const all = (await page.evaluate("window.__posted")) as unknown[];
  assert.ok(all.every(isLmcWebviewMessage), "every posted message passes the guard");
  const msg = (all as LmcWebviewMessage[]).filter((m) => m.type === "exportCsv").at(-1);
  assert.ok(msg?.type === "exportCsv");
  const lines = msg.csv.trim().split("\n");
  assert.equal(lines[0], "file,label,k,alpha,train_loss,train_error,test_loss,test_error");
  assert.equal(lines.length, 1 + 3 * ALPHA.length);
  assert.equal(lines[1], `lmc/600--lmc-b--600.json,lmc-a @ 600 ↔ lmc-b @ 600,,0,0.017,0,4.1,1`);
  assert.match(
    lines[6]!,
    /^lmc\/600--lmc-b--600\.json,.*,,0\.5,1\.4475,0\.476,4\.65,$/,
    "the null test error is an empty cell",
  );
  assert.match(lines[12]!, /^\.\.\/lmc-a-instability\/lmc-k0\.json,"k = 0 \(data seeds 1, 2\)",0,0,/);
  assert.equal(msg.suggestedName, "lmc-a-lmc.csv");
});
