// The loss-curves panel with any logged scalars, in a real Chromium: a run written by a logger
// with `/` namespaces (loss/train, loss/val, acc/val, lr, epoch, and a hostile key). The picker
// lists the groups, a metric put on the right axis is drawn there, a logged monotone key becomes
// x, the CSV has the chosen columns, and the choice survives a restore (older states too).
// A screenshot with the picker open is left at dist/test/webview/lossCurves-scalars.png.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type {
  LossCurvesState,
  LossCurvesWebviewMessage as WebviewMessage,
  PlotChoice,
  SeriesPoints,
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
const XSS_KEY = "<img src=x onerror=alert(1)>";

/**
 * What a PyTorch script with the logger writes: loss/train and lr every 10 steps, loss/val and
 * acc/val every 100, epoch on every line (100 steps an epoch, from line 3 on: the first lines
 * have none), and a hostile key on a few lines.
 */
function namespacedPoints(from: number, to: number): SeriesPoints {
  const v: Record<string, (number | null)[]> = {
    "loss/train": [],
    "loss/val": [],
    "acc/val": [],
    lr: [],
    epoch: [],
    [XSS_KEY]: [],
  };
  const p: SeriesPoints = { step: [], time: [], values: v };
  const col = (k: string): (number | null)[] => v[k] as (number | null)[];
  for (let s = from; s <= to; s += 10) {
    p.step.push(s);
    p.time.push(s * 0.05);
    col("loss/train").push(3 * Math.exp(-s / 800) + 0.1 + 0.05 * Math.sin(s));
    col("lr").push(0.1 * 0.5 * (1 + Math.cos((Math.PI * s) / 3000)));
    const evalLine = s % 100 === 0;
    col("loss/val").push(evalLine ? 3.2 * Math.exp(-s / 1000) + 0.3 : null);
    col("acc/val").push(evalLine ? Math.min(0.97, s / 2500) + 0.03 * ((s / 100) % 2) : null); // rises, not monotonically
    col("epoch").push(s >= 30 ? Math.floor(s / 100) : null);
    col(XSS_KEY).push(s % 500 === 0 ? 1 : null);
  }
  return p;
}

const nsRun = run("torch-20260101T000000Z-aaaa", "torch run", 0, namespacedPoints(0, 3000));

let browser: Browser;
let served: Served;
let page: Page;
let problems: PageProblems;

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

async function posted(p: Page): Promise<WebviewMessage[]> {
  return (await p.evaluate("window.__posted")) as WebviewMessage[];
}

/**
 * Chart pixels of run A's blue (#3794ff) ink, antialiased edges of thin and dotted lines included:
 * clearly blue (b > 110, b − r > 70), which the faint raw lines behind (22% alpha) and the grey
 * axes are not.
 */
async function blueInk(p: Page): Promise<number> {
  return (await p.evaluate(`(() => {
    const c = document.getElementById("chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 110 && d[i + 2] - d[i] > 70) n++;
    return n;
  })()`)) as number;
}

/** Two animation frames: a coalesced redraw has happened. */
const afterFrames = (p: Page): Promise<unknown> =>
  p.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");

