#!/usr/bin/env node
// The influence heatmap in Debian's Chromium (headless, software rendering): first paint of an
// n × T matrix (n examples × T checkpoints), re-render, re-sort and scroll costs. Prints a table
// and one JSON line per size.
//
//   node scripts/build.mjs && node bench/influence.bench.mjs [--reps 5]
//
// First paint = performance.now() in the page from window.postMessage(influence/init) to the end
// of the synchronous handler (structured clone of the message, validation, ingest = colour limit
// + per-row totals and sign flips, row order, ImageData render + putImageData, legend, side view);
// phases from performance marks in the webview. Render = one full redraw of the visible heatmap
// (fit mode: every row, extreme-keeping aggregation). Resort = sort by sign flips + redraw.
// Scroll = a redraw in 4-px rows after scrolling to the middle. Blit floor = createImageData +
// putImageData of the same canvas with nothing computed: the reference measured in the same run.
import * as esbuild from "esbuild";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { reps: { type: "string", default: "5" } } });
const reps = Number(values.reps);

const outDir = join(root, "dist/bench");
mkdirSync(outDir, { recursive: true });
const harnessFile = join(outDir, "analysisPanelsHarness.cjs");
await esbuild.build({
  entryPoints: [join(root, "test/webview/analysisPanels.ts")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  outfile: harnessFile,
  external: ["playwright-core"],
  logLevel: "warning",
});
const a = createRequire(import.meta.url)(harnessFile);

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)];
};

/** Runs in the page: posts an n × t matrix (Float32Array or plain array) and returns timings. */
const RUN = `async ([n, t, plain]) => {
  const values = plain ? new Array(0) : new Float32Array(n * t);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < n * t; i++) {
    // Rows of one sign with noise, some flipping mid-way, a few outliers.
    const row = Math.floor(i / t), j = i % t;
    const base = (row % 7 === 0 ? (j < t / 2 ? 1 : -1) : row % 2 ? 1 : -1) * (0.2 + rnd());
    const v = rnd() < 1e-4 ? base * 100 : base;
    if (plain) values.push(v); else values[i] = v;
  }
  const examples = [];
  for (let i = 0; i < n; i++) examples.push({ index: i, label: String(i % 10), text: "example " + i });
  const steps = [];
  for (let j = 0; j < t; j++) steps.push((j + 1) * 100);
  const msg = { type: "init", run: { runId: "bench", label: "bench", colorIndex: 0, examples, matrices: [{ method: "tracin", steps, values, query: "q" }], bifChains: [], settings: {} } };
  performance.clearMarks();
  const t0 = performance.now();
  window.postMessage(msg, "*");
  while (window.__lmPanel.messagesHandled() === 0) await new Promise((r) => setTimeout(r, 1));
  const mark = (name) => performance.getEntriesByName("influence:" + name)[0].startTime - t0;
  const first = { total: mark("drawn"), received: mark("message"), validated: mark("validated"), ingested: mark("ingested"), drawn: mark("drawn") };
  const renders = [];
  for (let k = 0; k < 5; k++) renders.push(window.__lmPanel.render());
  const resort = window.__lmPanel.resort("signFlip");
  window.__lmPanel.resort("index");
  // Blit floor: the same canvas size, nothing computed.
  const c = document.getElementById("heatmap");
  const ctx = c.getContext("2d");
  const blits = [];
  for (let k = 0; k < 5; k++) { const b0 = performance.now(); const im = ctx.createImageData(c.width, c.height); ctx.putImageData(im, 0, 0); blits.push(performance.now() - b0); }
  window.__lmPanel.render();
  renders.sort((p, q) => p - q);
  blits.sort((p, q) => p - q);
  return { first, render: renders[2], resort, blit: blits[2], canvas: [c.width, c.height] };
}`;

const SCROLL = `async () => {
  const sel = document.getElementById("rowPx");
  sel.value = "4";
  sel.dispatchEvent(new Event("change"));
  const box = document.getElementById("heatScroll");
  box.scrollTop = box.scrollHeight / 2;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const xs = [];
  for (let k = 0; k < 5; k++) xs.push(window.__lmPanel.render());
  xs.sort((p, q) => p - q);
  return xs[2];
}`;

const served = await a.serveAnalysisPanels(root);
const browser = await a.launchChromium();
const results = [];
try {
  const version = browser.version();
  const sizes = [
    [1_000, 50, false],
    [10_000, 200, false],
    [10_000, 200, true],
    [10_000, 500, false],
  ];
  for (const [n, t, plain] of sizes) {
    const runs = [];
    let scroll = NaN;
    for (let r = 0; r < reps; r++) {
      const { page } = await a.openPanel(browser, served.origin, "influence", { width: 1200, height: 720 });
      runs.push(await page.evaluate(`(${RUN})([${n}, ${t}, ${plain}])`));
      if (r === 0) scroll = await page.evaluate(`(${SCROLL})()`);
      await page.close();
    }
    const m = (f) => median(runs.map(f));
    results.push({
      examples: n,
      checkpoints: t,
      values: plain ? "number[]" : "Float32Array",
      canvas: runs[0].canvas,
      firstPaintMs: m((x) => x.first.total),
      phases: {
        cloneAndDispatch: m((x) => x.first.received),
        validate: m((x) => x.first.validated - x.first.received),
        ingest: m((x) => x.first.ingested - x.first.validated),
        orderRenderAndSide: m((x) => x.first.drawn - x.first.ingested),
      },
      renderMs: m((x) => x.render),
      resortMs: m((x) => x.resort),
      scrollRenderMs: scroll,
      blitFloorMs: m((x) => x.blit),
    });
  }
  console.log(`Chromium ${version}, headless, --disable-gpu; viewport 1200×720; ${reps} page loads per size (median)`);
  console.log(
    "n × T            values         first paint  clone+dispatch  validate  ingest  order+render+side   render  resort  scroll(4px)  blit floor",
  );
  const f = (x) => x.toFixed(1).padStart(7);
  for (const r of results) {
    console.log(
      `${`${r.examples} × ${r.checkpoints}`.padEnd(16)} ${r.values.padEnd(13)} ${f(r.firstPaintMs)} ms  ${f(r.phases.cloneAndDispatch)} ms   ${f(r.phases.validate)} ms ${f(r.phases.ingest)} ms  ${f(r.phases.orderRenderAndSide)} ms      ${f(r.renderMs)} ms ${f(r.resortMs)} ms ${f(r.scrollRenderMs)} ms  ${f(r.blitFloorMs)} ms`,
    );
  }
  for (const r of results) console.log(JSON.stringify({ bench: "webview.influence", chromium: version, ...r }));
} finally {
  await browser.close();
  await served.close();
}
