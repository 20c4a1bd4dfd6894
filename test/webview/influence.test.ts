// The influence webview in Chromium: typed messages in; heatmap pixels, DOM, posted messages out.
// Screenshots: dist/test/webview/influence*.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import {
  DEFAULT_INFLUENCE_STATE,
  isInfluenceState,
  MAX_INTERVENE_EXAMPLES,
  type InfluenceState,
} from "../../src/shared/panels/influence";
import {
  countColor,
  frames,
  influenceRun,
  lastPosted,
  pixel,
  post,
  posted,
  serveAnalysisPanels,
  XSS,
} from "./analysisPanels";
import {
  DARK_THEME,
  launchChromium,
  openPanel,
  screenshot,
  until,
  type PageProblems,
  type Served,
} from "./panelHarness";

const root = path.resolve(__dirname, "../../..");
const RUN = influenceRun();
const N = RUN.examples.length;
const T = RUN.matrices[0]!.steps.length;
const STEPS = RUN.matrices[0]!.steps;
const TRACIN = RUN.matrices[0]!.values as Float32Array;
const DEFAULT_STATE: InfluenceState = DEFAULT_INFLUENCE_STATE;

let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

async function cellPixel(p: Page, example: number, step: number): Promise<[number, number, number]> {
  const c = await hook<{ x: number; y: number } | null>(p, `cellCenter(${example}, ${step})`);
  assert.ok(c, `cell of example ${example} at step ${step}`);
  return pixel(p, "heatmap", c.x, c.y);
}

const BG = [0x1f, 0x1f, 0x1f];
const redish = ([r, g, b]: number[]): boolean => r! > b! + 80 && r! > g! + 60;
const blueish = ([r, , b]: number[]): boolean => b! > r! + 80;
const near = (a: number[], b: number[], tol = 6): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

/** Expected drawn order (example indices) computed here from the data, independently of the panel. */
function expectedOrder(key: (i: number) => number[]): number[] {
  const idx = Array.from({ length: N }, (_, i) => i);
  idx.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let k = 0; k < ka.length; k++) if (ka[k] !== kb[k]) return ka[k]! - kb[k]!;
    return a - b;
  });
  return idx.map((i) => RUN.examples[i]!.index);
}
const total = (i: number): number => {
  let s = 0;
  for (let j = 0; j < T; j++) s += TRACIN[i * T + j]!;
  return s;
};

