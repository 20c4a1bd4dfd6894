// The Sharpness webview in Chromium: typed messages in; the sharpness with its threshold line,
// the phases shaded and listed, catapults marked on the loss, the LLC with its band and stage
// boundaries, and why an analysis is missing. Screenshot: dist/test/webview/sharpness*.png.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { SharpnessHostMessage, SharpnessRun } from "../../src/shared/panels/sharpness";
import { sharpnessHtml } from "../../src/webview/sharpness/page";
import { XSS, frames, pixel } from "./analysisPanels";
import {
  launchChromium,
  openPanel,
  screenshot,
  serveWebviews,
  until,
  type PageProblems,
  type Served,
} from "./panelHarness";

const root = path.resolve(__dirname, "../../..");
let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

const STEPS = Array.from({ length: 13 }, (_, i) => i * 100);
// Sharpness rising from 8 to 2/η = 20, then hovering; a catapult at 900 (loss spike, sharpness drop).
const TOP = [8, 10, 12.5, 15, 17.5, 19, 19.8, 20.1, 19.9, 14, 18.5, 19.6, 20];
const LOSS_STEPS = Array.from({ length: 121 }, (_, i) => i * 10);
const loss = LOSS_STEPS.map((s) => (s >= 850 && s < 880 ? 0.5 : 0.8 * Math.exp(-s / 300) + 0.01));

const RUN: SharpnessRun = {
  runId: "eos-run",
  label: "eos η=0.1",
  colorIndex: 0,
  sharpness: {
    steps: STEPS,
    top: TOP,
    second: TOP.map((t) => 0.7 * t),
    preconditioned: STEPS.map(() => null),
    threshold: STEPS.map(() => 20),
    thresholdOf: "sharpness",
    error: STEPS.map(() => 0.01),
    rule: { fraction: 0.9, hold: 2 },
    sharpening: [{ start: 0, end: 400 }],
    edge: [
      { start: 500, end: 800 },
      { start: 1000, end: 1200 },
    ],
    catapults: [
      {
        spikeStep: 850,
        peakStep: 850,
        peakLoss: 0.5,
        lossBefore: 0.02,
        sharpnessBefore: 19.9,
        sharpnessAfter: 14,
        dropStep: 900,
      },
    ],
    lastRatio: 1,
  },
  loss: { steps: LOSS_STEPS, values: loss },
  llc: {
    steps: STEPS,
    values: STEPS.map((s) => (s < 400 ? 3 : s < 900 ? 8 : 12)),
    stdErr: STEPS.map(() => 0.5),
    boundaries: [350, 850],
    warnings: [{ step: 300, warning: "Effective sample size 31.0 < 50 (of 400 draws): λ̂ is noisy; run more draws." }],
  },
  missing: [],
};

const LLC_OFF =
  "the LLC is off by default (one estimate costs chains × (burn-in + draws) gradient steps): set analyses: { llc: { every: 4 } } in the experiment";
const OTHER: SharpnessRun = {
  runId: "other",
  label: XSS,
  colorIndex: 1,
  sharpness: null,
  loss: { steps: [0, 10], values: [1, 0.5] },
  llc: null,
  missing: [
    { analysis: "sharpness", reason: "not analysed yet" },
    { analysis: "llc", reason: LLC_OFF },
  ],
};

