// The sweep panel's α view in Chromium (an α sweep, declared or implicit, is a case of the sweep
// panel): opened without a saved state it shows the final relative weight change against
// model.alpha on log-log axes with the fitted c/α line dashed, its c and free slope in the
// legend and the readout; kernel distance gets its own fit, c/α² (second order in the kernel's
// change); other quantities get none. The data are the ones the lazy-vs-rich panel's former α
// view was tested with.
// Screenshot: dist/test/webview/sweep-alpha.png.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { InverseAlphaFit } from "../../src/shared/alphaFit";
import type { SweepHostMessage, SweepInfo } from "../../src/shared/panels/sweep";
import type { SweepPanelPoint } from "../../src/shared/sweepView";
import { sweepHtml } from "../../src/webview/sweep/page";
import { frames, pixel } from "./analysisPanels";
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

const ALPHA = "model.alpha";
const ALPHAS = [0.1, 1, 10, 100];
/** An implicit sweep: four runs of one system differing only in α, no sweep.json. */
const SWEEP: SweepInfo = {
  dir: "/runs",
  system: "teacher-student",
  fields: [ALPHA],
  launcher: "local",
  implicit: true,
};

/** Final RWC exactly 0.5/α; kernel distance 0.3·α^−0.8, absent at α = 100; test loss rising with α. */
function points(): SweepPanelPoint[] {
  return ALPHAS.map((alpha, i) => ({
    index: i,
    runId: `/runs/ts-${alpha}`,
    values: { [ALPHA]: alpha },
    seed: 0,
    status: "finished",
    y: {
      "analysis:rwc": 0.5 / alpha,
      ...(i === 3 ? {} : { "analysis:kernelDistance": 0.3 * alpha ** -0.8 }),
      "final:test_loss": 0.004 * (i + 1),
    },
  }));
}

type Datasets = { label: string; points: { x: number; y: number; runId: string | null }[] }[];

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

test("an α sweep opens on final RWC against α, log-log, with the dashed c/α line through 0.5/α", async () => {
  await post(page, { type: "init", sweep: SWEEP, points: points() });
  const state = await hook<{ y: string; x: string; logX: boolean; logY: boolean }>(page, "state()");
  assert.deepEqual([state.y, state.x, state.logX, state.logY], ["analysis:rwc", ALPHA, true, true]);
  assert.deepEqual(await hook(page, "scales()"), ["logarithmic", "logarithmic"]);
  const ds = await hook<Datasets>(page, "datasets()");
  assert.deepEqual(
    ds.map((d) => d.label),
    ["mean", "mean · runs", "mean · c/α fit: c = 0.5, slope −1.00"],
  );
  assert.deepEqual(
    ds[0]!.points.map((q) => [q.x, q.y]),
    ALPHAS.map((a) => [a, 0.5 / a]),
  );
  // Exactly 1/α data: the reference coincides with it (c = 0.5), drawn from the least to the greatest α.
  const ref = ds[2]!.points;
  assert.equal(ref.length, 2);
  assert.ok(
    Math.abs(ref[0]!.x - 0.1) < 1e-12 && Math.abs(ref[0]!.y - 5) < 1e-9 && Math.abs(ref[1]!.y - 0.005) < 1e-12,
    JSON.stringify(ref),
  );
  assert.equal(ref[1]!.x, 100);
  assert.deepEqual(
    ref.map((q) => q.runId),
    [null, null],
    "the line's ends open no run",
  );
  const fits = await hook<{ group: null; fit: InverseAlphaFit }[]>(page, "fits()");
  assert.equal(fits.length, 1);
  assert.ok(Math.abs(fits[0]!.fit.c - 0.5) < 1e-12 && Math.abs(fits[0]!.fit.slope! + 1) < 1e-12);
  assert.equal(fits[0]!.fit.lazyFrom, 0.1);
  // Legend: the mean's swatch and the dashed fit's, with c and the slope.
  assert.deepEqual(await page.locator("#legend .legend-item").allTextContents(), [
    "mean",
    "mean · c/α fit: c = 0.5, slope −1.00",
  ]);
  assert.equal(await page.locator("#legend .swatch-dashed").count(), 1);
  const readout = (await page.textContent("#fit")) ?? "";
  assert.match(readout, /least squares of log final relative weight change = log c − log α/);
  assert.match(
    readout,
    /c = 0\.5, slope −1\.00 over 4 runs; the points follow 1\/α for α ≥ 0\.1; c over those 4 runs\./,
  );
  assert.equal(
    await page.textContent("#summary"),
    "teacher-student α sweep · 4/4 finished · implicit: runs that differ only in model.alpha (no sweep.json)",
  );
  assert.deepEqual(problems.errors, []);
  await screenshot(page, root, "sweep-alpha");
});

