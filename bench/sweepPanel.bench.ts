// The sweep panel's first paint for a sweep of 1,000 runs, both halves: the host reading the sweep
// (sweep.json and every point's run.json, metrics.jsonl and analyses/, summarized) as the panel's
// `init` does, on real temp folders; and the page (built bundle, CSP on, Debian's Chromium,
// headless, software raster) from window.postMessage(init) to the end of the chart's draw and
// the frame after it. Prints a table and one JSON line.
//
//   npm run build --silent && node dist/bench/sweepPanel.js [--runs 1000] [--lines 200] [--reps 3]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { SweepContent } from "../src/extension/panels/sweepPanel";
import { RunIndex } from "../src/extension/runIndex";
import { SWEEP_FORMAT, type SweepManifest, sweepRunName } from "../src/shared/sweepFormat";
import { sweepHtml } from "../src/webview/sweep/page";
import { launchChromium, openPanel, serveWebviews } from "../test/webview/panelHarness";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    lines: { type: "string", default: "200" },
    reps: { type: "string", default: "3" },
  },
});
const RUNS = Number(values.runs);
const LINES = Number(values.lines);
const REPS = Number(values.reps);
const root = path.resolve(__dirname, "../..");

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A sweep of `RUNS` finished points: 10 weight decays × 4 widths × the rest as seeds. */
function writeSweep(dir: string): void {
  const wds = [0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1];
  const widths = [8, 16, 32, 64];
  const seeds = Math.ceil(RUNS / (wds.length * widths.length));
  const points: SweepManifest["points"] = [];
  for (const wd of wds)
    for (const h of widths)
      for (let seed = 0; seed < seeds && points.length < RUNS; seed++)
        points.push({
          index: points.length,
          values: { "optimizer.weightDecay": wd, "model.hidden[0]": h },
          seed,
          run: sweepRunName(points.length),
          status: "finished",
        });
  const manifest: SweepManifest = {
    format: SWEEP_FORMAT,
    version: 1,
    experiment: "/exp/bench.experiment.ts",
    system: "mlp",
    createdAt: "2026-01-01T00:00:00.000Z",
    fields: ["optimizer.weightDecay", "model.hidden[0]"],
    mode: "grid",
    seeds: Array.from({ length: seeds }, (_, i) => i),
    points,
    launcher: { kind: "local", parallel: 2 },
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "sweep.json"), JSON.stringify(manifest));
  for (const p of points) {
    const run = path.join(dir, p.run);
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, "run.json"),
      JSON.stringify({
        format: "learning-mechanics/run",
        formatVersion: 1,
        id: `mlp-${p.index}`,
        system: "mlp",
        experiment: { path: "/exp/bench.experiment.ts", sha256: "sha256:00" },
        config: {},
        seed: p.seed,
        backend: { name: "cpu", reason: "bench" },
        status: "finished",
        startedAt: "2026-01-01T00:00:00.000Z",
        updatedAt: "2026-01-01T00:01:00.000Z",
        totalSteps: LINES * 10,
        step: LINES * 10,
        producer: "bench",
      }),
    );
    const wd = Number(p.values["optimizer.weightDecay"]);
    let text = "";
    for (let i = 0; i < LINES; i++) {
      const loss = 2 * Math.exp(-i / 50) + wd + 0.01 * ((p.seed * 7 + i) % 5);
      text += `${JSON.stringify({ step: i * 10, time: i, train_loss: loss, train_acc: 1 - loss / 3, test_loss: loss * 1.2, test_acc: 1 - loss / 2.5 })}\n`;
    }
    fs.writeFileSync(path.join(run, "metrics.jsonl"), text);
  }
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-sweep-bench-"));
  try {
    const dir = path.join(tmp, "runs", "mlp-sweep-20260101-000000");
    writeSweep(dir);
    const index = new RunIndex([path.join(tmp, "runs")]);
    await index.scan();
    // Host, cold: the panel's init as it runs in the extension (statuses at once, run folders
    // read in the background), the longest event-loop block meanwhile, and the time until every
    // point's summaries are in. Then warm: init from the cache (a panel shown again).
    let longestBlock = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestBlock = Math.max(longestBlock, now - last - 1);
      last = now;
    }, 1);
    const content = new SweepContent({ runIndex: index }, dir);
    let readyCount = 0;
    let allReady: () => void = () => {};
    const everyPoint = new Promise<void>((r) => (allReady = r));
    content.onReady(() => {
      if (++readyCount === RUNS) allReady();
    });
    const t0 = performance.now();
    content.init(undefined);
    const coldInitMs = performance.now() - t0;
    await everyPoint;
    const coldAllMs = performance.now() - t0;
    clearInterval(ticker);
    const hostMs: number[] = [];
    let init: unknown;
    for (let r = 0; r < REPS; r++) {
      const t1 = performance.now();
      init = content.init(undefined).messages[0];
      hostMs.push(performance.now() - t1);
    }
    content.dispose();
    const bytes = JSON.stringify(init).length;

    // Page: postMessage(init) → the chart drawn (mark) → the next frame.
    const served = await serveWebviews(root, { sweep: { css: ["common.css", "analysisPanels.css"], html: sweepHtml } });
    const browser = await launchChromium();
    const drawn: number[] = [];
    const painted: number[] = [];
    let dots = 0;
    try {
      for (let r = 0; r < REPS; r++) {
        const { page } = await openPanel(browser, served.origin, "sweep", { width: 1000, height: 620 });
        const t = (await page.evaluate(`(async (msg) => {
          performance.clearMarks();
          const t0 = performance.now();
          window.postMessage(msg, "*");
          while (performance.getEntriesByName("sweep:drawn").length === 0) await new Promise((r) => setTimeout(r, 0));
          const drawn = performance.getEntriesByName("sweep:drawn")[0].startTime - t0;
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return { drawn, painted: performance.now() - t0, dots: window.__lmPanel.datasets().reduce((s, d) => s + d.points.length, 0) };
        })(${JSON.stringify(init)})`)) as { drawn: number; painted: number; dots: number };
        drawn.push(t.drawn);
        painted.push(t.painted);
        dots = t.dots;
        await page.close();
      }
    } finally {
      await browser.close();
      await served.close();
    }
    const result = {
      bench: "webview.sweep",
      runs: RUNS,
      metricsLinesPerRun: LINES,
      initMessageBytes: bytes,
      hostColdInitMs: coldInitMs,
      hostColdAllSummariesMs: coldAllMs,
      hostLongestBlockMs: longestBlock,
      hostWarmInitMs: median(hostMs),
      pageDrawnMs: median(drawn),
      pagePaintedMs: median(painted),
      pointsDrawn: dots,
      chromium: browser.version(),
    };
    console.log(`sweep of ${RUNS} runs × ${LINES} metrics lines; median of ${REPS}`);
    const ms = (x: number) => `${x.toFixed(0)} ms`;
    console.log(
      `host, cold: init ${ms(coldInitMs)}, every summary in after ${ms(coldAllMs)}, longest event-loop block ${ms(longestBlock)}`,
    );
    console.log(
      `host, warm (cached summaries): init ${ms(result.hostWarmInitMs)}; init message ${(bytes / 1024).toFixed(0)} KiB`,
    );
    console.log(
      `page: post(init) → chart drawn ${result.pageDrawnMs.toFixed(1)} ms, → next frame ${result.pagePaintedMs.toFixed(1)} ms (${dots} points drawn)`,
    );
    console.log(JSON.stringify(result));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

void main();
