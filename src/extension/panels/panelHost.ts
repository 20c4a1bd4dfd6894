// The one host of every webview panel (recipe in src/webview/README.md): one panel per kind and
// set of runs (open or reveal), the page with its CSP and a fresh nonce per render, revival after a
// window reload by a serializer per kind (which runs a panel showed is kept in workspaceState, keyed
// by its title; the page keeps only its view settings), exports saved beside the run, reruns, and
// refreshes when a run changes. The conversation with the page is a PanelSession (panelSession.ts,
// no vscode); what a kind shows is its PanelContent (lossCurvesPanel.ts, grokkingPanel.ts, ...).

import { randomBytes } from "node:crypto";
import * as path from "node:path";
import * as vscode from "vscode";
import type { PanelName, RerunAnalysisMessage } from "../../shared/panels/common";
import type { PageResources } from "../../webview/common/page";
import type { Ctx } from "../context";
import { saveExport } from "../exports";
import { runCalibration } from "../calibrateRun";
import { runIntervention } from "../interveneRun";
import { CALIBRATION, COMPARE } from "./comparePanel";
import { pathKey, samePath } from "../paths";
import { LOSS_CURVES } from "./lossCurvesPanel";
import { PanelSession, type PanelContent, type PanelWebviewMessage } from "./panelSession";
import { SWEEP } from "./sweepPanel";
import { labelOf, runSetKey, type PanelEnv } from "./runs";

/** One kind of panel: everything the host needs to open, revive and feed it. */
export interface PanelKind<S, H> {
  /** The title's first part ("Loss curves · run-id"); tests and users find panels by it. */
  readonly title: string;
  readonly viewType: string;
  /** dist/webview/<bundle>.js, built from src/webview/<bundle>/main.ts. */
  readonly bundle: PanelName;
  /** Style sheets in media/, in cascade order. */
  readonly styles: readonly string[];
  html(resources: PageResources): string;
  /** Where open panels are remembered for revival: a workspaceState key, each panel's entry name, and its kind (analysis panels share a key). */
  readonly store: { key: string; entry(title: string): string; kind?: string };
  isState(x: unknown): x is S;
  isWebviewMessage(x: unknown): x is PanelWebviewMessage<S>;
  /** Bring the runs' analyses up to date when the panel opens (the analyzer skips what is written). */
  readonly analyses: boolean;
  /** Coalesce refreshes of a live run into one per this many ms (undefined: at once). */
  readonly refreshMs?: number;
  /** The runs shown of those asked for (default: all). */
  shown?(runDirs: readonly string[]): string[];
  /**
   * Whether a change in folder `changed` concerns the panel showing `dir` (default: the same
   * folder). The sweep panel shows a sweep folder and follows its points' run folders too.
   */
  follows?(dir: string, changed: string): boolean;
  /** Whether the page may ask to open this run's loss curves (default: never); `dirs` are the panel's. */
  opensRun?(dirs: readonly string[], runId: string): boolean;
  content(env: PanelEnv, runDirs: readonly string[]): PanelContent<S, H>;
}

type Saved<S> = Record<string, { runDirs: string[]; state?: S; kind?: string }>;

/** What the registry of open panels needs of each, whatever its kind. */
interface OpenPanel {
  readonly runDirs: readonly string[];
  /** The folder of `runDirs` a change in `changed` concerns, if any. */
  follows(changed: string): string | undefined;
  notify(runDir: string): void;
  reveal(preserveFocus: boolean): void;
  close(): void;
}

const open = new Map<string, OpenPanel>();
const keyOf = (viewType: string, runDirs: readonly string[]): string => `${viewType}\n${runSetKey(runDirs)}`;

