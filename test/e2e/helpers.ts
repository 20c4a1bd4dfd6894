// Shared by the extension's e2e scenarios (test/e2e/*.test.ts): a throw-away workspace, runs
// written by the real CLI trainer, the Runs view, notifications, the Problems panel and webview
// checks. Everything here drives the real workbench through the rig in codeServer.ts.
import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame, Locator } from "playwright-core";
import {
  CodeServer,
  type CodeServerOptions,
  contributedCommands,
  missingTools,
  type OpenOptions,
  ROOT,
  since,
  sleep,
  waitFor,
} from "./codeServer";

export const EXAMPLES = join(ROOT, "examples");
export const FIXTURES = join(ROOT, "test", "fixtures", "experiments");
export const CLI = join(ROOT, "dist", "trainer", "cli.js");
export const SIDECAR = join(ROOT, "dist", "trainer", "sidecar.js");

/** Why the extension scenarios cannot run here, or undefined when they can. */
export function extensionNotReady(): string | undefined {
  const missing = missingTools();
  if (missing !== undefined) return missing;
  const commands = contributedCommands().map((c) => c.command);
  for (const id of [
    "learningMechanics.train",
    "learningMechanics.openRun",
    "learningMechanics.deleteRun",
    "learningMechanics.compareRuns",
  ]) {
    if (!commands.includes(id)) return `package.json does not contribute ${id}`;
  }
  if (!existsSync(join(ROOT, "dist", "extension", "extension.js")))
    return "dist/extension/extension.js is not built (node scripts/build.mjs)";
  if (!existsSync(CLI)) return `${CLI} is not built (node scripts/build.mjs)`;
  return undefined;
}

/** A run-free copy of examples/ in a temp dir (plus `fixtures` from test/fixtures/experiments), so no run writes into the repository. */
export function workspaceCopy(fixtures: readonly string[] = []): { dir: string; dispose(): void } {
  const parent = mkdtempSync(join(tmpdir(), "lm-e2e-ws-"));
  const dir = join(parent, "examples");
  cpSync(EXAMPLES, dir, { recursive: true, filter: (src) => !src.startsWith(join(EXAMPLES, "runs")) });
  // The examples' tsconfig maps "learning-mechanics" to ../src/sdk: point it at this repository's SDK.
  const tsconfig = join(dir, "tsconfig.json");
  if (existsSync(tsconfig))
    writeFileSync(
      tsconfig,
      readFileSync(tsconfig, "utf8").replace("../src/sdk/index.ts", join(ROOT, "src", "sdk", "index.ts")),
    );
  for (const f of fixtures) cpSync(join(FIXTURES, f), join(dir, f));
  // Retried: a trainer or analyzer the extension started stops gracefully when code-server goes
  // (its stdin closes) and may still write a last file into a run folder (ENOTEMPTY in CI).
  return { dir, dispose: () => rmSync(parent, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }) };
}

/** Starts code-server on `folder` with the extension in development mode from this repository. */
export async function startDevRig(
  folder: string,
  server: Partial<CodeServerOptions> = {},
  open: OpenOptions = {},
): Promise<CodeServer> {
  const cs = await CodeServer.start({ folder, ...server });
  try {
    await cs.open({ extensionDevelopmentPath: ROOT, ...open });
    return cs;
  } catch (e) {
    await cs.close();
    throw e;
  }
}

/**
 * Trains `system` of `file` with the real CLI trainer (wasm, `steps` steps) into `runDir`; resolves
 * with the milliseconds it took. Several can run at once: each is its own process.
 */
