// The sweep webview in Chromium: points drawn (mean per x and single runs), the spread band,
// lines per second field, log axes, categories, a click posting the run, live point updates,
// hostile text from sweep.json staying text. Screenshot: dist/test/webview/sweep*.png.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { DEFAULT_SWEEP_STATE, type SweepHostMessage, isSweepWebviewMessage } from "../../src/shared/panels/sweep";
import type { SweepPanelPoint, SweepSeries } from "../../src/shared/sweepView";
import { sweepHtml } from "../../src/webview/sweep/page";
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

const WD = "optimizer.weightDecay";
const H = "model.hidden[0]";
const SWEEP = { dir: "/runs/mlp-sweep-20260101-000000", system: "mlp", fields: [WD, H], launcher: "local" as const };

/** 3 weight decays × 2 widths × 3 seeds; test loss = wd·10 + 1 + seed (width 8) or + 2·seed (width 16). */
function grid(): SweepPanelPoint[] {
  const out: SweepPanelPoint[] = [];
  for (const wd of [0.01, 0.1, 1])
    for (const h of [8, 16])
      for (const seed of [0, 1, 2]) {
        const index = out.length;
        out.push({
          index,
          runId: `${SWEEP.dir}/${String(index).padStart(4, "0")}`,
          values: { [WD]: wd, [H]: h },
          seed,
          status: "finished",
          y: { "final:test_loss": wd * 10 + 1 + (h === 8 ? seed : 2 * seed), "final:test_acc": 0.5 },
        });
      }
  return out;
}