before(async () => {
  served = await serveAnalysisPanels(root);
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "influence", { width: 1200, height: 720 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("posts ready; ignores a malformed init; no CSP violation", async () => {
  assert.deepEqual((await posted(page))[0], { type: "ready" });
  await page.evaluate(() =>
    (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(
      { type: "init", run: { ...{ runId: "x" } } },
      "*",
    ),
  );
  await frames(page);
  assert.equal(await hook<number>(page, "messagesHandled()"), 0);
  assert.deepEqual(await page.evaluate("window.__cspViolations"), []);
});

test("init: colour limit is the 99th percentile of |v| (the +100 outlier does not set it), shown in the legend", async () => {
  await post(page, { type: "init", run: RUN });
  // 720 values, sorted by magnitude: index 711 (the 99th percentile) falls among the 24 cells of ±1.
  assert.equal(await hook<number>(page, "limit()"), 1);
  assert.equal(await page.locator("#legendMin").textContent(), "−1");
  assert.equal(await page.locator("#legendMax").textContent(), "+1");
  assert.match((await page.locator("#legendNote").textContent()) ?? "", /99th percentile/);
  assert.equal(await page.locator("#runLabel").textContent(), "modAdd p=97");
  // Legend bar: blue at the left end, background in the middle, red at the right end.
  assert.ok(blueish(await pixel(page, "legendBar", 1, 5)));
  assert.ok(near(await pixel(page, "legendBar", 90, 5), BG, 12));
  assert.ok(redish(await pixel(page, "legendBar", 178, 5)));
});

test("cells: positive red-ish, negative blue-ish, zero neutral (the background), outlier saturated red", async () => {
  for (const step of [STEPS[0]!, STEPS[5]!, STEPS[T - 1]!]) {
    assert.ok(redish(await cellPixel(page, 0, step)), `example 0 at ${step}`);
    assert.ok(blueish(await cellPixel(page, 3, step)), `example 1 (index 3) at ${step}`);
    assert.ok(
      near(await cellPixel(page, 6, step), BG),
      `example 2 (index 6) at ${step}: ${await cellPixel(page, 6, step)}`,
    );
  }
  assert.deepEqual(
    await cellPixel(page, 15, STEPS[0]!),
    await cellPixel(page, 0, STEPS[0]!),
    "the outlier is clipped to the colour of +limit",
  );
  // A half-limit value is about halfway between background and red.
  const flip = await cellPixel(page, 9, STEPS[0]!); // example 3: +0.8
  const full = await cellPixel(page, 0, STEPS[0]!);
  assert.ok(flip[0] < full[0] && flip[0] > BG[0]! + 0.6 * (full[0] - BG[0]!), `0.8·limit: ${flip} vs ${full}`);
});

test("sign flips: counted per row and marked in the marker column", async () => {
  const flips = await hook<number[]>(page, "flips()");
  const expected = Array.from({ length: N }, (_, i) => (i === 3 ? 1 : i === 10 || i === 20 ? 2 : 0));
  assert.deepEqual(flips, expected);
  const width = (await page.evaluate("document.getElementById('heatmap').width")) as number;
  const markerX = width - 4 - 3; // inside the 6-px marker column at the right edge
  const y3 = (await hook<{ y: number }>(page, `cellCenter(9, ${STEPS[0]})`)).y;
  const y4 = (await hook<{ y: number }>(page, `cellCenter(12, ${STEPS[0]})`)).y;
  assert.ok(near(await pixel(page, "heatmap", markerX, y3), [0xcc, 0xa7, 0x00], 10), "row with a flip: yellow marker");
  assert.ok(near(await pixel(page, "heatmap", markerX, y4), BG), "row without a flip: no marker");
});

test("sorting changes the row order as expected, and the top row's pixels follow", async () => {
  await page.selectOption("#sort", "total");
  await until(page, "window.__lmPanel.state().sort === 'total'");
  assert.deepEqual(
    await hook<number[]>(page, "order()"),
    expectedOrder((i) => [-total(i)]),
  );
  const top = await hook<{ x: number; y: number }>(page, `cellCenter(15, ${STEPS[0]})`); // the outlier row has the largest total
  assert.ok(top.y < 20, `outlier row drawn first: y=${top.y}`);
  assert.ok(redish(await pixel(page, "heatmap", top.x, 6)));

  await page.selectOption("#sort", "signFlip");
  await until(page, "window.__lmPanel.state().sort === 'signFlip'");
  const flipsOf = (i: number): number => (i === 3 ? 1 : i === 10 || i === 20 ? 2 : 0);
  const order = await hook<number[]>(page, "order()");
  assert.deepEqual(
    order,
    expectedOrder((i) => [-flipsOf(i), -Math.abs(total(i))]),
  );
  assert.deepEqual(
    order.slice(0, 3).sort((a, b) => a - b),
    [9, 30, 60],
    "the three flipping rows first",
  );

  await page.click("#groupByLabel");
  await until(page, "window.__lmPanel.state().groupByLabel === true");
  const grouped = await hook<number[]>(page, "order()");
  const labelOf = (index: number): string => RUN.examples.find((e) => e.index === index)!.label;
  // Groups in natural label order (the malicious label sorts first: "<" < "e"), sort within groups.
  const labels = grouped.map(labelOf);
  assert.deepEqual([...new Set(labels)], [XSS, "even", "odd"]);
  const evens = grouped.filter((i) => labelOf(i) === "even");
  assert.deepEqual(
    evens.slice(0, 2).sort((a, b) => a - b),
    [30, 60],
    "flipping rows first within their group",
  );
  await page.click("#groupByLabel");
  await page.selectOption("#sort", "index");
  await until(page, "window.__lmPanel.state().sort === 'index' && !window.__lmPanel.state().groupByLabel");
  assert.deepEqual(
    await hook<number[]>(page, "order()"),
    RUN.examples.map((e) => e.index),
  );
});

test("clicking a cell opens the side view: the example as text (malicious label inert) and its curve", async () => {
  const c = await hook<{ x: number; y: number }>(page, `cellCenter(21, ${STEPS[4]})`); // example 7
  const box = (await page.locator("#heatmap").boundingBox())!;
  await page.mouse.click(box.x + c.x, box.y + c.y);
  await until(page, "window.__lmPanel.state().selected !== null");
  assert.deepEqual((await hook<InfluenceState>(page, "state()")).selected, { example: 21, step: STEPS[4] });
  // Kept with setState at once (VS Code restores it into a recreated page through getState).
  assert.deepEqual(await page.evaluate("window.acquireVsCodeApi().getState().selected"), {
    example: 21,
    step: STEPS[4],
  });
  assert.equal(await page.locator("#exTitle").textContent(), `Example 21 · label ${XSS}`);
  assert.equal(await page.locator("#exText").textContent(), "<script>alert(2)</script> a = 1, b = 2");
  const facts = await page.locator("#exFacts dd").allTextContents();
  assert.equal(facts[0], XSS);
  assert.equal(facts[1], `step ${STEPS[4]}`);
  assert.equal(Number(facts[2]), Number(TRACIN[7 * T + 4]!.toPrecision(4)));
  assert.equal(await page.locator("img").count(), 0);
  assert.equal(await page.locator("#sideExample script").count(), 0);
  assert.deepEqual(problems.dialogs, []);
  // The curve: drawn in the first palette colour.
  await frames(page);
  const blue = await countColor(page, "curve", "#3794ff", 40);
  assert.ok(blue > 50, `curve pixels: ${blue}`);
  const st = await lastPosted(page, "stateChanged");
  await until(
    page,
    "window.__posted.some((m) => m.type === 'stateChanged' && m.state.selected && m.state.selected.example === 21)",
  );
  assert.ok(st === undefined || isInfluenceState(st.state), "the influence panel's state");
});

test("arrow keys move the selection through the drawn rows and checkpoints", async () => {
  await page.focus("#heatmap");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowRight");
  await until(
    page,
    `(() => { const s = window.__lmPanel.state().selected; return s && s.example === 24 && s.step === ${STEPS[5]}; })()`,
  );
  assert.equal(await page.locator("#exTitle").textContent(), "Example 24 · label even");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowLeft");
  await until(
    page,
    `(() => { const s = window.__lmPanel.state().selected; return s && s.example === 21 && s.step === ${STEPS[4]}; })()`,
  );
});

test("method tabs: BIF shows its matrix (NaN cell neutral grey), chains and the mixing warning", async () => {
  assert.equal(await page.locator("#method").isVisible(), true);
  await page.click('vscode-radio[value="bif"]');
  await until(page, "window.__lmPanel.state().method === 'bif'");
  assert.ok(Math.abs((await hook<number>(page, "limit()")) - 0.1) < 1e-7);
  assert.ok(blueish(await cellPixel(page, 0, STEPS[0]!)), "BIF of example 0 is −0.1: blue");
  const nan = await cellPixel(page, 12, STEPS[2]!);
  assert.ok(!near(nan, BG, 3) && Math.abs(nan[0] - nan[2]) < 6, `missing cell grey: ${nan}`);
  await page.selectOption("#bifStep", String(STEPS[1]));
  await until(page, "!document.getElementById('bifWarning').hidden");
  assert.match((await page.locator("#bifWarning").textContent()) ?? "", /do not mix/);
  assert.match((await page.locator("#bifRhat").textContent()) ?? "", /R̂ = 1\.420 over 4 chains/);
  await page.selectOption("#bifStep", String(STEPS[0]));
  await until(page, "document.getElementById('bifWarning').hidden");
  await screenshot(page, root, "influence-bif");
  await page.click('vscode-radio[value="tracin"]');
  await until(page, "window.__lmPanel.state().method === 'tracin'");
  assert.equal(await page.locator("#bifSection").isVisible(), false);
});

test("CSV export: one row per example in the shown order, values and label as written", async () => {
  await page.click("#exportCsv");
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const msg = await lastPosted(page, "exportCsv");
  assert.ok(msg);
  assert.equal(msg.suggestedName, "modAdd-20261123T100000Z-ab12-tracin-influence.csv");
  const lines = msg.csv.trimEnd().split("\n");
  assert.equal(lines.length, 1 + N);
  assert.equal(lines[0], ["example_index", "label", ...STEPS.map((s) => `step_${s}`), "total", "sign_flips"].join(","));
  const row7 = lines[1 + 7]!.split(",");
  assert.equal(row7[0], "21");
  assert.equal(row7[1], XSS);
  assert.equal(Number(row7[2]), TRACIN[7 * T]!);
  assert.equal(lines[1 + 3]!.split(",").at(-1), "1");
});

test("PNG export posts the heatmap as a PNG data URL", async () => {
  await page.click("#exportPng");
  await until(page, "window.__posted.some((m) => m.type === 'exportPng')");
  const msg = await lastPosted(page, "exportPng");
  assert.ok(msg);
  assert.ok(msg.dataUrl.startsWith("data:image/png;base64,"));
  assert.ok(Buffer.from(msg.dataUrl.split(",")[1]!, "base64").length > 3000);
  assert.match(msg.suggestedName, /-influence\.png$/, "named by the influence panel");
});

test("rerun form: prefilled from the settings; posts typed overrides; rejects a negative value", async () => {
  await page.click("#rerun summary");
  assert.equal(await page.inputValue('input[name="tracin.projectionDim"]'), "512");
  assert.equal(await page.inputValue('input[name="bif.epsilon"]'), "0.0001");
  await page.fill('input[name="tracin.projectionDim"]', "256");
  await page.click('vscode-button[data-analysis="tracin"]');
  await until(page, "window.__posted.some((m) => m.type === 'rerunAnalysis')");
  const msg = await lastPosted(page, "rerunAnalysis");
  assert.deepEqual(msg, {
    type: "rerunAnalysis",
    runId: RUN.runId,
    analysis: "tracin",
    overrides: { tracin: { every: 1, projectionDim: 256, trainExamples: 0 } },
  });
  const count = (await posted(page)).filter((m) => m.type === "rerunAnalysis").length;
  await page.fill('input[name="bif.chains"]', "-3");
  await page.click('vscode-button[data-analysis="bif"]');
  await until(page, "document.querySelector('input[name=\"bif.chains\"]').getAttribute('aria-invalid') === 'true'");
  assert.equal((await posted(page)).filter((m) => m.type === "rerunAnalysis").length, count, "nothing posted");
  await page.fill('input[name="bif.chains"]', "8");
  await page.fill('input[name="bif.epsilon"]', "0.00005");
  await page.click('vscode-button[data-analysis="bif"]');
  await until(page, `window.__posted.filter((m) => m.type === 'rerunAnalysis').length === ${count + 1}`);
  const bif = await lastPosted(page, "rerunAnalysis");
  assert.equal(bif?.analysis, "bif");
  assert.deepEqual(bif?.overrides.bif, {
    every: 4,
    chains: 8,
    draws: 200,
    burnIn: 100,
    thin: 1,
    epsilon: 0.00005,
    gamma: 100,
    nBeta: 0,
    batchSize: 64,
  });
  await screenshot(page, root, "influence");
  assert.deepEqual(problems.errors, []);
});

test("fixed row height scrolls; state restored from init; the theme recolours the cells", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 1000, height: 600 })).page;
  try {
    const state: InfluenceState = {
      method: "bif",
      sort: "absTotal",
      groupByLabel: true,
      rowPx: 12,
      selected: { example: 0, step: STEPS[0]! },
    };
    await post(p, { type: "init", run: RUN, state });
    assert.equal(await p.inputValue("#sort"), "absTotal");
    assert.equal(await p.inputValue("#rowPx"), "12");
    assert.equal(await p.locator("#exTitle").textContent(), "Example 0 · label even");
    const spacer = (await p.evaluate("document.getElementById('heatSpacer').getBoundingClientRect().height")) as number;
    const plotH = await p.evaluate("document.getElementById('heatScroll').clientHeight - 26");
    assert.ok(Math.abs(spacer - (N * 12 - (plotH as number))) <= 1, `spacer ${spacer}`);
    // Scroll to the bottom: the last drawn row is in view, the first is not.
    await p.locator("#heatScroll").evaluate((e) => (e.scrollTop = e.scrollHeight));
    await frames(p);
    const order = await hook<number[]>(p, "order()");
    const last = await hook<{ y: number }>(p, `cellCenter(${order.at(-1)}, ${STEPS[0]})`);
    const first = await hook<{ y: number }>(p, `cellCenter(${order[0]}, ${STEPS[0]})`);
    assert.ok(first.y < 0 && last.y > 0, `${first.y} ${last.y}`);
    await p.evaluate(`document.documentElement.style.setProperty("--vscode-charts-blue", "#00ff00")`);
    await until(p, `(() => { const c = window.__lmPanel.cellCenter(3, ${STEPS[0]}); return c !== null; })()`);
    await p.locator("#heatScroll").evaluate((e) => (e.scrollTop = 0));
    await p.click('vscode-radio[value="tracin"]');
    await until(p, "window.__lmPanel.state().method === 'tracin'");
    const [r, g, b] = await cellPixel(p, 3, STEPS[0]!);
    assert.ok(g > r + 80 && g > b + 80, `negative cells follow --vscode-charts-blue: ${[r, g, b]}`);
    await p.evaluate(
      `document.documentElement.style.setProperty("--vscode-charts-blue", "${DARK_THEME["--vscode-charts-blue"]}")`,
    );
  } finally {
    await p.close();
  }
});

