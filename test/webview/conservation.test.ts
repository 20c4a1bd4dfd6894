// The conservation-laws webview in Chromium: typed messages in; the law, the table of symmetries
// (kind, layer, count, max relative drift, predicted drift, quality), the notes as text, one chart
// per kind with measured lines solid and predicted ones dashed in the same colour; log y; CSV out.
// Screenshot: dist/test/webview/conservation.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import {
  type ConservationHostMessage,
  type ConservationRun,
  type ConservationWebviewMessage,
  isConservationWebviewMessage,
} from "../../src/shared/panels/conservation";
import { conservationHtml } from "../../src/webview/conservation/page";
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

const STEPS = [0, 25, 50, 75, 100];
const a = (k: number) => (1 - 0.01) ** k;
const DECAY: ConservationRun = {
  runId: "decay",
  label: "gd λ=0.5",
  colorIndex: 0,
  steps: STEPS,
  symmetries: [
    {
      kind: "rescale",
      layer: "layers.0 → layers.1",
      count: 16,
      drift: STEPS.map((s) => 1 - a(s) ** 2 + 1e-5),
      predicted: STEPS.map((s) => 1 - a(s) ** 2),
      quality: "leading order",
    },
    {
      kind: "rescale",
      layer: "layers.1 → out",
      count: 16,
      drift: [0, 0.25, null, 0.5, 0.6],
      predicted: STEPS.map((s) => 1 - a(s) ** 2),
      quality: "leading order",
    },
    {
      kind: "translation",
      layer: "out",
      count: 17,
      drift: STEPS.map((s) => 1 - a(s)),
      predicted: STEPS.map((s) => 1 - a(s)),
      quality: "exact",
    },
  ],
  law: "SGD, coupled L2 λ = 0.5: quadratic Q(t) = a_t² Q(0), translation Q(t) = a_t Q(0), a_t = ∏_j (1 − η_j λ)",
  notes: ["no scale symmetry: the model has no normalization layer"],
};
const TORCH: ConservationRun = {
  runId: "torch",
  label: XSS,
  colorIndex: 1,
  steps: STEPS,
  symmetries: [
    {
      kind: "scale",
      layer: XSS,
      count: 1,
      drift: [0, 1e-6, 2e-6, 3e-6, 4e-6],
      predicted: STEPS.map(() => null),
      quality: "none",
    },
  ],
  law: "no prediction: the checkpoint has no optimizer metadata (class and param_groups)",
  notes: [XSS],
};

async function post(p: Page, msg: ConservationHostMessage): Promise<void> {
  const before = (await p.evaluate("window.__lmPanel.messagesHandled()")) as number;
  await p.evaluate(
    (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
    msg,
  );
  await until(p, `window.__lmPanel.messagesHandled() > ${before}`);
  await frames(p);
}

type Charts = {
  kind: string;
  yType: string;
  lines: { label: string; dashed: boolean; points: { x: number; y: number }[] }[];
}[];
const charts = async (): Promise<Charts> => (await page.evaluate("window.__lmPanel.charts()")) as Charts;

before(async () => {
  served = await serveWebviews(root, {
    conservation: { css: ["common.css", "analysisPanels.css", "conservation.css"], html: conservationHtml },
  });
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "conservation", { width: 1100, height: 760 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("init: the law, the table of symmetries, the notes, and per kind the measured and dashed predicted lines", async () => {
  await post(page, { type: "init", runs: [DECAY, TORCH] });
  assert.equal(await page.locator("#law").textContent(), DECAY.law);
  const rows = await page
    .locator("#rows tr")
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  assert.deepEqual(rows, [
    [
      "rescale",
      "layers.0 → layers.1",
      "16",
      (1 - a(100) ** 2 + 1e-5).toPrecision(3),
      (1 - a(100) ** 2).toPrecision(3),
      "leading order",
    ],
    ["rescale", "layers.1 → out", "16", "0.600", (1 - a(100) ** 2).toPrecision(3), "leading order"],
    ["translation", "out", "17", (1 - a(100)).toPrecision(3), (1 - a(100)).toPrecision(3), "exact"],
  ]);
  assert.deepEqual(await page.locator("#notes li").allTextContents(), DECAY.notes);
  const c = await charts();
  assert.deepEqual(
    c.map((x) => x.kind),
    ["rescale", "translation"],
  );
  assert.deepEqual(
    c[0]!.lines.map((l) => [l.label, l.dashed]),
    [
      ["layers.0 → layers.1", false],
      ["layers.0 → layers.1 (predicted)", true],
      ["layers.1 → out", false],
      ["layers.1 → out (predicted)", true],
    ],
  );
  assert.equal(c[0]!.lines[2]!.points.length, 4, "a null drift leaves a gap, not a zero");
  assert.deepEqual(c[1]!.lines[1]!.points.at(-1), { x: 100, y: 1 - a(100) });
  // Both layer colours are drawn in the rescale chart.
  await page.locator('.lr-cell[data-kind="rescale"] canvas').evaluate((el) => {
    el.id = "rescaleCanvas";
  });
  await screenshot(page, root, "conservation");
  assert.ok((await countColor(page, "rescaleCanvas", "#3794ff")) > 100, "blue");
  assert.ok((await countColor(page, "rescaleCanvas", "#f14c4c")) > 100, "red");
  assert.deepEqual(problems, { errors: [], dialogs: [] });
});

test("another run: text from files stays text; no prediction draws no dashed line; log y", async () => {
  await page.selectOption("#run", TORCH.runId);
  await until(page, `window.__lmPanel.state().runId === ${JSON.stringify(TORCH.runId)}`);
  assert.deepEqual(await page.locator("#run option").allTextContents(), ["gd λ=0.5", XSS]);
  assert.equal(await page.locator("#rows tr td").nth(1).textContent(), XSS);
  assert.deepEqual(await page.locator("#notes li").allTextContents(), [XSS]);
  assert.equal(await page.locator("img").count(), 0, "no element made from text");
  let c = await charts();
  assert.deepEqual(
    c.map((x) => [x.kind, x.lines.length, x.yType]),
    [["scale", 1, "linear"]],
  );
  await page.locator("#logY").click();
  await until(page, "window.__lmPanel.state().logY === true");
  c = await charts();
  assert.equal(c[0]!.yType, "logarithmic");
  assert.equal(c[0]!.lines[0]!.points.length, 4, "the zero at step 0 is left off a log axis");
  assert.deepEqual(problems, { errors: [], dialogs: [] });
});

test("CSV export: one line per run, symmetry and step", async () => {
  await page.locator("#exportCsv").click();
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const all = (await page.evaluate("window.__posted")) as unknown[];
  assert.ok(all.every(isConservationWebviewMessage), "every posted message passes the guard");
  const msg = (all as ConservationWebviewMessage[]).filter((m) => m.type === "exportCsv").at(-1);
  assert.ok(msg?.type === "exportCsv");
  const lines = msg.csv.trim().split("\n");
  assert.equal(lines[0], "run_id,label,kind,layer,count,step,drift,predicted");
  assert.equal(lines.length, 1 + (3 + 1) * STEPS.length);
  assert.equal(lines[1], `decay,gd λ=0.5,rescale,layers.0 → layers.1,16,0,${1e-5},0`);
  assert.match(lines[8]!, /^decay,gd λ=0\.5,rescale,layers\.1 → out,16,50,,/);
  assert.equal(msg.suggestedName, "torch-conservation.csv");
});