export function cliTrain(
  cwd: string,
  file: string,
  system: string,
  runDir: string,
  steps: number,
  timeoutMs = 120_000,
): Promise<number> {
  const t0 = performance.now();
  const cli = spawn(
    process.execPath,
    [CLI, "train", file, "--system", system, "--run-dir", runDir, "--backend", "wasm", "--steps", String(steps)],
    { cwd, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  cli.stdout.on("data", (d: Buffer) => (out += d.toString()));
  cli.stderr.on("data", (d: Buffer) => (out += d.toString()));
  // A cleared timer, not a sleep(): a pending timer would keep the test process alive.
  let timer: NodeJS.Timeout | undefined;
  return new Promise<number>((resolveRun, reject) => {
    cli.once("exit", (code) =>
      code === 0 ? resolveRun(since(t0)) : reject(new Error(`CLI trainer for ${system} exited ${code}\n${out}`)),
    );
    timer = setTimeout(() => {
      cli.kill("SIGKILL");
      reject(new Error(`the CLI trainer for ${system} did not finish within ${timeoutMs} ms\n${out}`));
    }, timeoutMs);
  }).finally(() => clearTimeout(timer));
}

// ---- The Runs view -----------------------------------------------------------------------------

export const RUNS_PANE = '[id="workbench.view.extension.learningMechanics"]';

/** Opens the Learning Mechanics container; returns its pane. */
export async function openRunsView(cs: CodeServer): Promise<Locator> {
  const pane = cs.page.locator(RUNS_PANE);
  if (!(await pane.isVisible()))
    await cs.page
      .locator('.part.activitybar .action-item a[aria-label^="Learning Mechanics"]')
      .first()
      .click({ timeout: 30_000 });
  await pane.waitFor({ state: "visible", timeout: 30_000 });
  return pane;
}

/** The Runs view's rows as text, whitespace collapsed. */
export async function runsRows(cs: CodeServer): Promise<string[]> {
  return (await cs.page.locator(`${RUNS_PANE} .monaco-list-row`).allInnerTexts()).map((r) =>
    r.replace(/\s+/g, " ").trim(),
  );
}

/** The tree row whose label is exactly `label` (a run's folder name, a system, an experiment file name). */
export function runsRow(cs: CodeServer, label: string): Locator {
  return cs.page
    .locator(`${RUNS_PANE} .monaco-list-row`)
    .filter({ has: cs.page.locator(".label-name", { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) })
    .first();
}

/** The tree row's indentation level (aria-level: 1 experiment, 2 system, 3 run). */
export async function rowLevel(row: Locator): Promise<number> {
  return Number(await row.getAttribute("aria-level"));
}

/** Waits until the DOM under `selector` has not changed for `quietMs`; returns how long that took and how many mutations it saw. */
export async function waitForQuietDom(
  cs: CodeServer,
  selector: string,
  quietMs: number,
  timeoutMs: number,
): Promise<{ ms: number; mutations: number }> {
  const t0 = performance.now();
  // Strings, not functions: this project's tsconfig has no DOM lib.
  await cs.page.evaluate(`(() => {
    const state = { n: 0, last: Date.now() };
    window.__lmQuiet = state;
    const el = document.querySelector(${JSON.stringify(selector)});
    if (el !== null) new MutationObserver((records) => { state.n += records.length; state.last = Date.now(); }).observe(el, { subtree: true, childList: true, attributes: true, characterData: true });
  })()`);
  const r = await waitFor(
    `${selector} to stay unchanged for ${quietMs} ms`,
    async () => {
      const m = await cs.page.evaluate<{ n: number; idle: number }>(
        `({ n: window.__lmQuiet.n, idle: Date.now() - window.__lmQuiet.last })`,
      );
      return m.idle >= quietMs ? m : undefined;
    },
    timeoutMs,
    200,
  );
  return { ms: since(t0), mutations: r.n };
}

/** Right-clicks `row` and chooses `action` from its context menu (the menu lives in a shadow root: Playwright's CSS pierces it). */
export async function contextMenuAction(cs: CodeServer, row: Locator, action: string): Promise<void> {
  await row.click({ button: "right" });
  const item = cs.page.locator(".context-view .monaco-menu .action-item .action-label", { hasText: action }).first();
  await item.waitFor({ state: "visible", timeout: 10_000 });
  // Hover focuses the item, Enter runs it: a click right after the menu opens can be swallowed (the
  // menu ignores a mouse-up it attributes to the right-click that opened it).
  await item.hover();
  await sleep(100);
  await cs.page.keyboard.press("Enter");
  await item.waitFor({ state: "hidden", timeout: 5_000 });
}

/** Chooses the quick pick row that has `text` (waiting for it). */
export async function pickQuickItem(cs: CodeServer, text: string): Promise<void> {
  const row = cs.page.locator(".quick-input-widget .monaco-list-row", { hasText: text }).first();
  await row.waitFor({ state: "visible", timeout: 20_000 });
  await row.click();
}

/** The labels of `row`'s context menu (then closed with Escape). */
export async function contextMenuLabels(cs: CodeServer, row: Locator): Promise<string[]> {
  await row.click({ button: "right" });
  const items = cs.page.locator(".context-view .monaco-menu .action-item .action-label");
  await items.first().waitFor({ state: "visible", timeout: 10_000 });
  const labels = (await items.allInnerTexts()).map((t) => t.trim()).filter((t) => t !== "");
  await cs.page.keyboard.press("Escape");
  await items.first().waitFor({ state: "hidden", timeout: 5_000 });
  return labels;
}

/**
 * Does `act` and retries it (at most `attempts` times) when the workbench answers with a "command
 * … not found" notification: the Runs view redraws its whole tree on every run change, and a click
 * that lands during a redraw runs a command handle the extension host has already disposed.
 */
export async function withStaleCommandRetry(
  cs: CodeServer,
  act: () => Promise<void>,
  settled: () => Promise<boolean>,
  attempts = 3,
): Promise<number> {
  for (let i = 1; ; i++) {
    await act();
    const ok = await waitFor(
      "the action to take effect or a stale-command error",
      async () => {
        if (await settled()) return true;
        const stale = (await visibleNotifications(cs)).some((n) => /command .* not found/i.test(n.text));
        return stale ? false : undefined;
      },
      30_000,
      200,
    );
    if (ok) return i;
    if (i >= attempts) throw new Error(`still "command not found" after ${attempts} attempts`);
    await clearNotifications(cs);
    await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 1_000, 30_000);
  }
}

// ---- Notifications, dialogs, Problems ----------------------------------------------------------

export interface Notification {
  severity: "error" | "warning" | "info";
  text: string;
}

/**
 * Every notification of the session, with its severity: opens the notification center (toasts
 * vanish on Escape, which the rig presses before each command, but stay listed there) and closes it.
 */
export async function notifications(cs: CodeServer): Promise<Notification[]> {
  await cs.runCommand("Notifications: Show Notifications");
  await cs.page
    .locator(".notifications-center")
    .waitFor({ state: "visible", timeout: 5_000 })
    .catch(() => undefined);
  await sleep(200);
  const all = await visibleNotifications(cs);
  await cs.page.keyboard.press("Escape");
  return all;
}

/** The notifications now in the DOM (toasts, and the center's entries when it is open); does not touch focus. */
export async function visibleNotifications(cs: CodeServer): Promise<Notification[]> {
  return cs.page.evaluate<Notification[]>(`(() => {
    const out = [];
    for (const el of document.querySelectorAll(".notification-list-item")) {
      const icon = el.querySelector(".notification-list-item-icon");
      const cls = icon === null ? "" : icon.className;
      const severity = /codicon-error/.test(cls) ? "error" : /codicon-warning/.test(cls) ? "warning" : "info";
      const msg = el.querySelector(".notification-list-item-message");
      out.push({ severity, text: (msg === null ? el.textContent : msg.textContent).replace(/\\s+/g, " ").trim() });
    }
    return out;
  })()`);
}

export async function clearNotifications(cs: CodeServer): Promise<void> {
  await cs.runCommand("Notifications: Clear All Notifications").catch(() => undefined);
  await sleep(200);
}

/** The modal dialog (a `{ modal: true }` message): its text and a way to press one of its buttons. */
export async function modalDialog(
  cs: CodeServer,
  timeoutMs = 15_000,
): Promise<{ text: string; buttons: string[]; press(label: string): Promise<void> }> {
  const box = cs.page.locator(".monaco-dialog-box").first();
  await box.waitFor({ state: "visible", timeout: timeoutMs });
  const text = (await box.innerText()).replace(/\s+/g, " ").trim();
  const buttons = (await box.locator(".dialog-buttons .monaco-button").allInnerTexts()).map((b) => b.trim());
  return {
    text,
    buttons,
    press: async (label: string) => {
      await box
        .locator(".dialog-buttons .monaco-button", { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) })
        .first()
        .click();
      await box.waitFor({ state: "hidden", timeout: 10_000 });
    },
  };
}

export interface ProblemRow {
  /** The file row this marker sits under (its text up to the first space: the file name). */
  file: string;
  /** Text of the row, whitespace collapsed (message, source, position). */
  text: string;
  /** 1-based line and column from the row's "[Ln l, Col c]". */
  line: number;
  column: number;
}

/** Opens the Problems panel and reads its marker rows (file rows are skipped). */
export async function problems(cs: CodeServer): Promise<ProblemRow[]> {
  const panel = cs.page.locator(".markers-panel");
  if (!(await panel.isVisible())) await cs.runCommand("Problems: Focus on Problems View");
  // The extension reveals its log on an error, which can take the panel area from Problems right
  // after we focused it: then report nothing yet, and the caller's wait asks again.
  const shown = await panel.waitFor({ state: "visible", timeout: 10_000 }).then(
    () => true,
    () => false,
  );
  if (!shown) return [];
  // In the order shown, not the DOM's: the list is virtual and inserts a row rendered later (a new
  // file's group) wherever it likes, which once put one file's problem under another's header.
  const indexed = await panel
    .locator(".monaco-list-row")
    .evaluateAll((els) =>
      els.map(
        (el) => [Number(el.getAttribute("data-index")), (el as unknown as { innerText: string }).innerText] as const,
      ),
    );
  const rows = indexed
    .slice()
    .sort((a, b) => a[0] - b[0])
    .map(([, r]) => r.replace(/\s+/g, " ").trim());
  const out: ProblemRow[] = [];
  let file = "";
  for (const text of rows) {
    const m = /\[Ln (\d+), Col (\d+)\]/.exec(text);
    if (m) out.push({ file, text, line: Number(m[1]), column: Number(m[2]) });
    else file = text.split(" ")[0] ?? text;
  }
  return out;
}

// ---- Editor ------------------------------------------------------------------------------------

/**
 * Hovers the middle of the first occurrence of `text` in the active editor's visible lines (found
 * through the DOM's text nodes, whatever the tokenizer split it into) and returns the hover widget.
 */
export async function hoverText(cs: CodeServer, text: string, timeoutMs = 30_000): Promise<Locator> {
  const page = cs.page;
  const find = `(() => {
    const needle = ${JSON.stringify(text)};
    for (const line of document.querySelectorAll(".editor-group-container.active .editor-instance .view-lines .view-line")) {
      const full = line.textContent.replace(/\\u00a0/g, " ");
      const at = full.indexOf(needle);
      if (at < 0) continue;
      const mid = at + Math.floor(needle.length / 2);
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      let offset = 0;
      for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
        const len = node.textContent.length;
        if (mid < offset + len) {
          const r = document.createRange();
          r.setStart(node, mid - offset);
          r.setEnd(node, mid - offset + 1);
          const b = r.getBoundingClientRect();
          return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
        }
        offset += len;
      }
    }
    return null;
  })()`;
  const point = await waitFor(
    `"${text}" in the editor`,
    async () => (await page.evaluate<{ x: number; y: number } | null>(find)) ?? undefined,
    timeoutMs,
  );
  const hover = page
    .locator(".monaco-hover:not(.hidden) .monaco-hover-content, .monaco-resizable-hover .monaco-hover-content")
    .first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.mouse.move(point.x, point.y, { steps: 4 });
    try {
      await hover.waitFor({ state: "visible", timeout: 3_000 });
      await page
        .waitForFunction((el) => !/^\s*Loading\.\.\.\s*$/.test(el?.textContent ?? ""), await hover.elementHandle(), {
          timeout: 5_000,
        })
        .catch(() => undefined);
      return hover;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await page.mouse.move(point.x, point.y + 200);
      await sleep(300);
    }
  }
}