test("light theme: zero cells take the light editor background; signs keep their hues", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 1000, height: 600 })).page;
  try {
    await post(p, { type: "init", run: RUN });
    const light: Record<string, string> = {
      "--vscode-editor-background": "#ffffff",
      "--vscode-foreground": "#3b3b3b",
      "--vscode-charts-blue": "#1a85ff",
      "--vscode-charts-red": "#e51400",
      "--vscode-charts-yellow": "#bf8803",
      "--vscode-descriptionForeground": "#717171",
      "--vscode-badge-background": "#cccccc",
      "--vscode-badge-foreground": "#3b3b3b",
    };
    await p.evaluate(
      `(() => { const v = ${JSON.stringify(light)}; for (const k in v) document.documentElement.style.setProperty(k, v[k]); document.body.classList.replace("vscode-dark", "vscode-light"); })()`,
    );
    await until(
      p,
      "(() => { const c = document.getElementById('heatmap'); const d = c.getContext('2d').getImageData(1, 1, 1, 1).data; return d[0] === 255 && d[2] === 255; })()",
    );
    assert.ok(near(await cellPixel(p, 6, STEPS[3]!), [255, 255, 255]), "zero cell");
    assert.ok(redish(await cellPixel(p, 0, STEPS[3]!)));
    assert.ok(blueish(await cellPixel(p, 3, STEPS[3]!)));
    await screenshot(p, root, "influence-light");
  } finally {
    await p.close();
  }
});

