// The grokking webview in Chromium: typed messages in; summary cards, phase shading, t_mem/t_gen
// lines, indicator charts on the shared step axis, exports out. Screenshot: dist/test/webview/grokking.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { GrokCurves, GrokReport, GrokRun, GrokkingState, IndicatorSeries } from "../../src/shared/panels/grokking";
import { frames, lastPosted, post, posted, serveAnalysisPanels, XSS } from "./analysisPanels";
import { launchChromium, openPanel, screenshot, until, type PageProblems, type Served } from "./panelHarness";

const root = path.resolve(__dirname, "../../..");
let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** Curves of a run memorizing near `mem` and generalizing near `gen` (Infinity: never), every 50 steps. */
function curves(from: number, to: number, mem: number, gen: number): GrokCurves {
  const c: GrokCurves = { step: [], trainAcc: [], testAcc: [], trainLoss: [], testLoss: [], paramNorm: [] };
  for (let s = from; s <= to; s += 50) {
    const tr = 0.01 + 0.99 * sig((s - mem) / 150);
    const te = 0.01 + 0.99 * sig((s - gen) / 300);
    c.step.push(s);
    c.trainAcc.push(tr);
    c.trainLoss.push(4.6 * (1 - tr) + 1e-3);
    c.testAcc.push(s % 200 === 0 ? te : null);
    c.testLoss.push(s % 200 === 0 ? 4.6 * (1 - te) + 0.5 * (1 - te) * tr + 1e-2 : null);
    c.paramNorm.push(40 - 15 * sig((s - (mem + gen) / 2) / 800));
  }
  return c;
}

const INDICATORS = ["weight norm", "kernel–target alignment", "Fourier Gini", "restricted loss", "excluded loss"];
function indicators(from: number, to: number, gen: number): IndicatorSeries[] {
  return INDICATORS.map((name, k) => {
    const steps: number[] = [];
    const values: (number | null)[] = [];
    for (let s = from; s <= to; s += 250) {
      steps.push(s);
      values.push(k === 3 && s === 500 ? null : (k + 1) * sig((s - gen + 2000) / 600));
    }
    return { name, steps, values };
  });
}

const REPORT_A: GrokReport = {
  tMem: 1200,
  tGen: 6200,
  delay: 5000,
  ratio: 6200 / 1200,
  testAccAtMem: 0.0105,
  atChance: true,
  verdict: "grokked",
  phases: [
    { name: "memorization", fromStep: 0, toStep: 1200 },
    { name: "circuit formation", fromStep: 1200, toStep: 5000 },
    { name: "cleanup", fromStep: 5000, toStep: 6200 },
  ],
  indicators: [
    { name: "weight norm", step: 3000, leadTime: 3200 },
    { name: "Fourier Gini", step: 4000, leadTime: 2200 },
    { name: "restricted loss" },
  ],
};
const REPORT_B: GrokReport = {
  tMem: 900,
  testAccAtMem: 0.02,
  atChance: true,
  verdict: "memorized",
  phases: [{ name: "memorization", fromStep: 0, toStep: 900 }],
  indicators: [],
};

const RUN_A: GrokRun = {
  runId: "modAdd-wd1",
  label: "modAdd wd=1",
  colorIndex: 0,
  curves: curves(0, 10_000, 1000, 6000),
  report: REPORT_A,
  indicators: indicators(0, 10_000, 6000),
};
const RUN_B: GrokRun = {
  runId: "modAdd-wd0",
  label: XSS,
  colorIndex: 1,
  curves: curves(0, 8000, 800, Infinity),
  report: REPORT_B,
  indicators: indicators(0, 8000, 1e9).slice(0, 2),
};

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

