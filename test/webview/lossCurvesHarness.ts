// Serves the built loss-curves webview to a real Chromium, as VS Code would show it: the page
// from `lossCurvesHtml` with its CSP, a stand-in for `acquireVsCodeApi` placed before the module
// script (it records posted messages and keeps get/setState), and VS Code's dark theme variables
// set on <html> through the CSSOM, as the webview host does. Used by the test and by
// bench/webview.bench.mjs. Needs `node scripts/build.mjs` first (dist/webview/lossCurves.js).

import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { HostMessage, SeriesPoints, RunSeries } from "../../src/shared/lossCurvesProtocol";
import { lossCurvesHtml } from "../../src/webview/lossCurves/page";

/** VS Code's Dark Modern values for the variables the panel reads. */
export const DARK_THEME: Record<string, string> = {
  "--vscode-charts-blue": "#3794ff",
  "--vscode-charts-red": "#f14c4c",
  "--vscode-charts-green": "#89d185",
  "--vscode-charts-yellow": "#cca700",
  "--vscode-charts-orange": "#d18616",
  "--vscode-charts-purple": "#b180d7",
  "--vscode-foreground": "#cccccc",
  "--vscode-descriptionForeground": "#9d9d9d",
  "--vscode-editor-background": "#1f1f1f",
  "--vscode-font-family": "system-ui, 'Ubuntu', 'Droid Sans', sans-serif",
  "--vscode-font-size": "13px",
  "--vscode-focusBorder": "#0078d4",
  "--vscode-badge-background": "#616161",
  "--vscode-badge-foreground": "#f8f8f8",
  "--vscode-errorForeground": "#f85149",
  "--vscode-button-background": "#0078d4",
  "--vscode-button-foreground": "#ffffff",
  "--vscode-button-secondaryBackground": "#313131",
  "--vscode-button-secondaryForeground": "#cccccc",
  "--vscode-checkbox-background": "#313131",
  "--vscode-checkbox-border": "#3c3c3c",
  "--vscode-editorHoverWidget-background": "#202020",
  "--vscode-editorHoverWidget-border": "#454545",
};

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// playwright-core reads its own package.json at run time, so it cannot be bundled (build.mjs
// bundles tests): load it from node_modules through a require esbuild does not follow.
const PLAYWRIGHT = "playwright-core";
const { chromium } = createRequire(__filename)(PLAYWRIGHT) as typeof import("playwright-core");

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
}

export interface Served {
  origin: string;
  close(): Promise<void>;
}

const NONCE = "dGVzdC1ub25jZS0xMjM0NTY3OA==";

/** Serves the page at `/`, the bundle from dist/webview and the style sheet from media/. */
export async function serveLossCurves(root: string): Promise<Served> {
  const bundle = path.join(root, "dist/webview/lossCurves.js");
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} missing: run node scripts/build.mjs`);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (type: string, body: string | Buffer): void => {
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (url.pathname === "/") {
      const html = lossCurvesHtml({
        scriptUri: `${origin}/dist/webview/lossCurves.js`,
        styleUri: `${origin}/media/lossCurves.css`,
        cspSource: origin,
        nonce: NONCE,
      });
      send("text/html; charset=utf-8", html.replace('<script type="module"', `${stubScript()}\n<script type="module"`));
      return;
    }
    const files: Record<string, [string, string]> = {
      "/dist/webview/lossCurves.js": [bundle, "text/javascript"],
      "/dist/webview/lossCurves.js.map": [`${bundle}.map`, "application/json"],
      "/media/lossCurves.css": [path.join(root, "media/lossCurves.css"), "text/css"],
    };
    const f = files[url.pathname];
    if (f && fs.existsSync(f[0])) send(f[1], fs.readFileSync(f[0]));
    else if (url.pathname === "/favicon.ico") {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function stubScript(): string {
  const vars = JSON.stringify(DARK_THEME);
  return `<script nonce="${NONCE}">
window.__posted = [];
window.__cspViolations = [];
window.__lossCurvesTestHooks = true;
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
(() => {
  let state;
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__posted.push(m),
    getState: () => state,
    setState: (s) => { state = s; },
  });
  for (const [k, v] of Object.entries(${vars})) document.documentElement.style.setProperty(k, v);
  document.addEventListener("DOMContentLoaded", () => document.body.classList.add("vscode-dark"));
})();
</script>`;
}

export interface PageProblems {
  errors: string[];
  dialogs: string[];
}

/** Opens the page and waits for the webview's `ready`. */
export async function openLossCurves(browser: Browser, origin: string, viewport = { width: 1000, height: 560 }): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
  const problems: PageProblems = { errors: [], dialogs: [] };
  page.on("pageerror", (e) => problems.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") problems.errors.push(m.text());
  });
  page.on("dialog", (d) => {
    problems.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${origin}/`);
  await until(page, "window.__posted.some((m) => m.type === 'ready')");
  return { page, problems };
}

/**
 * Waits until a JavaScript expression is truthy in the page. (Playwright's waitForFunction with a
 * string evals it inside the page, which the page's CSP rightly forbids; page.evaluate does not.)
 */
export async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(expression)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${expression}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Posts a host message the way the extension does (window message event), and returns when the chart has drawn after it. */
export async function postAndDraw(page: Page, msg: HostMessage): Promise<void> {
  await page.evaluate(async (m) => {
    const g = globalThis as unknown as { __lossCurves: { nextDraw(): Promise<number>; messagesHandled(): number }; postMessage(m: unknown, o: string): void };
    const before = g.__lossCurves.messagesHandled();
    g.postMessage(m, "*");
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no draw after ${m.type}`)), 10_000));
    // The first draw after the message was handled (an unrelated resize draw may come first).
    do await Promise.race([g.__lossCurves.nextDraw(), timeout]);
    while (g.__lossCurves.messagesHandled() === before);
  }, msg);
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A plausible run: train loss every `every` steps decaying with noise, test loss and accuracies
 * every `evalEvery` steps (null in between, as in metrics.jsonl), a grokking-like late drop of
 * the test loss when `grokAt` is given.
 */
export function syntheticPoints(opts: { from: number; to: number; every: number; evalEvery: number; seed: number; scale?: number; grokAt?: number; secondsPerStep?: number }): SeriesPoints {
  const r = rng(opts.seed);
  const k = opts.scale ?? 1;
  const sps = opts.secondsPerStep ?? 0.01;
  const p: SeriesPoints = { step: [], time: [], values: { train_loss: [], test_loss: [], train_acc: [], test_acc: [] } };
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
