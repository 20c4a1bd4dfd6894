// The loss-curves webview in a real Chromium (Debian's, through playwright-core): the built
// bundle and style sheet, the page from `lossCurvesHtml` with its CSP, typed host messages in,
// posted messages, DOM and canvas pixels out. A screenshot is left at dist/test/webview/lossCurves.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { LossCurvesState, LossCurvesWebviewMessage as WebviewMessage } from "../../src/shared/panels/lossCurves";
import {
  isLossCurvesHostMessage as isHostMessage,
  isLossCurvesWebviewMessage as isWebviewMessage,
} from "../../src/shared/panels/lossCurves";
import {
  launchChromium,
  openLossCurves,
  postAndDraw,
  run,
  screenshot,
  serveLossCurves,
  syntheticPoints,
  until,
  type PageProblems,
  type Served,
} from "./lossCurvesHarness";

const root = path.resolve(__dirname, "../../..");
const XSS_LABEL = "<img src=x onerror=alert(1)>";

let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

const runA = run(
  "modAdd-20250601T120000Z-3fa2",
  "modAdd wd=1e-3",
  0,
  syntheticPoints({ from: 0, to: 6000, every: 10, evalEvery: 100, seed: 1, grokAt: 4200 }),
);
const runB = run(
  "modAdd-20250601T130000Z-77c1",
  XSS_LABEL,
  1,
  syntheticPoints({ from: 0, to: 4000, every: 10, evalEvery: 100, seed: 2, scale: 1.3, secondsPerStep: 0.02 }),
);

async function posted(p: Page): Promise<WebviewMessage[]> {
  const msgs = (await p.evaluate("window.__posted")) as unknown[];
  for (const m of msgs)
    assert.ok(isWebviewMessage(m), `not a valid webview message: ${JSON.stringify(m).slice(0, 200)}`);
  return msgs as WebviewMessage[];
}

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

/** Pixels of the chart canvas within a small distance of `hex`. */
async function countColor(p: Page, hex: string): Promise<number> {
  return (await p.evaluate(`(() => {
    const c = document.getElementById("chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const r = parseInt("${hex}".slice(1, 3), 16), g = parseInt("${hex}".slice(3, 5), 16), b = parseInt("${hex}".slice(5, 7), 16);
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 30) n++;
    return n;
  })()`)) as number;
}

async function lastOf<K extends WebviewMessage["type"]>(
  p: Page,
  type: K,
): Promise<Extract<WebviewMessage, { type: K }> | undefined> {
  const msgs = await posted(p);
  return msgs.filter((m): m is Extract<WebviewMessage, { type: K }> => m.type === type).at(-1);
}