/** Shows the panel of this kind for these runs, creating it if needed. */
export function openPanel<S, H>(
  ctx: Ctx,
  kind: PanelKind<S, H>,
  runDirs: readonly string[],
  options: { preserveFocus?: boolean } = {},
): void {
  const dirs = uniquePaths(kind.shown ? kind.shown(runDirs) : runDirs);
  const existing = open.get(keyOf(kind.viewType, dirs));
  if (existing) {
    existing.reveal(options.preserveFocus ?? false);
    return;
  }
  // Runs that predate this window may never have been analysed: bring them up to date (the
  // analyzer skips whatever is already written, so this is cheap when nothing is missing).
  if (kind.analyses && ctx.config.autoAnalyze === "runRoots")
    for (const runDir of dirs) if (!ctx.supervisor.findByRunDir(runDir)) ctx.analyzers.request({ runDir });
  const panel = vscode.window.createWebviewPanel(
    kind.viewType,
    titleFor(ctx, kind.title, dirs),
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: options.preserveFocus ?? false },
    webviewOptions(ctx),
  );
  new PanelHost(ctx, kind, panel, dirs, undefined);
}

/** Absolute paths, each file once (compared as the file system compares names), in first-seen order. */
function uniquePaths(runDirs: readonly string[]): string[] {
  const byKey = new Map<string, string>();
  for (const d of runDirs) if (!byKey.has(pathKey(d))) byKey.set(pathKey(d), path.resolve(d));
  return [...byKey.values()];
}

/** Registers the serializer that revives this kind's panels after a window reload. */
export function registerSerializer<S, H>(ctx: Ctx, kind: PanelKind<S, H>): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(kind.viewType, {
    deserializeWebviewPanel: async (panel) => {
      const saved = ctx.extension.workspaceState.get<Saved<unknown>>(kind.store.key, {})[kind.store.entry(panel.title)];
      if (
        !saved ||
        !Array.isArray(saved.runDirs) ||
        saved.runDirs.length === 0 ||
        !saved.runDirs.every((d) => typeof d === "string") ||
        open.has(keyOf(kind.viewType, saved.runDirs))
      ) {
        panel.dispose();
        return;
      }
      panel.webview.options = webviewOptions(ctx);
      new PanelHost(ctx, kind, panel, saved.runDirs, kind.isState(saved.state) ? saved.state : undefined);
    },
  });
}

/** Something in `runDir` changed (metrics, analyses, status): every panel showing it refreshes. */
export function notifyPanels(runDir: string): void {
  for (const p of open.values()) {
    const dir = p.follows(runDir);
    if (dir !== undefined) p.notify(dir);
  }
}

export function disposePanels(): void {
  for (const p of [...open.values()]) p.close();
}

class PanelHost<S, H> implements OpenPanel {
  private readonly key: string;
  private readonly session: PanelSession<S, H>;
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly dirty = new Set<string>();
  private readonly disposeContent: () => void;

  constructor(
    private readonly ctx: Ctx,
    private readonly kind: PanelKind<S, H>,
    private readonly panel: vscode.WebviewPanel,
    readonly runDirs: readonly string[],
    state: S | undefined,
  ) {
    this.key = keyOf(kind.viewType, runDirs);
    open.set(this.key, this);
    const content = kind.content(ctx, runDirs);
    content.onReady?.((dir) => this.notify(dir));
    this.disposeContent = () => content.dispose?.();
    this.session = new PanelSession<S, H>(
      kind.title,
      content,
      kind.isWebviewMessage,
      {
        post: (m) => void panel.webview.postMessage(m),
        warn: (text) => ctx.log.warn(text),
        stateChanged: () => this.save(),
        saveExport: (name, data, type) =>
          void saveExport(ctx, runDirs[0], name, data, type === "CSV" ? { CSV: ["csv"] } : { PNG: ["png"] }),
        rerun: (m) => this.rerun(m),
        openRun: (runId) => this.openRun(runId),
        openSweep: (dirs) => openPanel(ctx, SWEEP, dirs),
        intervene: (req) => void runIntervention(ctx, req, (branchDir) => openPanel(ctx, COMPARE, [branchDir])),
        calibrate: (runDir) => void runCalibration(ctx, runDir, (dir) => openPanel(ctx, CALIBRATION, [dir])),
      },
      state,
    );
    this.save();
    panel.webview.html = kind.html(pageResources(ctx, panel.webview, kind.bundle, kind.styles));
    this.subscriptions.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.session.receive(m)),
      panel.onDidChangeViewState(() => {
        // A hidden panel's page is discarded; it posts `ready` again when shown.
        if (!panel.visible) this.session.hidden();
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  follows(changed: string): string | undefined {
    const own = this.runDirs.find((d) => samePath(d, changed));
    if (own !== undefined || !this.kind.follows) return own;
    // The folder itself is passed on: the content needs to know which of its points changed.
    return this.runDirs.some((d) => this.kind.follows?.(d, changed)) ? changed : undefined;
  }

  /** The page asked for a run's loss curves: only a run the kind says this panel shows. */
  private openRun(runId: string): void {
    if (!this.kind.opensRun?.(this.runDirs, runId)) {
      this.ctx.log.warn(`${this.kind.title}: ignored a request to open ${runId}, which it does not show`);
      return;
    }
    openPanel(this.ctx, LOSS_CURVES, [runId]);
  }

  reveal(preserveFocus: boolean): void {
    this.panel.reveal(undefined, preserveFocus);
  }

  close(): void {
    this.panel.dispose();
  }

  notify(runDir: string): void {
    if (this.kind.refreshMs === undefined) {
      this.session.refresh(runDir);
      return;
    }
    this.dirty.add(runDir);
    if (this.timer || !this.session.isReady) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const dirs = [...this.dirty];
      this.dirty.clear();
      for (const d of dirs) this.session.refresh(d);
    }, this.kind.refreshMs);
  }