before(async () => {
  served = await serveLossCurves(root);
  browser = await launchChromium();
  ({ page, problems } = await openLossCurves(browser, served.origin));
  await postAndDraw(page, { type: "init", runs: [nsRun] });
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("the picker lists the groups with their keys, as text; the default is loss left, accuracy right", async () => {
  await page.click("#pickerSummary");
  const groups = await page.locator("#pickerPanel .picker-group-name").allTextContents();
  assert.deepEqual(groups, ["loss", "acc", XSS_KEY, "epoch", "lr"]);
  const keys = await page.locator("#pickerPanel .picker-key").allTextContents();
  assert.deepEqual(keys, ["loss/train", "loss/val", "acc/val", XSS_KEY, "epoch", "lr"]);
  assert.equal(await page.locator("img").count(), 0, "a hostile key is text, not an element");
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(await hook<PlotChoice[]>(page, "choices()"), [
    { key: "loss/train", axis: "left" },
    { key: "loss/val", axis: "left" },
    { key: "acc/val", axis: "right" },
  ]);
  assert.equal(await page.locator('select[data-key="loss/val"]').inputValue(), "left");
  assert.equal(await page.locator('select[data-key="lr"]').inputValue(), "off");
  assert.equal(await hook<string>(page, 'scaleTitle("y")'), "loss");
  assert.equal(await page.locator("#pickerSummary").textContent(), "metrics (3)");
  const labels = (await hook<{ label: string; length: number }[]>(page, "datasetLengths()")).map((d) => d.label);
  assert.ok(labels.includes("torch run loss/train") && labels.includes("torch run loss/val"), labels.join(" | "));
  assert.ok(!labels.some((l) => l.includes("acc/val")), "the right axis is off, as before");
  assert.deepEqual(
    await hook<string[]>(page, "xOptions()"),
    ["step", "time", "epoch"],
    "lr decreases, acc/val wobbles; epoch never decreases",
  );
  assert.equal(await page.locator("#xOther").isVisible(), true);
  await page.keyboard.press("Escape");
  assert.equal(await page.locator("#pickerPanel").isVisible(), false, "Escape closes the picker");
});

test("lr on the right axis is drawn there, on its own range, and the state says so", async () => {
  await page.click("#pickerSummary");
  await page.selectOption('select[data-key="acc/val"]', "off");
  await until(page, "!window.__lmPanel.choices().some((c) => c.key === 'acc/val')");
  await page.keyboard.press("Escape");
  // The right axis on, empty: choosing lr below then changes the blue ink by its curve only.
  await page.click("#showAccuracy");
  await until(page, "window.__lmPanel.state().showAccuracy");
  await afterFrames(page);
  const inkBefore = await blueInk(page);
  await page.click("#pickerSummary");
  await page.selectOption('select[data-key="lr"]', "right");
  await until(page, "window.__lmPanel.choices().some((c) => c.key === 'lr' && c.axis === 'right')");
  await page.keyboard.press("Escape");
  await afterFrames(page);
  const state = await hook<LossCurvesState>(page, "state()");
  assert.equal(state.showAccuracy, true, "putting a metric on the right shows the right axis");
  assert.deepEqual(state.plot, [
    { key: "loss/train", axis: "left" },
    { key: "loss/val", axis: "left" },
    { key: "lr", axis: "right" },
  ]);
  const ds = await hook<{ label: string; length: number }[]>(page, "datasetLengths()");
  const lr = ds.find((d) => d.label === "torch run lr");
  assert.ok(lr && lr.length > 100, JSON.stringify(ds));
  assert.equal(await hook<string>(page, 'scaleTitle("yAcc")'), "lr");
  const top = await hook<number>(page, 'scaleMax("yAcc")');
  assert.ok(top >= 0.1 && top < 0.2, `the right axis fits lr (≤ 0.1), not 0–1: ${top}`);
  assert.equal(await page.locator("#showAccuracy").textContent(), "lr", "the right axis's checkbox is named after it");
  const inkAfter = await blueInk(page);
  console.log(`# blue ink: ${inkBefore} px before lr, ${inkAfter} px with lr on the right`);
  assert.ok(inkAfter > inkBefore + 300, `the lr curve adds ink: ${inkBefore} → ${inkAfter}`);
  await until(
    page,
    "window.__posted.some((m) => m.type === 'stateChanged' && (m.state.plot ?? []).some((c) => c.key === 'lr'))",
  );
  assert.match((await page.locator("#styleHint").textContent()) ?? "", /dotted: lr/);
});

test("epoch as x: the x axis is titled epoch and spans the epochs; back to steps with the radio", async () => {
  await page.selectOption("#xOther", "epoch");
  await until(page, 'window.__lmPanel.state().xAxis === "epoch"');
  assert.equal(await hook<string>(page, 'scaleTitle("x")'), "epoch");
  // Lines 0–20 come before the first epoch value: they have no x and are not drawn.
  assert.deepEqual(await hook<[number, number]>(page, 'datasetXRange("torch run loss/train")'), [0, 30]);
  assert.equal(await hook<number>(page, 'scaleMax("x")'), 30);
  const radios = await page
    .locator("vscode-radio")
    .evaluateAll((els) => els.map((e) => (e as unknown as { checked: boolean }).checked));
  assert.deepEqual(radios, [false, false], "neither step nor wall time");
  await page.click('vscode-radio[value="step"]');
  await until(page, 'window.__lmPanel.state().xAxis === "step"');
  assert.equal(await hook<string>(page, 'scaleTitle("x")'), "step");
  assert.equal(await page.locator("#xOther").inputValue(), "");
  assert.deepEqual(await hook<[number, number]>(page, 'datasetXRange("torch run loss/train")'), [0, 3000]);
  await page.selectOption("#xOther", "epoch");
  await until(page, 'window.__lmPanel.state().xAxis === "epoch"');
});

test("CSV export: step, time, the x key, then the chosen metrics by key, smoothed columns for the drawn", async () => {
  await page.click("#exportCsv");
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const msg = (await posted(page)).filter((m) => m.type === "exportCsv").at(-1);
  assert.ok(msg && msg.type === "exportCsv");
  const lines = msg.csv.trimEnd().split("\n");
  assert.equal(
    lines[0],
    "run_id,label,step,time,epoch,loss/train,loss/val,lr,loss/train_smoothed,loss/val_smoothed,lr_smoothed",
  );
  assert.equal(lines.length, 1 + 301);
  const row = (lines[11] as string).split(","); // step 100
  assert.deepEqual(row.slice(2, 5), ["100", "5", "1"]);
  assert.equal(Number(row[5]), nsRun.points.values["loss/train"]?.[10]);
  assert.equal(Number(row[6]), nsRun.points.values["loss/val"]?.[10]);
  assert.equal(Number(row[7]), nsRun.points.values["lr"]?.[10]);
  assert.equal((lines[2] as string).split(",")[6], "", "no loss/val at step 10");
});

test("a key that first appears in an append joins the picker (and the default choice draws it)", async () => {
  const { page: p } = await openLossCurves(browser, served.origin);
  try {
    await postAndDraw(p, { type: "init", runs: [nsRun] });
    await p.click("#showAccuracy");
    await until(p, "window.__lmPanel.state().showAccuracy");
    const more: SeriesPoints = { step: [3010], time: [150.5], values: { "loss/train": [0.2], "acc/test": [0.9] } };
    await postAndDraw(p, { type: "append", runId: nsRun.runId, points: more });
    await until(p, "window.__lmPanel.choices().some((c) => c.key === 'acc/test')");
    const labels = (await hook<{ label: string }[]>(p, "datasetLengths()")).map((d) => d.label);
    assert.ok(labels.includes("torch run acc/test"), labels.join(" | "));
    assert.ok((await p.locator("#pickerPanel .picker-key").allTextContents()).includes("acc/test"));
  } finally {
    await p.close();
  }
});

test("the choice and x survive a restore; an older state (no plot) and an x the runs lack restore to defaults", async () => {
  const saved = (await posted(page)).filter((m) => m.type === "stateChanged").at(-1);
  assert.ok(saved && saved.type === "stateChanged");
  assert.equal(saved.state.xAxis, "epoch");
  const { page: p } = await openLossCurves(browser, served.origin);
  try {
    await postAndDraw(p, { type: "init", runs: [nsRun], state: saved.state });
    assert.deepEqual(await hook<PlotChoice[]>(p, "choices()"), saved.state.plot);
    assert.equal(await hook<string>(p, 'scaleTitle("x")'), "epoch");
    assert.equal(await p.locator("#xOther").inputValue(), "epoch");
    assert.equal(await p.locator('select[data-key="lr"]').inputValue(), "right");
    assert.equal(
      await p.locator("#showAccuracy").evaluate((el) => (el as unknown as { checked: boolean }).checked),
      true,
    );

    // A state saved before the picker existed: no `plot`, x is step or time.
    const older = {
      xAxis: "time",
      logX: false,
      logY: false,
      showAccuracy: true,
      smoothing: 0.6,
      zoom: null,
      hiddenRuns: [],
    };
    await postAndDraw(p, { type: "init", runs: [nsRun], state: older });
    assert.deepEqual(
      (await hook<PlotChoice[]>(p, "choices()")).map((c) => c.key),
      ["loss/train", "loss/val", "acc/val"],
    );
    assert.equal(await hook<string>(p, 'scaleTitle("x")'), "wall time");
    assert.equal(await hook<string>(p, 'scaleTitle("yAcc")'), "accuracy");
    assert.equal(await hook<number>(p, 'scaleMax("yAcc")'), 1);

    // The classic four keys with an older state: the same view as before the picker.
    const classic = run(
      "modAdd-20250601T120000Z-3fa2",
      "modAdd",
      1,
      syntheticPoints({ from: 0, to: 2000, every: 10, evalEvery: 100, seed: 1 }),
    );
    await postAndDraw(p, { type: "init", runs: [classic], state: { ...older, xAxis: "tokens" } });
    assert.equal(await hook<string>(p, "state().xAxis"), "step", "an x these runs do not log falls back to step");
    assert.deepEqual(
      (await hook<{ label: string }[]>(p, "datasetLengths()")).map((d) => d.label),
      [
        "modAdd train_loss",
        "modAdd train_loss (raw)",
        "modAdd test_loss",
        "modAdd test_loss (raw)",
        "modAdd train_acc",
        "modAdd train_acc (raw)",
        "modAdd test_acc",
        "modAdd test_acc (raw)",
      ],
    );
    assert.equal(await p.locator("#xOther").isVisible(), false, "no other x to offer");
  } finally {
    await p.close();
  }
});

test("at 600 px the picker and the x selector fit: the open picker stays inside the panel", async () => {
  const { page: p, problems: pp } = await openLossCurves(browser, served.origin, { width: 600, height: 420 });
  try {
    await postAndDraw(p, {
      type: "init",
      runs: [nsRun, { ...nsRun, runId: "second", label: "a second run with a long label", colorIndex: 1 }],
    });
    await p.click("#pickerSummary");
    await until(p, "document.getElementById('metricPicker').open");
    const boxes = (await p.evaluate(`(() => {
      const b = (id) => { const r = document.getElementById(id).getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; };
      return { panel: b("pickerPanel"), x: b("xOther"), summary: b("pickerSummary"), width: document.documentElement.clientWidth, height: document.documentElement.clientHeight };
    })()`)) as {
      panel: { left: number; right: number; top: number; bottom: number };
      x: { right: number; bottom: number };
      summary: { top: number };
      width: number;
      height: number;
    };
    assert.ok(boxes.panel.left >= 0 && boxes.panel.right <= boxes.width, JSON.stringify(boxes));
    assert.ok(boxes.panel.bottom <= boxes.height, `the picker scrolls within the panel: ${JSON.stringify(boxes)}`);
    assert.ok(boxes.x.right <= boxes.width, "the x selector is not cut off");
    await p.selectOption('select[data-key="epoch"]', "left");
    await until(p, "window.__lmPanel.choices().some((c) => c.key === 'epoch')");
    await screenshot(p, root, "lossCurves-scalars-600");
    assert.deepEqual(pp.errors, []);
  } finally {
    await p.close();
  }
});

test("the crosshair names the x key and the chosen metrics, a hostile key as text", async () => {
  await page.click("#pickerSummary");
  await page.locator(`select[data-key="${XSS_KEY}"]`).selectOption("left");
  await until(page, `window.__lmPanel.choices().some((c) => c.key === ${JSON.stringify(XSS_KEY)})`);
  await page.keyboard.press("Escape");
  const box = await page.locator("#chart").boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
  await until(page, "!document.getElementById('tooltip').hidden");
  const head = await page.locator("#tooltip .tt-head").textContent();
  assert.match(head ?? "", /^epoch \d/);
  const names = await page.locator("#tooltip .tt-name").allTextContents();
  assert.ok(names.includes("torch run · lr") && names.includes("torch run · loss/train"), names.join(" | "));
  assert.ok(names.includes(`torch run · ${XSS_KEY}`), names.join(" | "));
  assert.equal(await page.locator("img").count(), 0);
  await page.click("#pickerSummary");
  await page.locator(`select[data-key="${XSS_KEY}"]`).selectOption("off");
  await until(page, `!window.__lmPanel.choices().some((c) => c.key === ${JSON.stringify(XSS_KEY)})`);
  await page.keyboard.press("Escape");
  await page.mouse.move(box.x + box.width * 0.6, box.y - 40);
});

test("screenshot: the picker open over the chart, lr on the right, epoch as x", async () => {
  await page.click("#pickerSummary");
  await until(page, "document.getElementById('metricPicker').open");
  await afterFrames(page);
  await screenshot(page, root, "lossCurves-scalars");
  await page.keyboard.press("Escape");
  assert.deepEqual(problems.errors, []);
  assert.deepEqual(await page.evaluate("window.__cspViolations"), []);
});