test("10,000 × 200 renders, and fit mode keeps a lone extreme visible", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 1200, height: 720 })).page;
  try {
    await p.evaluate(() => {
      const n = 10_000;
      const t = 200;
      const values = new Float32Array(n * t);
      for (let i = 0; i < values.length; i++) values[i] = 0.01 * Math.sin(i * 0.37);
      values[7777 * t + 100] = -1; // one strong negative cell among 10,000 rows in ~700 pixel rows
      const examples = Array.from({ length: n }, (_, i) => ({ index: i, label: String(i % 10), text: "" }));
      const steps = Array.from({ length: t }, (_, j) => j * 10);
      (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(
        {
          type: "init",
          run: {
            runId: "big",
            label: "big",
            colorIndex: 0,
            examples,
            matrices: [{ method: "tracin", steps, values, query: "q" }],
            bifChains: [],
            settings: {},
          },
        },
        "*",
      );
    });
    await until(p, "window.__lmPanel.messagesHandled() === 1");
    await frames(p);
    const ms = await hook<number>(p, "lastInitMs()");
    assert.ok(ms > 0);
    const c = await hook<{ x: number; y: number }>(p, "cellCenter(7777, 1000)");
    const px = await pixel(p, "heatmap", c.x, c.y);
    assert.ok(
      blueish(px),
      `the lone −1 survives aggregation of ~14 rows per pixel: ${px} at ${JSON.stringify(c)}, limit ${await hook<number>(p, "limit()")}`,
    );
  } finally {
    await p.close();
  }
});