async function post(p: Page, msg: SweepHostMessage): Promise<void> {
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

async function choose(p: Page, id: string, value: string): Promise<void> {
  await p.selectOption(`#${id}`, value);
  await frames(p);
}

async function toggle(p: Page, id: string): Promise<void> {
  await p.click(`#${id}`);
  await frames(p);
}

type Datasets = { label: string; points: { x: number; y: number; runId: string }[] }[];

before(async () => {
  served = await serveWebviews(root, { sweep: { css: ["common.css", "analysisPanels.css"], html: sweepHtml } });
  browser = await launchChromium();
  ({ page, problems } = await openPanel(browser, served.origin, "sweep", { width: 1000, height: 620 }));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
});

test("means and single runs against the first field, one line per width, the min–max band drawn", async () => {
  await post(page, { type: "init", sweep: SWEEP, points: grid() });
  const ds = await hook<Datasets>(page, "datasets()");
  assert.deepEqual(
    ds.map((d) => d.label),
    [`${H} = 8`, `${H} = 8 · runs`, `${H} = 16`, `${H} = 16 · runs`],
  );
  // Width 8: seeds add 0, 1, 2 → mean wd·10 + 2; width 16: 0, 2, 4 → mean wd·10 + 3.
  assert.deepEqual(
    ds[0]!.points.map((q) => [q.x, q.y]),
    [
      [0.01, 0.1 + 2],
      [0.1, 1 + 2],
      [1, 10 + 2],
    ],
  );
  assert.deepEqual(
    ds[2]!.points.map((q) => q.y),
    [0.1 + 3, 1 + 3, 10 + 3],
  );
  assert.equal(ds[1]!.points.length, 9);
  assert.deepEqual(await page.locator("#legend .legend-item").allTextContents(), [`${H} = 8`, `${H} = 16`]);
  const series = await hook<SweepSeries>(page, "series()");
  assert.deepEqual(
    series.series[1]!.points.map((q) => [q.lo, q.hi]),
    [
      [1.1, 5.1],
      [2, 6],
      [11, 15],
    ],
  );
  assert.deepEqual(await hook(page, "scales()"), ["linear", "linear"]);
  const summary = await page.textContent("#summary");
  assert.equal(summary, "mlp sweep · 18/18 finished · local");
  const note = (await page.textContent("#note")) ?? "";
  assert.match(note, /band and whiskers: min–max/);
  // The band of width 16 at wd = 1 spans y 11..15: its middle is shaded in the series colour, not background.
  const band = await hook<{ x: number; lo: number; hi: number }>(page, "bandPixels(1, 2)");
  const box = await page.locator("#sweepChart").boundingBox();
  const mid = await pixel(page, "sweepChart", band.x - 6 - box!.x, (band.lo + band.hi) / 2 - box!.y);
  const bg = await pixel(page, "sweepChart", 3, 3);
  assert.notDeepEqual(mid, bg, "the spread band is painted");
  await screenshot(page, root, "sweep");
});

test("± std spread, log x and log y, one line, categories for a non-numeric field", async () => {
  await choose(page, "spread", "std");
  let series = await hook<SweepSeries>(page, "series()");
  const p = series.series[0]!.points[0]!;
  assert.ok(Math.abs(p.hi - p.lo - 2 * Math.sqrt(2 / 3)) < 1e-9, "± one population std of 0, 1, 2");
  assert.match((await page.textContent("#note")) ?? "", /± 1 standard deviation/);
  await toggle(page, "logX");
  await toggle(page, "logY");
  assert.deepEqual(await hook(page, "scales()"), ["logarithmic", "logarithmic"]);
  assert.deepEqual(await hook(page, "state()"), { ...DEFAULT_SWEEP_STATE, spread: "std", logX: true, logY: true });
  await choose(page, "group", "");
  assert.deepEqual(
    (await hook<Datasets>(page, "datasets()")).map((d) => d.label),
    ["mean", "mean · runs"],
  );
  assert.match((await page.textContent("#note")) ?? "", /mean over seeds and model\.hidden\[0\]/);
  await toggle(page, "logX");
  await toggle(page, "logY");
  await choose(page, "spread", "minmax");
  // Categories: an optimizer name as x.
  const named = grid().map((q) => ({ ...q, values: { ...q.values, [WD]: q.values[WD] === 1 ? "adam" : "sgd" } }));
  await post(page, { type: "init", sweep: SWEEP, points: named });
  series = await hook<SweepSeries>(page, "series()");
  assert.equal(series.xKind, "category");
  assert.deepEqual(series.xValues, ["sgd", "adam"]);
  const ds = await hook<Datasets>(page, "datasets()");
  assert.deepEqual(
    ds[0]!.points.map((q) => q.x),
    [0, 1],
  );
});

test("a click on a single run's dot posts openRun with its folder", async () => {
  await post(page, { type: "init", sweep: SWEEP, points: grid(), state: { ...DEFAULT_SWEEP_STATE, group: "" } });
  const ds = await hook<Datasets>(page, "datasets()");
  // The highest dot at wd = 1: width 16, seed 2 (10 + 1 + 4 = 15), point index 17.
  const runs = ds[1]!.points;
  const i = runs.findIndex((q) => q.y === 15);
  const at = await hook<{ x: number; y: number }>(page, `pixelOf(1, ${i})`);
  await page.mouse.click(at.x, at.y);
  await until(page, "window.__posted.some((m) => m.type === 'openRun')");
  const msgs = (await page.evaluate("window.__posted")) as unknown[];
  const open = msgs.filter((m) => isSweepWebviewMessage(m) && m.type === "openRun");
  assert.deepEqual(open, [{ type: "openRun", runId: `${SWEEP.dir}/0017` }]);
});

test("points fill in live: a pending point that finishes appears, the count follows", async () => {
  const pts = grid().map((q) => (q.index >= 12 ? { ...q, status: "running" as const, y: {} } : q));
  await post(page, { type: "init", sweep: SWEEP, points: pts, state: DEFAULT_SWEEP_STATE });
  assert.equal(await page.textContent("#summary"), "mlp sweep · 12/18 finished · local");
  assert.match((await page.textContent("#note")) ?? "", /6 of 18 points have no final test_loss yet/);
  // Width 8 at wd = 0.01 and 0.1 (points 0–2, 6–8): six dots; wd = 1 has none yet.
  assert.equal((await hook<Datasets>(page, "datasets()"))[1]!.points.length, 6);
  await post(page, { type: "point", point: grid()[12]! });
  await frames(page);
  assert.equal(await page.textContent("#summary"), "mlp sweep · 13/18 finished · local");
  const ds = await hook<Datasets>(page, "datasets()");
  assert.equal(ds[1]!.points.length, 7);
  assert.deepEqual(ds[0]!.points.at(-1), { x: 1, y: 11, runId: `${SWEEP.dir}/0012` });
});

test("hostile field names and values stay text; no script runs, no CSP violation", async () => {
  const points = grid().map((q) => ({ ...q, values: { [XSS]: q.values[WD]!, [H]: `${XSS}${q.values[H]}` } }));
  await post(page, {
    type: "init",
    sweep: { ...SWEEP, system: XSS, fields: [XSS, H] },
    points,
    state: DEFAULT_SWEEP_STATE,
  });
  assert.equal(await page.locator("img").count(), 0);
  assert.equal(await page.textContent("#summary"), `${XSS} sweep · 18/18 finished · local`);
  const xOptions = await page.locator("#x option").allTextContents();
  assert.deepEqual(xOptions, [XSS, H]);
  const labels = (await hook<Datasets>(page, "datasets()")).map((d) => d.label);
  assert.ok(labels.includes(`${H} = ${XSS}8`));
  assert.ok((await page.locator("#legend").textContent())?.includes(`${H} = ${XSS}16`));
  await screenshot(page, root, "sweep-hostile");
  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(await page.evaluate("window.__cspViolations"), []);
});

test("CSV export holds every point's values and summaries, cells escaped", async () => {
  await page.click("#exportCsv");
  await until(page, "window.__posted.some((m) => m.type === 'exportCsv')");
  const msgs = (await page.evaluate("window.__posted")) as { type: string; csv?: string; suggestedName?: string }[];
  const csv = msgs.filter((m) => m.type === "exportCsv").at(-1)!;
  const lines = csv.csv!.trim().split("\n");
  assert.equal(lines.length, 19);
  assert.equal(lines[0], `index,run,status,seed,${XSS},${H},final:test_acc,final:test_loss`);
  assert.equal(csv.suggestedName, "_img_src_x_onerror_alert_1_-sweep.csv");
  await page.click("#exportPng");
  await until(page, "window.__posted.some((m) => m.type === 'exportPng')");
});