/** Pixels of the main chart's column at step `step` (CSS px) close to `rgb`, over the plot's height. */
async function columnMatches(
  p: Page,
  step: number,
  rgb: [number, number, number],
  tol = 8,
): Promise<{ hits: number; height: number }> {
  const x = Math.round(await hook<number>(p, `xPixel(${step})`));
  const a = await hook<{ top: number; bottom: number }>(p, "area()");
  return (await p.evaluate(`(() => {
    const c = document.getElementById("mainChart");
    const d = c.getContext("2d").getImageData(${x}, ${Math.ceil(a.top)}, 1, ${Math.floor(a.bottom - a.top)}).data;
    let hits = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - ${rgb[0]}) <= ${tol} && Math.abs(d[i + 1] - ${rgb[1]}) <= ${tol} && Math.abs(d[i + 2] - ${rgb[2]}) <= ${tol}) hits++;
    return { hits, height: d.length / 4 };
  })()`)) as { hits: number; height: number };
}

/** `color` at alpha over the dark editor background #1f1f1f. */
const over = (hex: string, alpha: number): [number, number, number] =>
  [1, 3, 5].map((i) => Math.round(0x1f * (1 - alpha) + parseInt(hex.slice(i, i + 2), 16) * alpha)) as [
    number,
    number,
    number,
  ];