test("a run whose model cannot be rebuilt says why it has no influence, as text (never HTML)", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 900, height: 500 })).page;
  try {
    const empty = p.locator("#empty");
    assert.equal(await empty.textContent(), "Waiting for influence data…");
    const reason = `No influence analyses: the run was written by a Python script ${XSS}.`;
    await p.evaluate((unavailable) => {
      (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(
        {
          type: "init",
          run: {
            runId: "py",
            label: "py",
            colorIndex: 0,
            examples: [],
            matrices: [],
            bifChains: [],
            settings: {},
            unavailable,
          },
        },
        "*",
      );
    }, reason);
    await until(p, "window.__lmPanel.messagesHandled() === 1");
    await frames(p);
    assert.equal(await empty.isVisible(), true);
    assert.equal(await empty.textContent(), reason);
    assert.equal(await p.locator("#empty img, #empty script").count(), 0);
  } finally {
    await p.close();
  }
});

test("Remove and retrain…: posts the selected example, or TracIn's top 10 at the selected step; the LDS line is text", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 1200, height: 720 })).page;
  try {
    const calibration = `TracIn LDS 0.92 (20 subsets of 25 % at step 500) ${XSS}`;
    await post(p, { type: "init", run: { ...RUN, calibration } });
    assert.equal(await p.locator("#calibration").textContent(), calibration);
    assert.equal(await p.locator("img").count(), 0);
    // Nothing selected: the page says what to do and posts nothing.
    await p.click("#intervene");
    assert.match((await p.locator("#interveneStatus").textContent()) ?? "", /^Click a cell first/);
    assert.equal(await lastPosted(p, "intervene"), undefined);
    const selected: InfluenceState = {
      method: "tracin",
      sort: "index",
      groupByLabel: false,
      rowPx: 0,
      selected: { example: 21, step: STEPS[4]! },
    };
    await post(p, { type: "init", run: RUN, state: selected });
    assert.equal(await p.locator("#calibration").textContent(), "", "a run without calibration shows none");
    await p.click("#intervene");
    await until(p, "window.__posted.some((m) => m.type === 'intervene')");
    assert.deepEqual(await lastPosted(p, "intervene"), {
      type: "intervene",
      runId: RUN.runId,
      examples: [21],
      step: STEPS[4],
    });
    // The top 10 of TracIn's column at the selected step, computed here from the data.
    // Ties (rows 10 and 20 are both −0.6 there) go by row, either way.
    const rowsBy = (sign: number) =>
      Array.from({ length: N }, (_, i) => i).sort((a, b) => sign * (TRACIN[b * T + 4]! - TRACIN[a * T + 4]!) || a - b);
    const index = (i: number) => RUN.examples[i]!.index;
    for (const [which, rows] of [
      ["proponents", rowsBy(1).slice(0, 10)],
      ["opponents", rowsBy(-1).slice(0, 10)],
    ] as const) {
      await p.selectOption("#interveneWhich", which);
      const before = (await posted(p)).length;
      await p.click("#intervene");
      await until(p, `window.__posted.length > ${before}`);
      const msg = await lastPosted(p, "intervene");
      assert.deepEqual(msg?.examples, rows.map(index), which);
      assert.equal(msg?.step, STEPS[4]);
      assert.deepEqual(msg?.top, { which, count: 10 }, "the host may offer the top 10 over an interval instead");
    }
    // Calibrate…: the run shown, nothing else (the host asks the step, fraction and count).
    await p.click("#calibrate");
    await until(p, "window.__posted.some((m) => m.type === 'calibrate')");
    assert.deepEqual(await lastPosted(p, "calibrate"), { type: "calibrate", runId: RUN.runId });
  } finally {
    await p.close();
  }
});

