// The one runtime every panel app starts with (recipe in ../README.md): the VS Code API, the view
// state (restored from `getState`, saved with `setState` and echoed to the host), the typed guard
// and dispatch of host messages, the shared `error` message shown in a banner, the theme, export
// naming and posting, the `ready` handshake, and test hooks under one global name.

import {
  badLinesText,
  isCommonHostMessage,
  type CommonHostMessage,
  type CommonWebviewMessage,
  type PanelName,
  type RunsHostMessage,
} from "../../shared/panels/common";
import { readTheme, onThemeChange, type Theme } from "./theme";
import { stateSaver, vscodeApi, type VsCodeApi } from "./vscodeApi";

declare global {
  interface Window {
    /** Set by a test page before the app loads: the app then publishes `__lmPanel`. */
    __lmTestHooks?: boolean;
    /** The running panel's test hooks (only on test pages). */
    __lmPanel?: PanelTestHooks;
  }
}

/** What every panel's test hooks offer, plus its own. */
export interface PanelTestHooks {
  panel: PanelName;
  /** Valid host messages handled so far, for a test to know its message arrived. */
  messagesHandled(): number;
  /** A copy of the view state. */
  state(): unknown;
  /** The text of the error banner, or null while it is hidden. */
  error(): string | null;
  [hook: string]: unknown;
}

export interface PanelRuntimeOptions<S, H> {
  name: PanelName;
  defaultState: S;
  isState(x: unknown): x is S;
  /** The panel's host-message guard (its own messages and the common ones). */
  isHostMessage(x: unknown): x is H | CommonHostMessage;
}

/** A file-name-safe fragment of a run id, label or system name. */
export function safeName(s: string, fallback = "run"): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80) || fallback;
}

/** The stem of an export's file name: the first id, and "+k" when k more are shown. */
export function exportStem(ids: readonly string[], fallback = "run"): string {
  return `${safeName(ids[0] ?? fallback, fallback)}${ids.length > 1 ? `+${ids.length - 1}` : ""}`;
}

export { badLinesText };

/**
 * One panel app's runtime. `S` is its view state, `H` its own host messages (without the common
 * ones, which the runtime handles), `Extra` the webview messages it posts beyond the common ones.
 */
export class PanelRuntime<S, H extends { type: string }, Extra extends { type: string } = never> {
  readonly name: PanelName;
  /** The view state; change it in place, then call `saveState()`. */
  state: S;
  theme: Theme = readTheme();
  private readonly api: VsCodeApi<CommonWebviewMessage<S> | Extra>;
  private readonly saver: (s: S) => void;
  private handled = 0;
  private readonly banner: HTMLElement;

  constructor(private readonly options: PanelRuntimeOptions<S, H>) {
    this.name = options.name;
    this.api = vscodeApi<CommonWebviewMessage<S> | Extra>();
    const saved = this.api.getState();
    this.state = options.isState(saved) ? saved : structuredClone(options.defaultState);
    this.saver = stateSaver<S>(this.api, (s) => this.api.postMessage({ type: "stateChanged", state: s }));
    this.banner = document.createElement("p");
    this.banner.id = "panelError";
    this.banner.className = "panel-error";
    this.banner.setAttribute("role", "alert");
    this.banner.hidden = true;
    document.body.prepend(this.banner);
  }

  post(message: CommonWebviewMessage<S> | Extra): void {
    this.api.postMessage(message);
  }

  /** Keeps the state (setState at once, the host told after a short pause). */
  saveState(): void {
    this.saver(this.state);
  }

  /** Replaces the state with one the host restored (an `init`'s `state`), if given. */
  restoreState(next: S | undefined): void {
    if (next !== undefined) this.state = structuredClone(next);
  }

  /**
   * Listens for host messages: invalid ones are ignored, `error` fills the banner, every other one
   * goes to `onMessage` (an `init` first hides the banner: it carries everything afresh).
   */
  listen(onMessage: (msg: H) => void): void {
    window.addEventListener("message", (e: MessageEvent<unknown>) => {
      const msg = e.data;
      // Marks (cheap) let the benchmarks split the first paint into its phases.
      performance.mark(`${this.name}:message`);
      if (!this.options.isHostMessage(msg)) return;
      performance.mark(`${this.name}:validated`);
      this.handled++;
      if (isCommonHostMessage(msg)) {
        this.showError(msg.message);
        return;
      }
      if (msg.type === "init") this.showError(null);
      onMessage(msg);
    });
  }

  /** Shows `message` (as text: it may quote a file) above the panel, or hides the banner. */
  showError(message: string | null): void {
    this.banner.textContent = message ?? "";
    this.banner.hidden = message === null;
  }

  /** Calls `onChange` after re-reading the theme whenever VS Code's theme changes. */
  onTheme(onChange: (theme: Theme) => void): void {
    onThemeChange(() => {
      this.theme = readTheme();
      onChange(this.theme);
    });
  }

  exportCsv(csv: string, suggestedName: string): void {
    this.post({ type: "exportCsv", csv, suggestedName });
  }

  exportPng(dataUrl: string, suggestedName: string): void {
    this.post({ type: "exportPng", dataUrl, suggestedName });
  }

  /** On a test page, publishes the common hooks and the panel's own as `window.__lmPanel`. */
  testHooks(own: Record<string, unknown>): void {
    if (window.__lmTestHooks !== true) return;
    window.__lmPanel = {
      ...own,
      panel: this.name,
      messagesHandled: () => this.handled,
      state: () => structuredClone(this.state),
      error: () => (this.banner.hidden ? null : this.banner.textContent),
    };
  }

  /** Tells the host the page listens: it answers with `init`. Call last, once everything is wired. */
  ready(): void {
    this.post({ type: "ready" });
  }
}

/**
 * For a panel that shows whole runs (RunsHostMessage): keeps `runs` as the host says (`init`
 * replaces them all and restores the view state, `run` replaces or adds one), then renders.
 */
export function followRuns<S, R extends { runId: string }>(
  rt: PanelRuntime<S, RunsHostMessage<R, S>>,
  runs: Map<string, R>,
  render: () => void,
): void {
  rt.listen((msg) => {
    if (msg.type === "init") {
      rt.restoreState(msg.state);
      runs.clear();
      for (const r of msg.runs) runs.set(r.runId, r);
      rt.saveState();
    } else runs.set(msg.run.runId, msg.run);
    render();
  });
}
