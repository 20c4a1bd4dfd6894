#!/usr/bin/env node
// The loss-curves webview in Debian's Chromium (headless, software rendering): first paint of a
// 1,000,000-point run, and append-to-draw latency while a run is live. Prints a table and one JSON
// line per figure.
//
//   node scripts/build.mjs && node bench/webview.bench.mjs [--reps 3] [--appends 50]
//
// First paint = performance.now() in the page from window.postMessage(init) to the end of the
// chart's first draw after it (the structured clone of the message, validation, ingest, smoothing,
// decimation and drawing are all inside). Phases come from performance marks in the webview.
// Append latency = postMessage(append of 10 new lines) → end of the next chart draw (the panel
// coalesces updates into one per animation frame, so ~one frame is part of it by design).
import * as esbuild from "esbuild";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: { reps: { type: "string", default: "3" }, appends: { type: "string", default: "50" } },
});
const reps = Number(values.reps);
const appends = Number(values.appends);

// The test harness (TypeScript) serves the page exactly as the browser test does; bundle it here.
const outDir = join(root, "dist/bench");
mkdirSync(outDir, { recursive: true });
const harnessFile = join(outDir, "webviewHarness.cjs");
await esbuild.build({
  entryPoints: [join(root, "test/webview/lossCurvesHarness.ts")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  outfile: harnessFile,
  external: ["playwright-core"],
  logLevel: "warning",
});
const h = createRequire(import.meta.url)(harnessFile);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

/** Runs in the page: init with one run of n points, returns first-paint ms and its phases. */
const INIT = `async (n) => {
  // Filled by push: dense arrays, as JSON.parse gives them (new Array(n) would be a sparse
  // dictionary-mode array in V8, much slower to clone and read).
  const step = [], time = [], train = [], test = [];
  for (let i = 0; i < n; i++) {
    step.push(i); time.push(i * 0.002);
    train.push(3 * Math.exp(-i / (n / 5)) + 0.1 + 0.05 * Math.sin(i * 0.37));
    test.push(i % 100 === 0 ? 3.2 * Math.exp(-i / (n / 4)) + 0.2 : null);
  }
  const msg = { type: "init", runs: [{ runId: "bench", label: "bench", colorIndex: 0, points: { step, time, values: { train_loss: train, test_loss: test } } }] };
  performance.clearMarks();
  const t0 = performance.now();
  window.postMessage(msg, "*");
  // The first draw that shows the run (a resize draw of the empty chart may come first).
  let t1;
  do t1 = await window.__lmPanel.nextDraw(); while (window.__lmPanel.pointCount("bench") !== n);
  const mark = (name) => performance.getEntriesByName("lossCurves:" + name)[0].startTime - t0;
  return { total: t1 - t0, received: mark("message"), validated: mark("validated"), ingested: mark("init:ingested"), drawn: mark("init:drawn") };
}`;

/** Runs in the page: k appends of 10 lines after the run's end; returns each post → draw latency. */
const APPEND = `async ([from, k]) => {
  const out = [];
  let s = from;
  for (let j = 0; j < k; j++) {
    const step = [], time = [], train = [], test = [];
    for (let i = 0; i < 10; i++, s++) { step.push(s); time.push(s * 0.002); train.push(0.1 + 0.01 * Math.random()); test.push(s % 100 === 0 ? 0.2 : null); }
    const drawn = window.__lmPanel.nextDraw();
    const t0 = performance.now();
    window.postMessage({ type: "append", runId: "bench", points: { step, time, values: { train_loss: train, test_loss: test } } }, "*");
    out.push((await drawn) - t0);
    await new Promise((r) => setTimeout(r, 20)); // a live run appends a few times a second, not back to back
  }
  return out;
}`;

const served = await h.serveLossCurves(root);
const browser = await h.launchChromium();
const results = [];
try {
  const version = browser.version();
  for (const n of [10_000, 1_000_000]) {
    const paints = [];
    let lat = [];
    for (let r = 0; r < reps; r++) {
      const { page } = await h.openLossCurves(browser, served.origin);
      paints.push(await page.evaluate(`(${INIT})(${n})`));
      if (r === 0) lat = await page.evaluate(`(${APPEND})([${n}, ${appends}])`);
      await page.close();
    }
    const m = (key) => median(paints.map((p) => p[key]));
    results.push({
      points: n,
      firstPaintMs: m("total"),
      phases: {
        cloneAndDispatch: m("received"),
        validate: m("validated") - m("received"),
        ingestAndSmooth: m("ingested") - m("validated"),
        decimateAndDraw: m("drawn") - m("ingested"),
      },
      appendToDrawMs: { median: median(lat), p90: pct(lat, 0.9), n: lat.length },
    });
  }
  console.log(
    `Chromium ${version}, headless, --disable-gpu; ${reps} page loads per size (median), ${appends} appends of 10 lines`,
  );
  console.log(
    "points      first paint  clone+dispatch  validate  ingest+smooth  decimate+draw  append→draw median  p90",
  );
  for (const r of results) {
    const f = (x) => x.toFixed(1).padStart(8);
    console.log(
      `${String(r.points).padStart(9)}  ${f(r.firstPaintMs)} ms  ${f(r.phases.cloneAndDispatch)} ms   ${f(r.phases.validate)} ms  ${f(r.phases.ingestAndSmooth)} ms     ${f(r.phases.decimateAndDraw)} ms       ${f(r.appendToDrawMs.median)} ms  ${f(r.appendToDrawMs.p90)} ms`,
    );
  }
  for (const r of results) console.log(JSON.stringify({ bench: "webview.lossCurves", chromium: version, ...r }));
} finally {
  await browser.close();
  await served.close();
}