before(async () => {
  served = await serveLossCurves(root);
  browser = await launchChromium();
  ({ page, problems } = await openLossCurves(browser, served.origin));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("the guards accept the protocol's messages and reject malformed ones", () => {
  const points = { step: [0, 10], time: [0, 1], values: { train_loss: [2, null] } };
  assert.ok(isHostMessage({ type: "init", runs: [run("r", "r", 0, points)] }));
  assert.ok(isHostMessage({ type: "append", runId: "r", points }));
  assert.ok(isHostMessage({ type: "runStatus", runId: "r", status: "diverged" }));
  assert.ok(
    !isHostMessage({ type: "append", runId: "r", points: { ...points, time: [0] } }),
    "columns of different lengths",
  );
  assert.ok(!isHostMessage({ type: "append", runId: "r", points: { ...points, values: { train_loss: [2, "x"] } } }));
  assert.ok(!isHostMessage({ type: "runStatus", runId: "r", status: "exploded" }));
  assert.ok(!isHostMessage({ type: "init", runs: [], state: { xAxis: "epoch" } }));
  assert.ok(!isHostMessage({ type: "ready" }), "a webview message is not a host message");
  assert.ok(isWebviewMessage({ type: "ready" }));
  assert.ok(!isWebviewMessage({ type: "exportPng", dataUrl: "javascript:alert(1)", suggestedName: "x.png" }));
});

test("posts ready on load, with no CSP violation or page error", async () => {
  const msgs = await posted(page);
  assert.deepEqual(msgs[0], { type: "ready" });
  assert.deepEqual(await page.evaluate("window.__cspViolations"), []);
  assert.deepEqual(problems.errors, []);
  assert.equal(await page.locator("#empty").isVisible(), true);
});

test("init with two runs: both labels in the legend, as text (no element from a label)", async () => {
  await page.evaluate(() =>
    (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(
      { type: "init", runs: [{ runId: 1 }] },
      "*",
    ),
  );
  await page.evaluate("new Promise((r) => setTimeout(r, 50))");
  assert.equal(await hook<number>(page, "messagesHandled()"), 0, "a malformed message is ignored");
  await postAndDraw(page, { type: "init", runs: [runA, runB] });
  const labels = await page.locator("#legend .label").allTextContents();
  assert.deepEqual(labels, ["modAdd wd=1e-3", XSS_LABEL]);
  assert.equal(await page.locator("img").count(), 0);
  assert.equal(await page.locator("#empty").isVisible(), false);
  assert.deepEqual(problems.dialogs, []);
  assert.equal(await hook<number>(page, `pointCount(${JSON.stringify(runA.runId)})`), 601);
  assert.equal(
    await hook<number>(page, `metricLength(${JSON.stringify(runA.runId)}, "test_loss")`),
    61,
    "test loss only where evaluated",
  );
});

test("the canvas shows both runs in their theme colours, on the editor background", async () => {
  const blue = await countColor(page, "#3794ff");
  const red = await countColor(page, "#f14c4c");
  const background = await countColor(page, "#1f1f1f");
  assert.ok(blue > 300, `blue pixels: ${blue}`);
  assert.ok(red > 300, `red pixels: ${red}`);
  assert.ok(background > 100_000, `background pixels: ${background}`);
  assert.equal(await hook<string>(page, `colorOf(${JSON.stringify(runB.runId)})`), "#f14c4c");
  assert.deepEqual(await page.evaluate("window.__cspViolations"), []);
});

test("append adds points to the run and to the drawn curves without a rebuild", async () => {
  const lengths = async (): Promise<number> => {
    const ds = await hook<{ label: string; length: number }[]>(page, "datasetLengths()");
    const d = ds.find((x) => x.label === "modAdd wd=1e-3 train_loss");
    assert.ok(d, "train_loss curve of run A");
    return d.length;
  };
  const before = await lengths();
  const draws = await hook<number>(page, "drawCount()");
  await postAndDraw(page, {
    type: "append",
    runId: runA.runId,
    points: syntheticPoints({ from: 6010, to: 6200, every: 10, evalEvery: 100, seed: 3, grokAt: 4200 }),
  });
  assert.equal(await hook<number>(page, `pointCount(${JSON.stringify(runA.runId)})`), 601 + 20);
  assert.equal(await lengths(), before + 20);
  assert.ok((await hook<number>(page, "drawCount()")) > draws);
  await page.evaluate(
    (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
    { type: "runStatus", runId: runA.runId, status: "finished" },
  );
  await until(page, "document.querySelector('#legend .status').textContent === 'finished'");
  assert.deepEqual(await page.locator("#legend .status").allTextContents(), ["finished", "running"]);
});

test("log y switches the loss axis to logarithmic and reports the state", async () => {
  assert.equal(await hook<string>(page, 'scaleType("y")'), "linear");
  await page.click("#logY");
  await until(page, 'window.__lmPanel.scaleType("y") === "logarithmic"');
  await until(page, "window.__posted.some((m) => m.type === 'stateChanged' && m.state.logY)");
  const st = await lastOf(page, "stateChanged");
  assert.equal(st?.state.logY, true);
  await page.click("#logX");
  await until(page, 'window.__lmPanel.scaleType("x") === "logarithmic"');
  await page.click("#logX");
  await until(page, 'window.__lmPanel.scaleType("x") === "linear"');
});

test("smoothing is the debiased EMA and the slider changes it", async () => {
  const id = JSON.stringify(runA.runId);
  const raw = await hook<number[]>(page, `raw(${id}, "train_loss")`);
  const ema = (w: number): number[] => {
    let e = 0;
    return raw.map((y, i) => {
      e = w * e + (1 - w) * y;
      return w === 0 ? y : e / (1 - w ** (i + 1));
    });
  };
  const at06 = await hook<number[]>(page, `smoothed(${id}, "train_loss")`);
  assert.equal(at06[0], raw[0], "debiased: starts at the first value");
  at06.forEach((v, i) => {
    assert.ok(Math.abs(v - (ema(0.6)[i] as number)) < 1e-9 * Math.abs(v), `w=0.6 at ${i}`);
  });
  await page.locator("#smoothing").fill("0.95");
  await until(page, "window.__lmPanel.state().smoothing === 0.95");
  const at095 = await hook<number[]>(page, `smoothed(${id}, "train_loss")`);
  assert.notDeepEqual(at095, at06);
  const expected = ema(0.95);
  at095.forEach((v, i) => {
    assert.ok(Math.abs(v - (expected[i] as number)) < 1e-9 * Math.abs(v), `w=0.95 at ${i}`);
  });
  assert.equal(await page.locator("#smoothingValue").textContent(), "0.95");
});

test("CSV export posts the header and one row per metrics line", async () => {
  await page.click("#exportCsv");
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const msg = await lastOf(page, "exportCsv");
  assert.ok(msg);
  assert.equal(msg.suggestedName, "modAdd-20250601T120000Z-3fa2+1-metrics.csv");
  const lines = msg.csv.trimEnd().split("\n");
  assert.equal(
    lines[0],
    "run_id,label,step,time,train_loss,test_loss,train_acc,test_acc,train_loss_smoothed,test_loss_smoothed",
  );
  assert.equal(lines.length, 1 + 621 + 401);
  const first = (lines[1] as string).split(",");
  assert.deepEqual(first.slice(0, 4), [runA.runId, "modAdd wd=1e-3", "0", "0"]);
  assert.equal(Number(first[4]), runA.points.values["train_loss"]?.[0]);
  const second = (lines[2] as string).split(",");
  assert.equal(second[5], "", "no test loss at step 10");
  const bRow = lines[1 + 621] as string;
  assert.ok(bRow.startsWith(`${runB.runId},${XSS_LABEL},0,0,`), bRow);
});

test("PNG export posts a PNG data URL of the chart", async () => {
  await page.click("#exportPng");
  await until(page, "window.__posted.some((m) => m.type === 'exportPng')");
  const msg = await lastOf(page, "exportPng");
  assert.ok(msg);
  assert.ok(msg.dataUrl.startsWith("data:image/png;base64,"));
  assert.ok(Buffer.from(msg.dataUrl.split(",")[1] as string, "base64").length > 5000);
});

test("wheel zooms the x range, drag pans it, double-click resets", async () => {
  const box = await page.locator("#chart").boundingBox();
  assert.ok(box);
  await page.click("#logY"); // back to linear
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page.mouse.wheel(0, -400);
  await until(page, "window.__lmPanel.state().zoom !== null");
  const z1 = (await hook<LossCurvesState>(page, "state()")).zoom;
  assert.ok(z1 && z1.xMax - z1.xMin < 6200 * 0.8, JSON.stringify(z1));
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5 + 100, box.y + box.height * 0.5, { steps: 4 });
  await page.mouse.up();
  const z2 = (await hook<LossCurvesState>(page, "state()")).zoom;
  assert.ok(z2 && z2.xMin < z1.xMin, `panned left: ${JSON.stringify(z2)}`);
  assert.ok(Math.abs(z2.xMax - z2.xMin - (z1.xMax - z1.xMin)) < 1e-6 * z1.xMax, "pan keeps the width");
  await page.mouse.dblclick(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await until(page, "window.__lmPanel.state().zoom === null");
});

test("x = wall time plots against seconds; a legend click hides a run", async () => {
  await page.click('vscode-radio[value="time"]');
  await until(page, 'window.__lmPanel.state().xAxis === "time"');
  // Run B logs 0.02 s per step: its last train_loss point (step 4000) is at 80 s.
  assert.deepEqual(
    await hook<[number, number]>(page, 'datasetXRange("<img src=x onerror=alert(1)> train_loss")'),
    [0, 80],
  );
  await page.click('vscode-radio[value="step"]');
  await until(page, 'window.__lmPanel.state().xAxis === "step"');

  await page.locator("#legend .run").nth(1).click();
  await until(page, `window.__lmPanel.state().hiddenRuns.includes(${JSON.stringify(runB.runId)})`);
  const labels = (await hook<{ label: string }[]>(page, "datasetLengths()")).map((d) => d.label);
  assert.ok(labels.length > 0 && labels.every((l) => l.startsWith("modAdd wd=1e-3")), labels.join(" | "));
  await until(page, "window.__posted.some((m) => m.type === 'stateChanged' && m.state.hiddenRuns.length === 1)");
  await page.locator("#legend .run").nth(1).click();
  await until(page, "window.__lmPanel.state().hiddenRuns.length === 0");
});

test("a theme change recolours the runs", async () => {
  await page.evaluate(`document.documentElement.style.setProperty("--vscode-charts-blue", "#00ffaa")`);
  await until(page, `window.__lmPanel.colorOf(${JSON.stringify(runA.runId)}) === "#00ffaa"`);
  assert.ok((await countColor(page, "#00ffaa")) > 300);
  await page.evaluate(`document.documentElement.style.setProperty("--vscode-charts-blue", "#3794ff")`);
  await until(page, `window.__lmPanel.colorOf(${JSON.stringify(runA.runId)}) === "#3794ff"`);
});

test("init with a saved state restores the controls", async () => {
  const p = await browser.newPage({ viewport: { width: 800, height: 400 }, deviceScaleFactor: 1 });
  try {
    await p.goto(`${served.origin}/`);
    await until(p, "window.__posted.some((m) => m.type === 'ready')");
    const state: LossCurvesState = {
      xAxis: "step",
      logX: false,
      logY: true,
      showAccuracy: true,
      smoothing: 0.3,
      zoom: { xMin: 1000, xMax: 2000 },
      hiddenRuns: [],
    };
    await postAndDraw(p, { type: "init", runs: [runA], state });
    assert.equal(await p.locator("#logY").evaluate((el) => (el as unknown as { checked: boolean }).checked), true);
    assert.equal(await p.locator("#smoothing").inputValue(), "0.3");
    assert.equal(await hook<string>(p, 'scaleType("y")'), "logarithmic");
    const r = await hook<[number, number]>(p, 'datasetXRange("modAdd wd=1e-3 train_loss")');
    assert.deepEqual(r, [990, 2010], "the zoomed range plus one point beyond each edge");
  } finally {
    await p.close();
  }
});

test("screenshot: two runs with accuracy and the crosshair", async () => {
  await page.locator("#smoothing").fill("0.6");
  await page.click("#showAccuracy");
  await until(page, 'window.__lmPanel.scaleType("yAcc") === "linear" && window.__lmPanel.state().showAccuracy');
  const box = await page.locator("#chart").boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.4);
  await until(page, "!document.getElementById('tooltip').hidden");
  const tip = await page.locator("#tooltip").textContent();
  assert.ok(tip?.includes("modAdd wd=1e-3 · train_loss"), tip ?? "");
  assert.equal(await page.locator("img").count(), 0);
  await screenshot(page, root, "lossCurves");
  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.dialogs, []);
});

test("a 1,000,000-point run draws, decimated, with its spike kept", async () => {
  const p = await browser.newPage({ viewport: { width: 1000, height: 560 }, deviceScaleFactor: 1 });
  try {
    await p.goto(`${served.origin}/`);
    await until(p, "window.__posted.some((m) => m.type === 'ready')");
    const ms = (await p.evaluate(`(async () => {
      const n = 1000000, step = [], time = [], loss = []; // dense arrays, as JSON.parse makes them
      for (let i = 0; i < n; i++) { step.push(i); time.push(i * 0.001); loss.push(3 * Math.exp(-i / 200000) + 0.1 + 0.05 * Math.sin(i * 0.37)); }
      loss[654321] = 50; // a blow-up that decimation must keep
      const msg = { type: "init", runs: [{ runId: "big", label: "1M points", colorIndex: 2, points: { step, time, values: { train_loss: loss } } }] };
      const t0 = performance.now();
      window.postMessage(msg, "*");
      let t1; // the first draw that shows the run (a resize draw of the empty chart may come first)
      do t1 = await window.__lmPanel.nextDraw(); while (window.__lmPanel.pointCount("big") !== n);
      return t1 - t0;
    })()`)) as number;
    console.log(`# first paint of a 1,000,000-point run: ${ms.toFixed(0)} ms (post init → chart drawn)`);
    assert.equal(await hook<number>(p, 'pointCount("big")'), 1_000_000);
    const ds = await hook<{ label: string; length: number }[]>(p, "datasetLengths()");
    const smooth = ds.find((d) => d.label === "1M points train_loss");
    assert.ok(smooth && smooth.length > 100 && smooth.length <= 4 * 1000, JSON.stringify(ds));
    const yTop = await hook<number>(p, 'scaleMax("y")');
    assert.ok(yTop >= 50, `y axis reaches the spike: ${yTop}`);
    assert.ok((await countColor(p, "#89d185")) > 200);

    // Zooming re-decimates the visible range only: the curve then starts and ends near its edges.
    const box = await p.locator("#chart").boundingBox();
    assert.ok(box);
    await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 6; i++) await p.mouse.wheel(0, -500);
    await until(
      p,
      "(() => { const z = window.__lmPanel.state().zoom; return z !== null && z.xMax - z.xMin < 100000; })()",
    );
    await p.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"); // the coalesced re-decimation
    const zoom = (await hook<LossCurvesState>(p, "state()")).zoom;
    assert.ok(zoom);
    const range = await hook<[number, number]>(p, 'datasetXRange("1M points train_loss")');
    assert.ok(
      range[0] >= zoom.xMin - 1 && range[1] <= zoom.xMax + 1,
      `${JSON.stringify(range)} within ${JSON.stringify(zoom)}`,
    );
    const zoomedLen =
      (await hook<{ label: string; length: number }[]>(p, "datasetLengths()")).find(
        (d) => d.label === "1M points train_loss",
      )?.length ?? 0;
    assert.ok(zoomedLen > 100 && zoomedLen <= 4000, String(zoomedLen));
  } finally {
    await p.close();
  }
});

test("a host error shows as text above the chart, the panel stays usable; unreadable lines are counted in the legend", async () => {
  const { page: p, problems: pp } = await openLossCurves(browser, served.origin);
  try {
    const message = `modAdd: metrics.jsonl: ${XSS_LABEL}`;
    await p.evaluate(
      (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
      { type: "error", message },
    );
    await until(p, "window.__lmPanel.error() !== null");
    assert.equal(await p.locator("#panelError").textContent(), message);
    assert.equal(await p.locator("#panelError").isVisible(), true);
    assert.equal(await p.locator("img").count(), 0, "the message is text, not HTML");
    await postAndDraw(p, { type: "init", runs: [{ ...runA, badLines: 3 }] });
    assert.equal(await p.locator("#panelError").isVisible(), false, "the next init clears it");
    assert.equal(await p.locator("#legend .bad-lines").textContent(), "3 lines could not be read");
    await p.click("#logY");
    await until(p, 'window.__lmPanel.scaleType("y") === "logarithmic"');
    await postAndDraw(p, {
      type: "append",
      runId: runA.runId,
      points: syntheticPoints({ from: 6010, to: 6100, every: 10, evalEvery: 100, seed: 5 }),
      badLines: 4,
    });
    assert.equal(await p.locator("#legend .bad-lines").textContent(), "4 lines could not be read");
    assert.deepEqual(pp.dialogs, []);
    assert.deepEqual(pp.errors, []);
  } finally {
    await p.close();
  }
});