test("the dashed line is painted: a pixel on it, between two α, is not the background", async () => {
  // A rich + lazy mix, so the fit line runs apart from the data: y = 1 at α ≤ 1, 0.5/α above.
  const mix = points().map((p) => {
    const a = p.values[ALPHA] as number;
    return { ...p, y: { "analysis:rwc": a <= 1 ? 1 : 0.5 / a } };
  });
  await post(page, { type: "init", sweep: SWEEP, points: mix });
  const fit = (await hook<{ fit: InverseAlphaFit }[]>(page, "fits()"))[0]!.fit;
  assert.ok(fit.slope! > -1 && fit.slope! < -0.5, `a shallower free slope: ${fit.slope}`);
  // 10 → 100 falls as 1/α; 1 → 10 (from 1 to 0.05: slope −1.3) does not. c from the lazy two.
  assert.equal(fit.lazyFrom, 10);
  assert.ok(Math.abs(fit.c - 0.5) < 1e-12);
  assert.match((await page.textContent("#fit")) ?? "", /the points follow 1\/α for α ≥ 10; c over those 2 runs\./);
  // On log-log axes c/α is straight on screen: sample along the segment between its ends; some
  // samples fall on dashes, which are painted.
  const ds = await hook<Datasets>(page, "datasets()");
  assert.equal(
    ds[2]!.label,
    `mean · c/α fit: c = ${Number(fit.c.toPrecision(4))}, slope ${fit.slope!.toFixed(2).replace("-", "−")}`,
  );
  const a = await hook<{ x: number; y: number }>(page, "pixelOf(2, 0)");
  const b = await hook<{ x: number; y: number }>(page, "pixelOf(2, 1)");
  const box = (await page.locator("#sweepChart").boundingBox())!;
  const bg = await pixel(page, "sweepChart", 3, 3);
  let painted = 0;
  for (let t = 0.3; t <= 0.7; t += 0.02) {
    const c = await pixel(page, "sweepChart", a.x + t * (b.x - a.x) - box.x, a.y + t * (b.y - a.y) - box.y);
    if (c.join() !== bg.join()) painted++;
  }
  assert.ok(painted >= 5, `${painted} of 21 samples along the dashed line are painted`);
});

test("kernel distance gets its own c/α² fit over the runs that have one; test loss gets none", async () => {
  await post(page, { type: "init", sweep: SWEEP, points: points() });
  await choose(page, "y", "analysis:kernelDistance");
  const ds = await hook<Datasets>(page, "datasets()");
  assert.equal(ds[1]!.points.length, 3, "the run without a kernel distance has no point");
  // Kernel distance 0.3·α^−0.8: c is the geometric mean of y·α² over its three points.
  const c = Math.exp([0.1, 1, 10].reduce((s, a) => s + Math.log(0.3 * a ** 1.2), 0) / 3);
  assert.ok(Math.abs(ds[2]!.points[0]!.y - c / 0.1 ** 2) < 1e-9 * (c / 0.01), JSON.stringify(ds[2]));
  assert.match(ds[2]!.label, /^mean · c\/α² fit: c = /);
  const fit = (await hook<{ fit: InverseAlphaFit }[]>(page, "fits()"))[0]!.fit;
  assert.ok(Math.abs(fit.slope! + 0.8) < 1e-12, "the free slope finds −0.8");
  assert.equal(fit.lazyFrom, null, "−0.8 is far from the −2 of the lazy limit");
  assert.match((await page.textContent("#fit")) ?? "", /log final kernel distance = log c − 2·log α/);
  assert.match((await page.textContent("#note")) ?? "", /1 of 4 points have no final kernel distance yet/);
  await choose(page, "y", "final:test_loss");
  assert.deepEqual(
    (await hook<Datasets>(page, "datasets()")).map((d) => d.label),
    ["mean", "mean · runs"],
  );
  assert.equal(await page.locator("#fit").isVisible(), false);
  assert.deepEqual(await hook(page, "fits()"), []);
});

test("a saved state wins over the α defaults; seeds pool into one fit over every run", async () => {
  const p = (await openPanel(browser, served.origin, "sweep", { width: 900, height: 560 })).page;
  try {
    const seeded = [
      ...points(),
      ...points().map((q) => ({ ...q, index: q.index + 4, seed: 1, runId: `${q.runId}-s1` })),
    ];
    await post(p, {
      type: "init",
      sweep: {
        dir: "/runs/alphaSweep-sweep-20260101-000000",
        system: "teacher-student",
        fields: [ALPHA],
        launcher: "local",
      },
      points: seeded,
      state: { y: "analysis:rwc", x: ALPHA, group: null, logX: false, logY: true, spread: "minmax" },
    });
    assert.deepEqual(await hook(p, "scales()"), ["linear", "logarithmic"]);
    const fit = (await hook<{ fit: InverseAlphaFit }[]>(p, "fits()"))[0]!.fit;
    assert.equal(fit.n, 8);
    assert.ok(Math.abs(fit.c - 0.5) < 1e-12);
    assert.equal(await p.textContent("#summary"), "teacher-student sweep · 8/8 finished · local");
  } finally {
    await p.close();
  }
});
