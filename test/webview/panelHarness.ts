// Serves built webview panels to a real Chromium, as VS Code would show them: each page from its
// own HTML factory with its CSP, a stand-in for `acquireVsCodeApi` placed before the module script
// (it records posted messages and keeps get/setState), and VS Code's dark theme variables set on
// <html> through the CSSOM, as the webview host does. Used by the webview tests and by the
// benchmarks in bench/. Needs `node scripts/build.mjs` first (dist/webview/<panel>.js).

import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { PageResources } from "../../src/webview/common/page";

export { rng } from "../support";

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

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

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

/** A panel the server offers at `/<name>`: its bundle is dist/webview/<name>.js, its style sheets media/<css>. */
export interface PanelSpec {
  css: string[];
  html(resources: PageResources): string;
}

/** Serves each panel at `/<name>` (the first also at `/`), bundles from dist/webview and style sheets from media/. */
export async function serveWebviews(root: string, panels: Record<string, PanelSpec>): Promise<Served> {
  for (const name of Object.keys(panels)) {
    const bundle = path.join(root, `dist/webview/${name}.js`);
    if (!fs.existsSync(bundle)) throw new Error(`${bundle} missing: run node scripts/build.mjs`);
  }
  const first = Object.keys(panels)[0];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (type: string, body: string | Buffer): void => {
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    const name = url.pathname === "/" ? first : url.pathname.slice(1);
    const panel = name !== undefined && Object.hasOwn(panels, name) ? panels[name] : undefined;
    if (panel && name !== undefined) {
      const html = panel.html({
        scriptUri: `${origin}/dist/webview/${name}.js`,
        styleUris: panel.css.map((c) => `${origin}/media/${c}`),
        cspSource: origin,
        nonce: NONCE,
      });
      send("text/html; charset=utf-8", html.replace('<script type="module"', `${stubScript()}\n<script type="module"`));
      return;
    }
    // Only files directly inside dist/webview or media (no ..).
    const m = /^\/(dist\/webview|media)\/([A-Za-z0-9._-]+)$/.exec(url.pathname);
    const file = m ? path.join(root, m[1] as string, m[2] as string) : "";
    const types: Record<string, string> = { ".js": "text/javascript", ".map": "application/json", ".css": "text/css" };
    if (m && fs.existsSync(file) && types[path.extname(file)])
      send(types[path.extname(file)] as string, fs.readFileSync(file));
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
window.__lmTestHooks = true;
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

/** Opens a panel's page (`/<name>`, or `/` for the first) and waits for the webview's `ready`. */
export async function openPanel(
  browser: Browser,
  origin: string,
  name = "",
  viewport = { width: 1000, height: 560 },
): Promise<{ page: Page; problems: PageProblems }> {
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
  await page.goto(`${origin}/${name}`);
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

/** Saves a screenshot at dist/test/webview/<name>.png for a look by eye, and checks it is not blank. */
export async function screenshot(page: Page, root: string, name: string, fullPage = false): Promise<void> {
  const out = path.join(root, "dist", "test", "webview", `${name}.png`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage });
  if (fs.statSync(out).size <= 10_000) throw new Error(`${out}: under 10 kB, a blank page?`);
}