  private rerun(m: RerunAnalysisMessage): void {
    const runDir = this.runDirs.find((d) => d === m.runId);
    if (!runDir) return;
    if (!this.ctx.isTrusted) {
      void vscode.window.showWarningMessage(
        "Re-running this analysis runs the experiment file's code, which needs a trusted workspace.",
      );
      return;
    }
    this.ctx.analyzers.request({ runDir, overrides: m.overrides, only: [m.analysis] });
    void vscode.window.setStatusBarMessage(
      `Learning Mechanics: re-running ${m.analysis} on ${labelOf(this.ctx, runDir)}`,
      5000,
    );
  }

  private save(): void {
    const store = this.kind.store;
    const saved = { ...this.ctx.extension.workspaceState.get<Saved<S>>(store.key, {}) };
    const state = this.session.state;
    saved[store.entry(this.panel.title)] = {
      ...(store.kind ? { kind: store.kind } : {}),
      runDirs: [...this.runDirs],
      ...(state ? { state } : {}),
    };
    void this.ctx.extension.workspaceState.update(store.key, saved);
  }

  private dispose(): void {
    if (open.get(this.key) === this) open.delete(this.key);
    this.disposeContent();
    if (this.timer) clearTimeout(this.timer);
    const saved = { ...this.ctx.extension.workspaceState.get<Saved<S>>(this.kind.store.key, {}) };
    delete saved[this.kind.store.entry(this.panel.title)];
    void this.ctx.extension.workspaceState.update(this.kind.store.key, saved);
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions.length = 0;
  }
}

/**
 * What a panel's page factory (src/webview/<panel>/page.ts) needs: its bundle
 * dist/webview/<bundle>.js and style sheets media/<styles> as webview URIs, the CSP source and a
 * fresh crypto nonce.
 */
function pageResources(ctx: Ctx, webview: vscode.Webview, bundle: string, styles: readonly string[]): PageResources {
  const root = ctx.extension.extensionUri;
  return {
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(root, "dist", "webview", `${bundle}.js`)).toString(),
    styleUris: styles.map((s) => webview.asWebviewUri(vscode.Uri.joinPath(root, "media", s)).toString()),
    cspSource: webview.cspSource,
    nonce: randomBytes(18).toString("base64url"),
  };
}

/** Scripts on; local resources limited to the built bundles and media/. */
function webviewOptions(ctx: Ctx): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  const root = ctx.extension.extensionUri;
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(root, "dist", "webview"), vscode.Uri.joinPath(root, "media")],
  };
}

function titleFor(ctx: Ctx, title: string, runDirs: readonly string[]): string {
  if (runDirs.length === 1) return `${title} · ${labelOf(ctx, runDirs[0]!)}`;
  return `${title} · ${runDirs.length} runs (${runDirs.map((d) => labelOf(ctx, d)).join(", ")})`;
}
