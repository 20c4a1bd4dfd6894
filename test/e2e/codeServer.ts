// The end-to-end rig: a real VS Code (code-server from npm, installed into .test-tools/ by
// scripts/install-test-tools.sh) driven by a real Chromium (Debian's, through playwright-core),
// offline. test/e2e/README.md says why each flag is here.
//
// One CodeServer owns everything it starts: temp dirs, the server's process group, the browser.
// `close()` ends all of it, in the order that does not leave an extension host behind.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { Browser, ElementHandle, Frame, Locator, Page } from "playwright-core";

/** Repository root (this file is bundled into dist/test/e2e/*.test.cjs). */
export const ROOT = resolve(__dirname, "..", "..", "..");
export const TOOLS = join(ROOT, ".test-tools");
export const CODE_SERVER = join(TOOLS, "node_modules", ".bin", "code-server");
export const CHROMIUM = process.env["LM_E2E_CHROMIUM"] ?? "/usr/bin/chromium";
/** Screenshots land beside the built tests (or in $LM_E2E_SHOTS), so a CI job can keep them as artifacts. */
export const SHOTS = process.env["LM_E2E_SHOTS"] ?? join(ROOT, "dist", "test", "e2e");

/** Why the e2e tests cannot run here, or undefined when they can. */
export function missingTools(): string | undefined {
  if (!existsSync(CODE_SERVER))
    return "code-server is not installed in .test-tools/ (run `bash scripts/install-test-tools.sh`)";
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (run \`bash scripts/install-test-tools.sh\`)`;
  try {
    loadPlaywright();
  } catch (e) {
    return `playwright-core cannot be loaded: ${(e as Error).message}`;
  }
  return undefined;
}

// Loaded at run time, not bundled: playwright-core locates its own files relative to its package.
type Playwright = typeof import("playwright-core");
function loadPlaywright(): Playwright {
  return createRequire(join(ROOT, "package.json"))("playwright-core") as Playwright;
}

/** Milliseconds since `t0`, for the phase timings the tests print. */
export const since = (t0: number): number => Math.round(performance.now() - t0);

export interface CodeServerOptions {
  /** Folder the workbench opens. */
  folder: string;
  /** Workspace trust on (the trust tests) or off (the default, no Restricted Mode prompt). */
  workspaceTrust?: boolean;
  /** A .vsix to install into the fresh extensions dir before the server starts. */
  vsix?: string;
  /** Extra user settings. */
  settings?: Record<string, unknown>;
  /** Extra environment for the server (it reaches the extension host). */
  env?: Record<string, string>;
}

export interface OpenOptions {
  /** Load this folder as an extension in development mode (the payload URL). */
  extensionDevelopmentPath?: string;
  /** Run this built test index in the extension host; its exit code arrives through `exitCode()`. */
  extensionTestsPath?: string;
}

/** Phase timings in milliseconds, filled as the rig goes. */
export interface Timings {
  install?: number;
  serverStart?: number;
  browserLaunch?: number;
  workbenchLoad?: number;
}

export class CodeServer {
  readonly timings: Timings = {};
  /** Server output, for failure messages. */
  log = "";
  /** Browser console lines (the extension's console.log arrives here). */
  readonly console: string[] = [];
  port = 0;
  private readonly dir: string;
  private readonly userDataDir: string;
  private readonly extensionsDir: string;
  private server: ChildProcess | undefined;
  private serverExited: Promise<void> | undefined;
  private browser: Browser | undefined;
  private page_: Page | undefined;
  private exitResolve: ((code: number) => void) | undefined;
  private readonly exitPromise: Promise<number>;

  private constructor(private readonly options: CodeServerOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "lm-e2e-"));
    this.userDataDir = join(this.dir, "user-data");
    this.extensionsDir = join(this.dir, "extensions");
    mkdirSync(join(this.userDataDir, "User"), { recursive: true });
    mkdirSync(this.extensionsDir, { recursive: true });
    const settings = {
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "extensions.autoUpdate": false,
      "extensions.autoCheckUpdates": false,
      "extensions.ignoreRecommendations": true,
      "telemetry.telemetryLevel": "off",
      "update.mode": "none",
      "security.workspace.trust.enabled": options.workspaceTrust ?? false,
      "git.enabled": false,
      // The tests time training on wasm; with PyTorch installed, auto would choose torch. A test
      // that trains on torch asks for it in its own settings.
      "learningMechanics.backend": "wasm",
      ...options.settings,
    };
    writeFileSync(join(this.userDataDir, "User", "settings.json"), JSON.stringify(settings, null, 2));
    // A config file of our own, or code-server writes one under the home directory.
    writeFileSync(join(this.dir, "config.yaml"), "auth: none\ncert: false\n");
    this.exitPromise = new Promise((r) => (this.exitResolve = r));
  }

  /** Prepares dirs, installs the .vsix if any, and starts the server. */
  static async start(options: CodeServerOptions): Promise<CodeServer> {
    const cs = new CodeServer(options);
    live.add(cs);
    try {
      if (options.vsix !== undefined) cs.installExtension(options.vsix);
      await cs.startServer();
      return cs;
    } catch (e) {
      await cs.close();
      throw e;
    }
  }

  private baseArgs(): string[] {
    return [
      "--config",
      join(this.dir, "config.yaml"),
      "--user-data-dir",
      this.userDataDir,
      "--extensions-dir",
      this.extensionsDir,
    ];
  }

  /** `--install-extension`, while no server runs on these dirs. */
  installExtension(vsix: string): void {
    if (this.server !== undefined) throw new Error("installExtension: the server is already running on these dirs");
    const t0 = performance.now();
    const r = spawnSync(CODE_SERVER, [...this.baseArgs(), "--install-extension", resolve(vsix)], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (r.status !== 0)
      throw new Error(`code-server --install-extension ${vsix} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    this.timings.install = since(t0);
  }

  private async startServer(): Promise<void> {
    const t0 = performance.now();
    this.port = await freePort();
    const args = [
      ...this.baseArgs(),
      "--auth",
      "none",
      "--bind-addr",
      `127.0.0.1:${this.port}`,
      "--disable-telemetry",
      "--disable-update-check",
      ...(this.options.workspaceTrust === true ? [] : ["--disable-workspace-trust"]),
      this.options.folder,
    ];
    // Its own process group: code-server forks a file watcher that outlives a kill of the parent.
    const child = spawn(CODE_SERVER, args, {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...this.options.env },
    });
    this.server = child;
    this.serverExited = new Promise((r) => child.once("exit", () => r()));
    const append = (d: Buffer): void => {
      this.log += d.toString();
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`code-server exited (${child.exitCode ?? child.signalCode}) before answering\n${this.log}`);
      if ((await httpStatus(`${this.url}/healthz`)) === 200) break;
      if (Date.now() > deadline) throw new Error(`code-server did not answer on ${this.url} within 60 s\n${this.log}`);
      await sleep(100);
    }
    this.timings.serverStart = since(t0);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get page(): Page {
    if (this.page_ === undefined) throw new Error("CodeServer.open() first");
    return this.page_;
  }

  /** Launches Chromium, opens the workbench on the folder and waits for `.monaco-workbench`. */
  async open(opts: OpenOptions = {}): Promise<Page> {
    const t0 = performance.now();
    const { chromium } = loadPlaywright();
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    this.timings.browserLaunch = since(t0);
    const context = await this.browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    this.page_ = page;
    page.on("console", (m) => {
      this.console.push(`[${m.type()}] ${m.text()}`);
      if (this.console.length > 2000) this.console.splice(0, 1000);
    });
    page.on("pageerror", (e) => this.console.push(`[pageerror] ${e.message}`));
    // The extension host reports a test suite's exit code through this (as @vscode/test-web does).
    await page.exposeFunction("codeAutomationExit", (code: number) => this.exitResolve?.(code));
    const t1 = performance.now();
    await page.goto(this.workbenchUrl(opts));
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 60_000 });
    // The explorer (or any part) being rendered means the workbench finished restoring.
    await page.locator(".part.sidebar, .part.editor").first().waitFor({ state: "visible", timeout: 30_000 });
    this.timings.workbenchLoad = since(t1);
    return page;
  }

  /** `/?folder=…&payload=…`: the remote authority of vscode-remote URIs is literally `remote`. */
  workbenchUrl(opts: OpenOptions = {}): string {
    const payload: Array<[string, string]> = [];
    if (opts.extensionDevelopmentPath !== undefined)
      payload.push(["extensionDevelopmentPath", `vscode-remote://remote${resolve(opts.extensionDevelopmentPath)}`]);
    if (opts.extensionTestsPath !== undefined)
      payload.push(["extensionTestsPath", `vscode-remote://remote${resolve(opts.extensionTestsPath)}`]);
    const q = new URLSearchParams({ folder: resolve(this.options.folder) });
    if (payload.length > 0) q.set("payload", JSON.stringify(payload));
    return `${this.url}/?${q.toString()}`;
  }

  /** The exit code an `extensionTestsPath` suite reported, or an error after `timeoutMs`. */
  exitCode(timeoutMs = 120_000): Promise<number> {
    // A cleared timer, not a sleep(): a pending timer kept the test process alive for the full timeout.
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.exitPromise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `the extension test suite did not report an exit code within ${timeoutMs} ms\n${this.console.slice(-40).join("\n")}`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  // ---- Helpers a test drives the workbench with -------------------------------------------------

  /** Opens a file of the folder with Quick Open (Ctrl+P) and waits until its tab is active. */
  async openFile(relativePath: string): Promise<void> {
    const page = this.page;
    const name = relativePath.split("/").at(-1) ?? relativePath;
    await this.focusWorkbench();
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible", timeout: 10_000 });
    await input.fill(relativePath);
    // Wait for the file to be listed (the file search runs on the server) before choosing it.
    await page
      .locator(".quick-input-widget .monaco-list-row", { hasText: name })
      .first()
      .waitFor({ state: "visible", timeout: 30_000 });
    await page.keyboard.press("Enter");
    await page
      .locator(`.tab.active[aria-label*="${cssString(name)}"]`)
      .first()
      .waitFor({ state: "visible", timeout: 30_000 });
    await page
      .locator(".editor-group-container.active .editor-instance .monaco-editor .view-lines")
      .first()
      .waitFor({ state: "visible", timeout: 30_000 });
  }

  /** Opens a top-level file by clicking its row in the explorer (into the focused editor group). */
  async clickExplorerRow(name: string): Promise<void> {
    const row = this.page.locator(".explorer-folders-view .monaco-list-row", { hasText: name }).first();
    await row.waitFor({ state: "visible", timeout: 30_000 });
    await row.click();
    await this.page
      .locator(`.tab.active[aria-label*="${cssString(name)}"]`)
      .first()
      .waitFor({ state: "visible", timeout: 30_000 });
  }

  /** Focuses the first editor group (a webview opened beside moves focus to the second). */
  async focusFirstEditorGroup(): Promise<void> {
    await this.focusWorkbench();
    await this.page.keyboard.press("Control+1");
  }

  /** Text of the visible lines of the active editor. */
  async editorText(): Promise<string> {
    return (
      await this.page
        .locator(".editor-group-container.active .editor-instance .monaco-editor .view-lines")
        .first()
        .innerText()
    ).replace(/\u00a0/g, " ");
  }

  codeLens(text: string): Locator {
    return this.page.locator(".codelens-decoration a", { hasText: text }).first();
  }

  async waitForCodeLens(text: string, timeoutMs = 60_000): Promise<Locator> {
    const lens = this.codeLens(text);
    await lens.waitFor({ state: "visible", timeout: timeoutMs });
    return lens;
  }

  async clickCodeLens(text: string, timeoutMs = 60_000): Promise<void> {
    await (await this.waitForCodeLens(text, timeoutMs)).click();
  }

  /** Hovers the first editor token whose text is exactly `text`; returns the hover's text. */
  async hoverAt(text: string, timeoutMs = 30_000): Promise<string> {
    const page = this.page;
    const token = page
      .locator(".editor-group-container.active .editor-instance .view-lines .view-line span > span")
      .filter({ hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) })
      .first();
    await token.waitFor({ state: "visible", timeout: timeoutMs });
    const box = await token.boundingBox();
    if (box === null) throw new Error(`hoverAt: token ${text} has no box`);
    const hover = page
      .locator(".monaco-hover:not(.hidden) .monaco-hover-content, .monaco-resizable-hover .monaco-hover-content")
      .first();
    const deadline = Date.now() + timeoutMs;
    // Move away and back until the hover shows: the first move can land before the provider is ready.
    for (;;) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
      try {
        await hover.waitFor({ state: "visible", timeout: 3_000 });
        // Providers answer asynchronously; give a "Loading..." placeholder time to be replaced.
        await page
          .waitForFunction((el) => !/^\s*Loading\.\.\.\s*$/.test(el?.textContent ?? ""), await hover.elementHandle(), {
            timeout: 5_000,
          })
          .catch(() => undefined);
        return (await hover.innerText()).trim();
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await page.mouse.move(box.x + box.width / 2, box.y + 200);
        await sleep(300);
      }
    }
  }

  /** Runs a command from the palette (F1) by its title, e.g. "Learning Mechanics: Stop". */
  async runCommand(title: string): Promise<void> {
    const page = this.page;
    await this.focusWorkbench();
    await page.keyboard.press("F1");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible", timeout: 10_000 });
    await input.fill(`>${title}`);
    await page
      .locator(".quick-input-widget .monaco-list-row", { hasText: title })
      .first()
      .waitFor({ state: "visible", timeout: 10_000 });
    await page.keyboard.press("Enter");
  }

  /** The content frame of a webview panel: `iframe.webview` → `iframe#active-frame`. */
  async webviewFrame(title?: string, timeoutMs = 60_000): Promise<Frame> {
    const page = this.page;
    if (title !== undefined) {
      const tab = page.locator(`.tab[aria-label*="${cssString(title)}"]`).first();
      await tab.waitFor({ state: "visible", timeout: timeoutMs });
      await tab.click();
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const outer of await page.locator("iframe.webview.ready").elementHandles()) {
        if (!(await outer.isVisible())) continue;
        const frame = await innerFrame(outer);
        if (frame !== undefined) return frame;
      }
      if (Date.now() > deadline)
        throw new Error(`no visible webview${title === undefined ? "" : ` titled ${title}`} within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Text of the status bar. */
  async statusBarText(): Promise<string> {
    return (await this.page.locator(".part.statusbar").innerText()).replace(/\s+/g, " ");
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(SHOTS, { recursive: true });
    const path = join(SHOTS, `${name}.png`);
    await this.page.screenshot({ path });
    return relative(ROOT, path);
  }

  private async focusWorkbench(): Promise<void> {
    // Escape closes a quick input or hover that would swallow the keys.
    await this.page.keyboard.press("Escape");
  }

  // ---- Teardown --------------------------------------------------------------------------------

  /** Closes pages (running beforeunload, or the extension host lives on), the browser, kills the server's whole process group and removes the temp dirs. Safe to call twice. */
  async close(): Promise<void> {
    live.delete(this);
    if (this.browser !== undefined) {
      const browser = this.browser;
      this.browser = undefined;
      for (const context of browser.contexts()) {
        for (const p of context.pages())
          await withTimeout(p.close({ runBeforeUnload: true }), 5_000).catch(() => undefined);
      }
      await withTimeout(browser.close(), 10_000).catch(() => undefined);
    }
    this.page_ = undefined;
    const server = this.server;
    if (server?.pid !== undefined) {
      killGroup(server.pid, "SIGTERM");
      const exited = await withTimeout(this.serverExited ?? Promise.resolve(), 5_000).then(
        () => true,
        () => false,
      );
      // The group's other members (the file watcher, the extension host) may outlive the leader.
      await sleep(exited ? 200 : 0);
      killGroup(server.pid, "SIGKILL");
    }
    this.server = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Everything this rig still holds, for a failing test's message. */
  diagnostics(): string {
    return `--- code-server log (tail) ---\n${this.log.slice(-4_000)}\n--- browser console (tail) ---\n${this.console.slice(-40).join("\n")}\n--- the extension's log (tail) ---\n${this.extensionLog().slice(-6_000)}`;
  }

  /** The extension's own output channel, as the extension host wrote it to the user-data logs. */
  private extensionLog(): string {
    const found: string[] = [];
    const walk = (dir: string, depth: number): void => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory() && depth < 6) walk(p, depth + 1);
        else if (e.isFile() && /Learning Mechanics\.log$/.test(e.name)) found.push(p);
      }
    };
    walk(join(this.userDataDir, "logs"), 0);
    return found.map((f) => readFileSync(f, "utf8")).join("\n") || "(none found)";
  }
}