// ---- Webviews ----------------------------------------------------------------------------------

/** The loss-curves legend inside a webview frame: each run's label and status. */
export async function legend(frame: Frame): Promise<Array<{ label: string; status: string }>> {
  const items = frame.locator("#legend li.run");
  const n = await items.count();
  const out: Array<{ label: string; status: string }> = [];
  for (let i = 0; i < n; i++) {
    const li = items.nth(i);
    const status = li.locator(".status");
    out.push({
      label: (await li.locator(".label").innerText()).trim(),
      status: (await status.count()) > 0 ? (await status.innerText()).trim() : "",
    });
  }
  return out;
}

/**
 * Evaluated in the webview: pixels of the canvases matching `selector` that differ from that
 * canvas's background (its top-left pixel). The chart fills its background, so "any alpha" would
 * count the whole canvas.
 */
export const inkedPixels = (selector: string): string => `(() => {
  let n = 0;
  for (const c of document.querySelectorAll(${JSON.stringify(selector)})) {
    const ctx = c.getContext("2d");
    if (ctx === null || c.width === 0 || c.height === 0) continue;
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    const [r, g, b, a] = [data[0], data[1], data[2], data[3]];
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) + Math.abs(data[i + 3] - a) > 24) n++;
    }
  }
  return n;
})()`;

