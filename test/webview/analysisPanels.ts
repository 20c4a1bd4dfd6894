// The analysis panels (grokking, lazy-vs-rich, influence) in the shared Chromium harness: pages,
// message posting, pixel reading and synthetic data. Not a test file itself.

import type { Page } from "playwright-core";
import {
  isGrokkingWebviewMessage,
  type GrokkingHostMessage,
  type GrokkingWebviewMessage,
} from "../../src/shared/panels/grokking";
import {
  isInfluenceWebviewMessage,
  type InfluenceHostMessage,
  type InfluenceRun,
  type InfluenceWebviewMessage,
} from "../../src/shared/panels/influence";
import {
  isLazyRichWebviewMessage,
  type LazyRichHostMessage,
  type LazyRichWebviewMessage,
} from "../../src/shared/panels/lazyRich";
import { grokkingHtml } from "../../src/webview/grokking/page";
import { influenceHtml } from "../../src/webview/influence/page";
import type { SharpnessHostMessage } from "../../src/shared/panels/sharpness";
import { lazyRichHtml } from "../../src/webview/lazyRich/page";
import { sharpnessHtml } from "../../src/webview/sharpness/page";
import { rng, serveWebviews, until, type Served } from "./panelHarness";

export { launchChromium, openPanel } from "./panelHarness";

export const XSS = "<img src=x onerror=alert(1)>";

export function serveAnalysisPanels(root: string): Promise<Served> {
  const css = ["common.css", "analysisPanels.css"];
  return serveWebviews(root, {
    grokking: { css, html: grokkingHtml },
    lazyRich: { css, html: lazyRichHtml },
    influence: { css, html: influenceHtml },
    sharpness: { css, html: sharpnessHtml },
  });
}

/** A host message of any of the three panels. */
export type AnalysisHostMessage =
  | GrokkingHostMessage
  | LazyRichHostMessage
  | InfluenceHostMessage
  | SharpnessHostMessage;
/** What the three panels post: the common messages (with each panel's state), and the influence panel's rerun requests. */
export type AnalysisWebviewMessage = InfluenceWebviewMessage | GrokkingWebviewMessage | LazyRichWebviewMessage;

/** Posts a host message as the extension does and waits until the panel (test hooks `__lmPanel`) has handled it. */
export async function post(page: Page, msg: AnalysisHostMessage): Promise<void> {
  const before = (await page.evaluate("window.__lmPanel.messagesHandled()")) as number;
  await page.evaluate(
    (m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, "*"),
    msg,
  );
  await until(page, `window.__lmPanel.messagesHandled() > ${before}`);
  await frames(page);
}

/** Waits two animation frames (coalesced redraws, chart.js resizes). */
export async function frames(page: Page): Promise<void> {
  await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
}

export async function posted(page: Page): Promise<AnalysisWebviewMessage[]> {
  const msgs = (await page.evaluate("window.__posted")) as unknown[];
  for (const m of msgs)
    if (!isInfluenceWebviewMessage(m) && !isGrokkingWebviewMessage(m) && !isLazyRichWebviewMessage(m))
      throw new Error(`not a valid webview message: ${JSON.stringify(m).slice(0, 200)}`);
  return msgs as AnalysisWebviewMessage[];
}

export async function lastPosted<K extends AnalysisWebviewMessage["type"]>(
  page: Page,
  type: K,
): Promise<Extract<AnalysisWebviewMessage, { type: K }> | undefined> {
  return (await posted(page)).filter((m): m is Extract<AnalysisWebviewMessage, { type: K }> => m.type === type).at(-1);
}

/** RGB of the canvas pixel containing CSS point (x, y) (device pixel ratio 1 in the tests). */
export async function pixel(page: Page, canvasId: string, x: number, y: number): Promise<[number, number, number]> {
  return (await page.evaluate(`(() => {
    const d = document.getElementById(${JSON.stringify(canvasId)}).getContext("2d").getImageData(${Math.floor(x)}, ${Math.floor(y)}, 1, 1).data;
    return [d[0], d[1], d[2]];
  })()`)) as [number, number, number];
}

