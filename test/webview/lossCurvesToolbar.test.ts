// The loss-curves toolbar's layout in a real Chromium at panel widths from 600 to 1400 px: one
// row from 900 px up, never more than two rows, no control cut off or split from its group (a
// label from its slider, the action buttons from each other). Screenshots of the panel at 600,
// 900 and 1400 px are left at dist/test/webview/lossCurves-toolbar-<width>.png.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import {
  launchChromium,
  openLossCurves,
  postAndDraw,
  run,
  serveLossCurves,
  syntheticPoints,
  type Served,
} from "./lossCurvesHarness";

const root = path.resolve(__dirname, "../../..");
let browser: Browser;
let served: Served;

before(async () => {
  served = await serveLossCurves(root);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await served?.close();
});

interface Box {
  name: string;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

interface Layout {
  toolbar: Box;
  /** Every control of the toolbar (radio group, checkboxes, slider label, buttons). */
  controls: Box[];
  /** The toolbar's direct children that are meant to stay together. */
  groups: Box[];
  viewportWidth: number;
  /** Controls of one group that sit on different rows: "group: a/b". */
  splitGroups: string[];
}

async function layoutAt(width: number, screenshot: boolean): Promise<Layout> {
  const { page, problems } = await openLossCurves(browser, served.origin, { width, height: 480 });
  try {
    await postAndDraw(page, {
      type: "init",
      runs: [
        run(
          "modAdd-20250601T120000Z-3fa2",
          "modAdd wd=1e-3",
          0,
          syntheticPoints({ from: 0, to: 3000, every: 10, evalEvery: 100, seed: 1 }),
        ),
      ],
    });
    // vscode-elements render in shadow DOM after definition: wait for the buttons to have a size.
    await page.evaluate(`(async () => {
      await customElements.whenDefined("vscode-button");
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    })()`);
    const layout = (await page.evaluate(`(() => {
      const box = (el, name) => { const r = el.getBoundingClientRect(); return { name, top: r.top, bottom: r.bottom, left: r.left, right: r.right }; };
      const tb = document.querySelector(".toolbar");
      const name = (el) => el.id || el.className || el.tagName.toLowerCase();
      const controls = [...tb.querySelectorAll("vscode-radio-group, vscode-checkbox, label, vscode-button")].map((el) => box(el, name(el)));
      const groups = [...tb.children].filter((el) => !el.classList.contains("spacer")).map((el) => box(el, name(el)));
      const splitGroups = [];
      for (const g of tb.children) {
        const parts = [...g.querySelectorAll("vscode-checkbox, vscode-button, input, output, vscode-radio")].map((el) => box(el, name(el)));
        if (parts.length > 1 && parts.some((p) => Math.abs(p.top - parts[0].top) > 4)) splitGroups.push(name(g) + ": " + parts.map((p) => p.name + "@" + Math.round(p.top)).join("/"));
      }
      return { toolbar: box(tb, "toolbar"), controls, groups, viewportWidth: document.documentElement.clientWidth, splitGroups };
    })()`)) as Layout;
    if (screenshot)
      await page.screenshot({ path: path.join(root, "dist", "test", "webview", `lossCurves-toolbar-${width}.png`) });
    assert.deepEqual(problems.errors, []);
    return layout;
  } finally {
    await page.close();
  }
}

/** Distinct rows of boxes (by top edge, within a few pixels). */
function rows(boxes: Box[]): number {
  const tops: number[] = [];
  for (const b of boxes) if (!tops.some((t) => Math.abs(t - b.top) <= 6)) tops.push(b.top);
  return tops.length;
}

test("toolbar: one row from 900 px, at most two rows down to 600 px, nothing cut off or split", {
  timeout: 120_000,
}, async () => {
  const heights = new Map<number, number>();
  let oneRowHeight = 0;
  for (const width of [1400, 1200, 1000, 900, 800, 700, 600]) {
    const l = await layoutAt(width, width === 600 || width === 900 || width === 1400);
    const height = l.toolbar.bottom - l.toolbar.top;
    heights.set(width, Math.round(height));
    if (width === 1400) oneRowHeight = height;
    const r = rows(l.groups);
    assert.ok(l.controls.length >= 8, `found ${l.controls.length} controls`);
    for (const c of l.controls) {
      assert.ok(
        c.right <= l.viewportWidth + 0.5 && c.left >= -0.5,
        `${width} px: ${c.name} is cut off (${Math.round(c.left)}..${Math.round(c.right)} of ${l.viewportWidth})`,
      );
      assert.ok(c.bottom - c.top > 10, `${width} px: ${c.name} has no height`);
    }
    assert.deepEqual(l.splitGroups, [], `${width} px: a group broke over two rows`);
    if (width >= 900) {
      assert.equal(r, 1, `${width} px: ${r} rows`);
      // The height assertion at 900 px: the same as the one-row toolbar at 1400 px.
      assert.ok(
        Math.abs(height - oneRowHeight) <= 1,
        `${width} px: toolbar ${Math.round(height)} px high, one row is ${Math.round(oneRowHeight)} px`,
      );
    } else {
      assert.ok(r <= 2, `${width} px: ${r} rows`);
      assert.ok(
        height <= 2 * oneRowHeight + 12,
        `${width} px: toolbar ${Math.round(height)} px high (one row: ${Math.round(oneRowHeight)} px)`,
      );
    }
  }
  // eslint-disable-next-line no-console
  console.log(`toolbar height by panel width: ${[...heights].map(([w, h]) => `${w}px→${h}px`).join(", ")}`);
});