/** Inked pixels of every canvas in the webview. */
export const INKED_PIXELS = inkedPixels("canvas");

/** Waits until the frame's canvas shows more than `minPixels` inked pixels; returns the count. */
export async function waitForInk(frame: Frame, minPixels = 500, timeoutMs = 60_000): Promise<number> {
  await frame.locator("canvas").first().waitFor({ state: "visible", timeout: 30_000 });
  return waitFor(
    "the chart to draw",
    async () => {
      const n = await frame.evaluate<number>(INKED_PIXELS);
      return n > minPixels ? n : undefined;
    },
    timeoutMs,
    500,
  );
}

/**
 * A live chart: the visible webview's canvas, its ink now, and its ink once it has grown (metrics
 * arriving while a run trains). Returns the frame and both counts.
 */
export async function waitForGrowingChart(
  cs: CodeServer,
  timeouts: { frameMs: number; growMs: number },
): Promise<{ frame: Frame; before: number; grown: number }> {
  const frame = await cs.webviewFrame(undefined, timeouts.frameMs);
  await frame.locator("canvas").first().waitFor({ state: "visible", timeout: 30_000 });
  const inked = (): Promise<number> => frame.evaluate<number>(INKED_PIXELS);
  const before = await inked();
  const grown = await waitFor(
    "the chart to gain points",
    async () => {
      const now = await inked();
      return now > before ? now : undefined;
    },
    timeouts.growMs,
    1_000,
  );
  return { frame, before, grown };
}