/** Pixels of a canvas within a small distance (sum of channel differences) of `hex`. */
export async function countColor(page: Page, canvasId: string, hex: string, tolerance = 30): Promise<number> {
  return (await page.evaluate(`(() => {
    const c = document.getElementById(${JSON.stringify(canvasId)});
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const r = ${parseInt(hex.slice(1, 3), 16)}, g = ${parseInt(hex.slice(3, 5), 16)}, b = ${parseInt(hex.slice(5, 7), 16)};
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < ${tolerance}) n++;
    return n;
  })()`)) as number;
}

/**
 * An influence run with known cells: example 0 all +1, example 1 all −1, example 2 all 0,
 * example 3 +0.8 then −0.8 (one flip), examples 10 and 20 flip twice, example 5 has a +100
 * outlier at the first checkpoint, example 7 has a malicious label and text; every other row
 * keeps one sign with magnitude in [0.1, 0.5]. TracIn as Float32Array, BIF as a plain array.
 */
export function influenceRun(n = 60, t = 12): InfluenceRun {
  const r = rng(7);
  const steps = Array.from({ length: t }, (_, j) => (j + 1) * 100);
  const tracin = new Float32Array(n * t);
  for (let i = 0; i < n; i++) {
    const coin = r() < 0.5 ? -1 : 1;
    const sign = i === 5 ? 1 : coin; // the outlier's row stays positive: no flip
    const mag = 0.1 + 0.4 * r();
    for (let j = 0; j < t; j++) {
      let v = sign * mag * (0.8 + 0.2 * Math.cos(j));
      if (i === 0) v = 1;
      if (i === 1) v = -1;
      if (i === 2) v = 0;
      if (i === 3) v = j < t / 2 ? 0.8 : -0.8;
      if (i === 10 || i === 20) v = j < t / 3 ? 0.6 : j < (2 * t) / 3 ? -0.6 : 0.6;
      if (i === 5 && j === 0) v = 100;
      tracin[i * t + j] = v;
    }
  }
  const bif: (number | null)[] = Array.from(tracin, (v) => -v / 10);
  bif[4 * t + 2] = null;
  return {
    runId: "modAdd-20261123T100000Z-ab12",
    label: "modAdd p=97",
    colorIndex: 0,
    examples: Array.from({ length: n }, (_, i) => ({
      index: i * 3,
      label: i === 7 ? XSS : i % 2 === 0 ? "even" : "odd",
      text:
        i === 7
          ? "<script>alert(2)</script> a = 1, b = 2"
          : `a = ${i % 97}, b = ${(i * 7) % 97}; (a + b) mod 97 = ${(i + i * 7) % 97}`,
    })),
    matrices: [
      { method: "tracin", steps, values: tracin, query: "mean test loss of 64 test examples" },
      { method: "bif", steps, values: bif, query: "mean test loss of 64 test examples" },
    ],
    bifChains: steps.slice(0, 3).map((step, k) => ({
      step,
      loss: [0, 1, 2, 3].map((c) =>
        Array.from({ length: 50 }, (_, i) => 0.5 + 0.05 * Math.sin(i / 3 + c) + (k === 1 ? c * 0.2 : 0) + 0.01 * r()),
      ),
      rHat: k === 1 ? 1.42 : 1.01,
      ...(k === 1 ? { warning: "chains do not mix (R̂ = 1.42 > 1.1): lower ε or raise γ" } : {}),
    })),
    settings: {
      tracin: { every: 1, projectionDim: 512, trainExamples: 0 },
      bif: {
        every: 4,
        chains: 4,
        draws: 200,
        burnIn: 100,
        thin: 1,
        epsilon: 0.0001,
        gamma: 100,
        nBeta: 0,
        batchSize: 64,
      },
      kernel: { every: 1, probeSize: 128 },
    },
  };
}