test("rows selected by hand: Ctrl-click toggles, Shift-click adds the drawn rows between, Space toggles, Escape clears; marked in the gutter; posted as a list", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 1200, height: 720 })).page;
  try {
    const byTotal: InfluenceState = { ...DEFAULT_STATE, sort: "total" };
    await post(p, { type: "init", run: RUN, state: byTotal });
    const option = p.locator('#interveneWhich option[value="picked"]');
    assert.equal(await option.textContent(), "the selected examples (Ctrl/Cmd-click or Shift-click rows)");
    // Sorted by total, so drawn order ≠ index order: a range runs over what is drawn.
    const drawn = await hook<number[]>(p, "order()");
    assert.notDeepEqual(
      drawn,
      RUN.examples.map((e) => e.index),
    );
    const click = async (example: number, modifiers: ("Control" | "Shift")[] = []) => {
      const c = await hook<{ x: number; y: number }>(p, `cellCenter(${example}, ${STEPS[4]})`);
      await p.locator("#heatmap").click({ position: c, modifiers });
      await frames(p);
    };
    await click(drawn[2]!, ["Control"]);
    await click(drawn[6]!, ["Shift"]);
    const sortedIdx = (xs: number[]) => [...xs].sort((a, b) => a - b);
    assert.deepEqual(await hook<number[]>(p, "picked()"), sortedIdx(drawn.slice(2, 7)));
    await click(drawn[10]!, ["Control"]);
    await click(drawn[4]!, ["Control"]); // out again
    const expected = sortedIdx([drawn[2]!, drawn[3]!, drawn[5]!, drawn[6]!, drawn[10]!]);
    assert.deepEqual(await hook<number[]>(p, "picked()"), expected);
    // The clicked cell follows the last click (its step is the branch's latest checkpoint).
    assert.deepEqual((await hook<InfluenceState>(p, "state()")).selected, { example: drawn[4], step: STEPS[4] });
    // Space toggles the focused row: drawn[4] back in.
    await p.focus("#heatmap");
    await p.keyboard.press(" ");
    await frames(p);
    const withSpace = sortedIdx([...expected, drawn[4]!]);
    assert.deepEqual(await hook<number[]>(p, "picked()"), withSpace);
    assert.equal(await option.textContent(), "the 6 selected examples");
    // Marked: a light bar in the gutter left of the cells on selected rows, none on the others.
    const gutter = async (example: number) => {
      const c = await hook<{ x: number; y: number }>(p, `cellCenter(${example}, ${STEPS[4]})`);
      return pixel(p, "heatmap", 64 - 3, c.y);
    };
    for (const e of withSpace) {
      const px = await gutter(e);
      assert.ok(
        px.every((v) => v > 150),
        `example ${e} is marked: ${px}`,
      );
    }
    for (const e of [drawn[0]!, drawn[8]!, drawn[12]!]) assert.ok(near(await gutter(e), BG), `example ${e} is not`);
    // "Remove and retrain…" with "the 6 selected examples": the list, ascending, at the clicked step.
    await p.selectOption("#interveneWhich", "picked");
    await p.click("#intervene");
    await until(p, "window.__posted.some((m) => m.type === 'intervene')");
    assert.deepEqual(await lastPosted(p, "intervene"), {
      type: "intervene",
      runId: RUN.runId,
      examples: withSpace,
      step: STEPS[4],
    });
    // A re-sort keeps what was selected (by example, not by drawn position).
    await p.selectOption("#sort", "index");
    await frames(p);
    assert.deepEqual(await hook<number[]>(p, "picked()"), withSpace);
    // Escape clears; then "selected examples" asks for rows and posts nothing.
    await p.focus("#heatmap");
    await p.keyboard.press("Escape");
    await frames(p);
    assert.deepEqual(await hook<number[]>(p, "picked()"), []);
    assert.ok(near(await gutter(withSpace[0]!), BG), "the bar is gone");
    const before = (await posted(p)).filter((m) => m.type === "intervene").length;
    await p.click("#intervene");
    assert.match((await p.locator("#interveneStatus").textContent()) ?? "", /^Select rows first/);
    assert.equal((await posted(p)).filter((m) => m.type === "intervene").length, before);
  } finally {
    await p.close();
  }
});