// Servers a crashed test left behind: killed when the test process exits, whatever happens.
const live = new Set<CodeServer>();
process.once("exit", () => {
  for (const cs of live) {
    const pid = (cs as unknown as { server?: ChildProcess }).server?.pid;
    if (pid !== undefined) killGroup(pid, "SIGKILL");
  }
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

async function innerFrame(outer: ElementHandle): Promise<Frame | undefined> {
  const host = await outer.contentFrame();
  if (host === null) return undefined;
  const inner = await host.$("iframe#active-frame");
  if (inner === null) return undefined;
  return (await inner.contentFrame()) ?? undefined;
}

/** A free TCP port on 127.0.0.1 (bound, then released for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((r) => {
    const req = request(url, { timeout: 2_000 }, (res) => {
      res.resume();
      r(res.statusCode);
    });
    req.once("error", () => r(undefined));
    req.once("timeout", () => {
      req.destroy();
      r(undefined);
    });
    req.end();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `fn` until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const cssString = (s: string): string => s.replace(/["\\]/g, "\\$&");

/** `contributes.commands` of the repo's package.json (empty until the extension contributes them). */
export function contributedCommands(): Array<{ command: string; title: string; category?: string }> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    contributes?: { commands?: Array<{ command: string; title: string; category?: string }> };
  };
  return pkg.contributes?.commands ?? [];
}
