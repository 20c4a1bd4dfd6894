// The loss-curves panel in the shared Chromium harness (panelHarness.ts): its page, a draw-aware
// post, and plausible synthetic runs. Used by the test and by bench/webview.bench.mjs. Needs
// `node scripts/build.mjs` first (dist/webview/lossCurves.js).

import type { Browser, Page } from "playwright-core";
import type { LossCurvesHostMessage as HostMessage, SeriesPoints, RunSeries } from "../../src/shared/panels/lossCurves";
import { lossCurvesHtml } from "../../src/webview/lossCurves/page";
import { openPanel, rng, serveWebviews, type PageProblems, type Served } from "./panelHarness";

export {
  CHROMIUM_ARGS,
  DARK_THEME,
  launchChromium,
  rng,
  screenshot,
  until,
  type PageProblems,
  type Served,
} from "./panelHarness";

/** Serves the loss-curves page at `/`. */
export function serveLossCurves(root: string): Promise<Served> {
  return serveWebviews(root, {
    lossCurves: { css: ["common.css", "lossCurves.css"], html: lossCurvesHtml },
  });
}

/** Opens the page and waits for the webview's `ready`. */
export function openLossCurves(
  browser: Browser,
  origin: string,
  viewport = { width: 1000, height: 560 },
): Promise<{ page: Page; problems: PageProblems }> {
  return openPanel(browser, origin, "", viewport);
}

/** Posts a host message the way the extension does (window message event), and returns when the chart has drawn after it. */
export async function postAndDraw(page: Page, msg: HostMessage): Promise<void> {
  await page.evaluate(async (m) => {
    const g = globalThis as unknown as {
      __lmPanel: { nextDraw(): Promise<number>; messagesHandled(): number };
      postMessage(m: unknown, o: string): void;
    };
    const before = g.__lmPanel.messagesHandled();
    g.postMessage(m, "*");
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no draw after ${m.type}`)), 10_000),
    );
    // The first draw after the message was handled (an unrelated resize draw may come first).
    do await Promise.race([g.__lmPanel.nextDraw(), timeout]);
    while (g.__lmPanel.messagesHandled() === before);
  }, msg);
}

/**
 * A plausible run: train loss every `every` steps decaying with noise, test loss and accuracies
 * every `evalEvery` steps (null in between, as in metrics.jsonl), a grokking-like late drop of
 * the test loss when `grokAt` is given.
 */
export function syntheticPoints(opts: {
  from: number;
  to: number;
  every: number;
  evalEvery: number;
  seed: number;
  scale?: number;
  grokAt?: number;
  secondsPerStep?: number;
}): SeriesPoints {
  const r = rng(opts.seed);
  const k = opts.scale ?? 1;
  const sps = opts.secondsPerStep ?? 0.01;
  const p: SeriesPoints = {
    step: [],
    time: [],
    values: { train_loss: [], test_loss: [], train_acc: [], test_acc: [] },
  };
  const v = p.values as Record<"train_loss" | "test_loss" | "train_acc" | "test_acc", (number | null)[]>;
  for (let s = opts.from; s <= opts.to; s += opts.every) {
    p.step.push(s);
    p.time.push(s * sps);
    const base = k * (4.6 * Math.exp(-s / 1500) + 0.02);
    const trainLoss = base * (1 + 0.35 * (r() - 0.5));
    v.train_loss.push(trainLoss);
    v.train_acc.push(Math.min(1, 1 - trainLoss / (4.6 * k)));
    if (s % opts.evalEvery === 0) {
      const grok = opts.grokAt === undefined ? 1 : 1 / (1 + Math.exp((s - opts.grokAt) / 400));
      const testLoss = k * (4.6 * Math.exp(-s / 2500) * 0.3 + 1.2 * grok + 0.05) * (1 + 0.1 * (r() - 0.5));
      v.test_loss.push(testLoss);
      v.test_acc.push(Math.max(0, Math.min(1, 1 - grok * 0.9 - 0.05 * r())));
    } else {
      v.test_loss.push(null);
      v.test_acc.push(null);
    }
  }
  return p;
}

export function run(runId: string, label: string, colorIndex: number, points: SeriesPoints): RunSeries {
  return { runId, label, colorIndex, status: "running", points };
}