/**
 * The content frame (`iframe.webview` → `iframe#active-frame`) of the visible webview whose legend
 * shows exactly `labels` (in any order). Webview iframes live in an overlay outside their editor
 * group, so with several panels beside each other this is how a test tells them apart.
 */
export async function lossCurvesFrame(cs: CodeServer, labels: readonly string[], timeoutMs = 60_000): Promise<Frame> {
  const want = [...labels].sort().join("\n");
  const page = cs.page;
  return waitFor(
    `a loss-curves webview showing ${labels.join(", ")}`,
    async () => {
      for (const outer of await page.locator("iframe.webview.ready").elementHandles()) {
        if (!(await outer.isVisible())) continue;
        const host = await outer.contentFrame();
        const inner = await host?.$("iframe#active-frame");
        const frame = await inner?.contentFrame();
        if (frame === null || frame === undefined) continue;
        const got = (await legend(frame).catch(() => []))
          .map((l) => l.label)
          .sort()
          .join("\n");
        if (got === want) return frame;
      }
      return undefined;
    },
    timeoutMs,
    300,
  );
}

/** Webview tabs (titles) of the editor area. */
export async function editorTabs(cs: CodeServer): Promise<string[]> {
  return (
    await cs.page
      .locator(".tabs-container .tab")
      .evaluateAll((tabs) => tabs.map((t) => t.getAttribute("aria-label") ?? ""))
  ).filter((l) => l !== "");
}

// ---- Processes ---------------------------------------------------------------------------------

/** Pids of this repository's trainer sidecars whose working directory is `cwd` (Linux /proc). */
export function sidecarsIn(cwd: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (!cmd.includes(SIDECAR)) continue;
      const dir = readlinkSafe(`/proc/${name}/cwd`);
      if (dir === cwd) out.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

function readlinkSafe(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