async function post(p: Page, msg: SharpnessHostMessage): Promise<void> {
  const before = (await p.evaluate("window.__lmPanel.messagesHandled()")) as number;
  await p.evaluate(
    (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
    msg,
  );
  await until(p, `window.__lmPanel.messagesHandled() > ${before}`);
  await frames(p);
}

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

interface ChartInfo {
  name: string;
  yType: string;
  lines: { label: string; points: { x: number; y: number }[] }[];
  marks: {
    bands: { start: number; end: number; label: string }[];
    lines: { step: number; label: string; color: string; dash: number[] }[];
  };
}

before(async () => {
  served = await serveWebviews(root, { sharpness: { css: ["common.css", "analysisPanels.css"], html: sharpnessHtml } });
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "sharpness", { width: 1100, height: 900 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("the sharpness with its 2/η line, phases shaded and listed, catapult on the loss, LLC band and boundaries", async () => {
  await post(page, { type: "init", runs: [RUN, OTHER] });
  const charts = await hook<ChartInfo[]>(page, "charts()");
  assert.deepEqual(
    charts.map((c) => c.name),
    ["sharpness", "loss", "llc"],
  );
  const [sharp, lossChart, llc] = charts as [ChartInfo, ChartInfo, ChartInfo];
  assert.deepEqual(
    sharp.lines.map((l) => l.label),
    ["λ₁ (top eigenvalue)", "λ₂", "threshold 2/η", "0.9·threshold"],
  );
  assert.deepEqual(
    sharp.lines[2]!.points,
    STEPS.map((x) => ({ x, y: 20 })),
  );
  assert.deepEqual(
    sharp.lines[0]!.points.map((p) => p.y),
    TOP,
  );
  assert.deepEqual(
    sharp.marks.bands.map((b) => [b.label, b.start, b.end]),
    [
      ["progressive sharpening", 0, 400],
      ["edge of stability", 500, 800],
      ["edge of stability", 1000, 1200],
    ],
  );
  assert.deepEqual(sharp.marks.lines, [
    { step: 850, label: "catapult", color: sharp.marks.lines[0]!.color, dash: [3, 3] },
  ]);
  assert.equal(lossChart.yType, "logarithmic");
  assert.deepEqual(
    lossChart.marks.lines.map((l) => l.step),
    [850],
  );
  assert.deepEqual(
    llc.lines.map((l) => l.label),
    ["_upper", "_lower", "λ̂"],
  );
  assert.deepEqual(
    llc.lines[0]!.points.map((p) => p.y - 0.5),
    RUN.llc!.values,
  );
  assert.deepEqual(
    llc.marks.lines.map((l) => l.step),
    [350, 850],
  );

  // Drawn, not just configured: the dashed threshold line at y = 20 and the bands' colours.
  const at = (step: number, value: number) =>
    hook<{ x: number; y: number }>(page, `pixelOf("sharpness", ${step}, ${value})`);
  const box = await page.locator("#sharpnessChart").boundingBox();
  assert.ok(box);
  const bg = [0x1f, 0x1f, 0x1f];
  const differs = (c: number[], ref: number[]) => c.some((v, i) => Math.abs(v - ref[i]!) > 12);
  const onThreshold = await at(650, 20);
  // The dashed line: some of the pixels along y = 20 are bright (foreground at 85%).
  let bright = 0;
  for (let dx = 0; dx < 40; dx++) {
    const column = [-1, 0, 1].map((dy) => pixel(page, "sharpnessChart", onThreshold.x + dx, onThreshold.y + dy));
    if ((await Promise.all(column)).some((c) => c.every((v) => v > 110))) bright++;
  }
  assert.ok(bright >= 10, `threshold line pixels: ${bright}`);
  // Inside the edge band (purple tint), inside the sharpening band (yellow tint): neither is the background, and they differ.
  const inEdge = await at(650, 9);
  const inSharpening = await at(200, 16);
  const edgeColor = await pixel(page, "sharpnessChart", inEdge.x, inEdge.y);
  const sharpeningColor = await pixel(page, "sharpnessChart", inSharpening.x, inSharpening.y);
  assert.ok(
    differs(edgeColor, bg) && differs(sharpeningColor, bg) && differs(edgeColor, sharpeningColor),
    `${edgeColor} / ${sharpeningColor}`,
  );
  assert.ok(edgeColor[2]! > edgeColor[1]!, `the edge band is purple-tinted: ${edgeColor}`);
  assert.ok(sharpeningColor[0]! > sharpeningColor[2]!, `the sharpening band is yellow-tinted: ${sharpeningColor}`);

  assert.match(
    await hook<string>(page, "summary()"),
    /^at the edge of stability.*last checkpoint: 1\.00 · edge = ≥ 0\.9·threshold for 2 checkpoints in a row$/,
  );
  const events = await hook<string>(page, "events()");
  assert.match(events, /progressive sharpening 0–400/);
  assert.match(events, /edge of stability 500–800/);
  assert.match(events, /catapult at 850: loss 0\.02 → 0\.5 \(peak 850\), sharpness 19\.9 → 14 \(step 900\)/);
  assert.match(events, /LLC at step 300: Effective sample size 31\.0 < 50/);
  await screenshot(page, root, "sharpness", true);
  assert.deepEqual(problems.errors, []);
});

test("a run without the analyses says why (LLC off by default), and run names stay text", async () => {
  await page.selectOption("#run", OTHER.runId);
  await until(page, `window.__lmPanel.state().runId === ${JSON.stringify(OTHER.runId)}`);
  assert.deepEqual(await page.locator("#run option").allTextContents(), ["eos η=0.1", XSS]);
  assert.equal(await page.locator("img").count(), 0);
  assert.equal(await page.locator("#sharpnessNote").textContent(), "Not available: not analysed yet");
  assert.equal(await page.locator("#llcNote").textContent(), `Not available: ${LLC_OFF}`);
  assert.ok(await page.locator("#sharpnessCell.missing").isVisible());
  const charts = await hook<ChartInfo[]>(page, "charts()");
  assert.deepEqual(
    charts.map((c) => c.name),
    ["loss"],
  );
  await screenshot(page, root, "sharpness-missing");
  assert.deepEqual(problems.errors, []);
});