before(async () => {
  served = await serveAnalysisPanels(root);
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "grokking", { width: 1100, height: 1100 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("init: one summary card per run with verdict badge, t_mem, t_gen, ratio and lead times; labels as text", async () => {
  assert.deepEqual((await posted(page))[0], { type: "ready" });
  await post(page, { type: "init", runs: [RUN_A, RUN_B] });
  const cards = page.locator(".card");
  assert.equal(await cards.count(), 2);
  const a = cards.nth(0);
  assert.equal(await a.locator(".badge").textContent(), "grokked");
  assert.match((await a.locator(".badge").getAttribute("class")) ?? "", /badge-grokked/);
  assert.equal(await a.locator(".v-tmem").textContent(), "1200");
  assert.equal(await a.locator(".v-tgen").textContent(), "6200");
  assert.equal(await a.locator(".v-delay").textContent(), "5000");
  assert.equal(await a.locator(".v-ratio").textContent(), "5.167×");
  assert.equal(await a.locator(".v-accmem").textContent(), "1.1 % (chance)");
  assert.deepEqual(await a.locator(".v-lead").allTextContents(), ["3200 steps", "2200 steps", "did not fire"]);
  const b = cards.nth(1);
  assert.equal(await b.locator(".card-label").textContent(), XSS);
  assert.equal(await b.locator(".badge").textContent(), "memorized (no generalization yet)");
  assert.equal(await b.locator(".v-tgen").textContent(), "—");
  assert.deepEqual(await page.locator("#legend .label").allTextContents(), ["modAdd wd=1", XSS]);
  assert.equal(await page.locator("img").count(), 0);
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(await page.evaluate("window.__cspViolations"), []);
});

test("param_norm and the indicators: one chart per series name, on the main chart's step range", async () => {
  const charts = await hook<{ name: string; min: number; max: number }[]>(page, "indicatorCharts()");
  assert.deepEqual(
    charts.map((c) => c.name),
    ["param_norm", ...INDICATORS],
    "the logged parameter norm first, then the indicators",
  );
  const [min, max] = await hook<[number, number]>(page, "mainRange()");
  assert.deepEqual([min, max], [0, 10_000]);
  for (const c of charts) assert.deepEqual([c.min, c.max], [min, max], c.name);
});

test("phases of the focused run are shaded; t_mem and t_gen are vertical lines in the run's colour", async () => {
  // Phase 2 ("circuit formation", palette entry 3 = yellow at 10 %) covers step 3300; nothing is shaded at 8000.
  const shade = over("#cca700", 0.1);
  const inPhase = await columnMatches(page, 3300, shade); // off the grid lines (ticks at multiples of 1000)
  const outside = await columnMatches(page, 8000, shade);
  assert.ok(inPhase.hits > 0.5 * inPhase.height, `shaded: ${inPhase.hits}/${inPhase.height}`);
  assert.equal(outside.hits, 0);
  // t_gen of run A (solid line, #3794ff) fills its column; t_mem is dashed (about 5/8 of it).
  const tGen = await columnMatches(page, 6200, [0x37, 0x94, 0xff], 40);
  const tMem = await columnMatches(page, 1200, [0x37, 0x94, 0xff], 40);
  assert.ok(tGen.hits > 0.8 * tGen.height, `t_gen line: ${tGen.hits}/${tGen.height}`);
  assert.ok(
    tMem.hits > 0.4 * tMem.height && tMem.hits < 0.85 * tMem.height,
    `t_mem dashed line: ${tMem.hits}/${tMem.height}`,
  );
  // Run B's t_mem at 900 in its colour (#f14c4c).
  const bMem = await columnMatches(page, 900, [0xf1, 0x4c, 0x4c], 40);
  assert.ok(bMem.hits > 0.4 * bMem.height, `run B t_mem: ${bMem.hits}/${bMem.height}`);
});

test("log x applies to the main chart and every indicator chart", async () => {
  await page.click("#logX");
  await until(page, "window.__lmPanel.state().logX === true");
  await frames(page);
  assert.equal(await hook<string>(page, 'scaleType("x")'), "logarithmic");
  const charts = await hook<{ type: string; min: number }[]>(page, "indicatorCharts()");
  assert.ok(
    charts.every((c) => c.type === "logarithmic" && c.min === 50),
    JSON.stringify(charts),
  );
  await until(page, "window.__posted.some((m) => m.type === 'stateChanged' && m.state.logX)");
  await page.click("#logX");
  await until(page, "window.__lmPanel.state().logX === false");
});

test("update appends records and indicator points and replaces the report", async () => {
  const more = curves(8050, 9000, 800, 8500);
  await post(page, {
    type: "update",
    runId: RUN_B.runId,
    curves: more,
    indicators: [{ name: "weight norm", steps: [8250, 8500], values: [1.5, 1.6] }],
    report: { ...REPORT_B, tGen: 8600, delay: 7700, ratio: 8600 / 900, verdict: "grokked" },
  });
  assert.equal(
    await hook<number>(page, `pointCount(${JSON.stringify(RUN_B.runId)})`),
    RUN_B.curves.step.length + more.step.length,
  );
  const b = page.locator(".card").nth(1);
  assert.equal(await b.locator(".badge").textContent(), "grokked");
  assert.equal(await b.locator(".v-tgen").textContent(), "8600");
  assert.equal(await b.locator(".v-ratio").textContent(), "9.556×");
});

test("CSV export: every curve and indicator value, long format", async () => {
  await page.click("#exportCsv");
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const msg = await lastPosted(page, "exportCsv");
  assert.ok(msg);
  const lines = msg.csv.trimEnd().split("\n");
  assert.equal(lines[0], "run_id,label,series,step,value");
  const count = (g: GrokRun, extraCurves = 0, extraInd = 0): number =>
    (["trainAcc", "testAcc", "trainLoss", "testLoss", "paramNorm"] as const).reduce(
      (s, k) => s + g.curves[k].filter((v) => v !== null).length,
      0,
    ) +
    extraCurves +
    g.indicators.reduce((s, i) => s + i.values.filter((v) => v !== null).length, 0) +
    extraInd;
  const more = curves(8050, 9000, 800, 8500);
  const moreCount = (["trainAcc", "testAcc", "trainLoss", "testLoss", "paramNorm"] as const).reduce(
    (s, k) => s + more[k].filter((v) => v !== null).length,
    0,
  );
  assert.equal(lines.length - 1, count(RUN_A) + count(RUN_B, moreCount, 2));
  assert.ok(lines.includes(`modAdd-wd1,modAdd wd=1,trainAcc,0,${RUN_A.curves.trainAcc[0]}`));
  assert.ok(lines.some((l) => l.startsWith(`modAdd-wd0,${XSS},weight norm,8500,1.6`)));
  assert.equal(
    lines.filter((l) => l.includes(",restricted loss,500,")).length,
    0,
    "a null indicator value has no line",
  );
});

test("PNG export stacks the main chart and the indicator charts", async () => {
  await page.click("#exportPng");
  await until(page, "window.__posted.some((m) => m.type === 'exportPng')");
  const msg = await lastPosted(page, "exportPng");
  assert.ok(msg);
  const png = Buffer.from(msg.dataUrl.split(",")[1]!, "base64");
  const height = png.readUInt32BE(20);
  assert.equal(height, 300 + 6 * 120, "main chart 300 px + parameter norm and five indicator charts of 120 px");
});

test("focus and state restore: shading follows the focused run; init with state restores the toggles", async () => {
  await page.locator("#legend .run").nth(1).click();
  await until(page, `window.__lmPanel.state().focusRun === ${JSON.stringify(RUN_B.runId)}`);
  await frames(page);
  const shade = over("#cca700", 0.1);
  assert.equal((await columnMatches(page, 3300, shade)).hits, 0, "run B has no second phase");
  await page.locator("#legend .run").nth(0).click();
  await until(page, `window.__lmPanel.state().focusRun === ${JSON.stringify(RUN_A.runId)}`);
  await screenshot(page, root, "grokking", true);
  assert.deepEqual(problems.errors, []);

  const p = (await openPanel(browser, served.origin, "grokking", { width: 900, height: 700 })).page;
  try {
    const state: GrokkingState = { logX: true, logLoss: false, focusRun: RUN_B.runId, hiddenRuns: [RUN_A.runId] };
    await post(p, { type: "init", runs: [RUN_A, RUN_B], state });
    assert.equal(await p.locator("#logX").evaluate((e) => (e as unknown as { checked: boolean }).checked), true);
    assert.equal(await hook<string>(p, 'scaleType("yLoss")'), "linear");
    assert.equal(await p.locator(".card").count(), 1, "the hidden run has no card");
    assert.deepEqual(await p.locator("#legend .run.hidden .label").allTextContents(), ["modAdd wd=1"]);
  } finally {
    await p.close();
  }
});

test("a long run and a large catch-up update: all points kept, each curve drawn decimated", async () => {
  const p = (await openPanel(browser, served.origin, "grokking", { width: 900, height: 700 })).page;
  try {
    const long: GrokRun = { ...RUN_A, curves: curves(0, 10_000_000, 50_000, 300_000), indicators: [] };
    await post(p, { type: "init", runs: [long] });
    const more = curves(10_000_050, 17_500_000, 50_000, 300_000);
    await post(p, { type: "update", runId: long.runId, curves: more, indicators: [], report: long.report });
    assert.equal(
      await hook<number>(p, `pointCount(${JSON.stringify(long.runId)})`),
      long.curves.step.length + more.step.length,
    );
    assert.equal(long.curves.step.length + more.step.length, 350_001);
    const lengths = await hook<number[]>(p, "datasetLengths()");
    assert.equal(lengths.length, 4);
    // ≤ 4 points per bucket of ~plot width (≥ 64 buckets); the test curves are sparser (every 4th line).
    assert.ok(
      lengths.every((n) => n > 100 && n <= 4 * 900),
      JSON.stringify(lengths),
    );
  } finally {
    await p.close();
  }
});

test("a host error shows as text and the panel stays usable; a run's unreadable metrics lines are on its card", async () => {
  const { page: p, problems: pp } = await openPanel(browser, served.origin, "grokking", { width: 1000, height: 800 });
  try {
    const message = `broken: run.json: ${XSS}`;
    await post(p, { type: "error", message });
    assert.equal(await p.locator("#panelError").textContent(), message);
    assert.equal(await p.locator("#panelError").isVisible(), true);
    assert.equal(await p.locator("img").count(), 0, "the message is text, not HTML");
    await post(p, { type: "init", runs: [{ ...RUN_A, badLines: 1 }, RUN_B] });
    await post(p, { type: "error", message: "broken: run.json: not JSON" }); // a problem beside the runs that could be read
    assert.equal(await p.locator("#panelError").textContent(), "broken: run.json: not JSON");
    assert.equal(await p.locator(".card").count(), 2);
    assert.deepEqual(await p.locator(".card .bad-lines").allTextContents(), [
      "metrics.jsonl: 1 line could not be read",
    ]);
    await p.click("#logX");
    await until(p, "window.__lmPanel.state().logX === true");
    assert.deepEqual(pp.dialogs, []);
    assert.deepEqual(pp.errors, []);
  } finally {
    await p.close();
  }
});