test("a label group: all examples labelled as the clicked one, posted as their indices; the label is text", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 1200, height: 720 })).page;
  try {
    await post(p, {
      type: "init",
      run: RUN,
      state: { ...DEFAULT_STATE, selected: { example: 3, step: STEPS[2]! } },
    });
    const option = p.locator('#interveneWhich option[value="label"]');
    // Rows 1, 3, …, 59 are "odd" except row 7 (the malicious label): 29 examples, indices 3·row.
    const odd = RUN.examples.filter((e) => e.label === "odd").map((e) => e.index);
    assert.equal(odd.length, 29);
    assert.equal(await option.textContent(), "all 29 examples labelled odd");
    await p.selectOption("#interveneWhich", "label");
    await p.click("#intervene");
    await until(p, "window.__posted.some((m) => m.type === 'intervene')");
    assert.deepEqual(await lastPosted(p, "intervene"), {
      type: "intervene",
      runId: RUN.runId,
      examples: odd,
      step: STEPS[2],
    });
    // The malicious label names its group of one, as text.
    const c = await hook<{ x: number; y: number }>(p, `cellCenter(21, ${STEPS[2]})`);
    await p.locator("#heatmap").click({ position: c });
    await frames(p);
    assert.equal(await option.textContent(), `all 1 example labelled ${XSS}`);
    assert.equal(await p.locator("img").count(), 0);
  } finally {
    await p.close();
  }
});

test("a label group larger than the host takes is refused on the page, in words, and not posted", async () => {
  const p = (await openPanel(browser, served.origin, "influence", { width: 900, height: 500 })).page;
  try {
    // 2,400 examples, half labelled "even" (row 7 aside): 1,200 > MAX_INTERVENE_EXAMPLES.
    const big = influenceRun(2400, 4);
    await post(p, { type: "init", run: big, state: { ...DEFAULT_STATE, selected: { example: 0, step: 100 } } });
    assert.equal(
      await p.locator('#interveneWhich option[value="label"]').textContent(),
      "all 1200 examples labelled even",
    );
    await p.selectOption("#interveneWhich", "label");
    await p.click("#intervene");
    assert.equal(
      await p.locator("#interveneStatus").textContent(),
      `1200 examples are labelled even: at most ${MAX_INTERVENE_EXAMPLES} at once from the panel (the CLI takes more: lm intervene RUN --remove IDX,…).`,
    );
    assert.equal(await lastPosted(p, "intervene"), undefined);
  } finally {
    await p.close();
  }
});
