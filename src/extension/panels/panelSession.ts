// The conversation with one panel's page, free of `vscode` (so `node --test` covers it): the ready
// handshake (nothing is posted before the page says `ready`; the answer is a full `init` read
// afresh, so nothing needs holding), the view state, the shared webview messages, and the error
// path: whatever cannot be read is posted as the common `error` message (the page shows it and
// stays usable) instead of leaving the panel blank.

import type {
  CommonHostMessage,
  CommonWebviewMessage,
  OpenRunMessage,
  OpenSweepMessage,
  RerunAnalysisMessage,
} from "../../shared/panels/common";
import type { CalibrateMessage, InterveneMessage } from "../../shared/panels/influence";
import type { InterveneRequest } from "../interventions";

/** What a panel's page may post: the common messages, and rerun or open-run requests where the panel has them. */
export type PanelWebviewMessage<S> =
  | CommonWebviewMessage<S>
  | RerunAnalysisMessage
  | OpenRunMessage
  | OpenSweepMessage
  | InterveneMessage
  | CalibrateMessage;

/** Messages for the page, and what could not be read while building them (shown as an error). */
export interface PanelUpdate<H> {
  messages: H[];
  problems?: string[];
}

/** What a panel kind shows: built by its file (lossCurvesPanel.ts, ...), driven by the session. */
export interface PanelContent<S, H> {
  /** Everything the page shows, read afresh (answers `ready`); `state` is the view state to restore. */
  init(state: S | undefined): PanelUpdate<H>;
  /** Something in `runDir` changed: what to tell the page, or "init" to send everything again. */
  refresh(runDir: string): PanelUpdate<H> | "init";
  /**
   * Content that reads in the background after `init` (the sweep panel, over its points' run
   * folders) is given a way to say a folder's data is ready: the host then refreshes it, as it
   * would after a change on disk.
   */
  onReady?(ready: (runDir: string) => void): void;
  /** The panel closed: stop any background work. */
  dispose?(): void;
  /**
   * The folders the sweep panel opens on for a sweep the page was sent by this id (the
   * lazy-vs-rich panel's α sweeps: a declared sweep's folder, or an implicit sweep's runs);
   * undefined for an id it did not send.
   */
  sweepDirs?(id: string): string[] | undefined;
  /**
   * The page asked to remove examples and retrain (the influence panel): the request checked
   * against what this content sent, or what is wrong with it.
   */
  intervene?(m: InterveneMessage): InterveneRequest | string;
  /** The page asked to calibrate (the influence panel): the run's folder, checked against what this content shows, or what is wrong. */
  calibrate?(m: CalibrateMessage): string | { runDir: string };
}

/** What the session needs from its host (the vscode adapter, or a test). */
export interface SessionHost<S> {
  post(message: unknown): void;
  warn(text: string): void;
  /** The view state changed: keep it for revival. */
  stateChanged(state: S): void;
  /** Save an export the user asked for. */
  saveExport(name: string, data: Buffer, kind: "CSV" | "PNG"): void;
  /** A rerun request (only panels whose guard admits it post one). */
  rerun(message: RerunAnalysisMessage): void;
  /** Open a run's loss curves (only panels whose guard admits it post one: the sweep panel). */
  openRun(runId: string): void;
  /** Open the sweep panel on these folders (what the content resolved an `openSweep` to). */
  openSweep(dirs: string[]): void;
  /** Run a checked "Remove and retrain…" (only panels whose content checks one get here). */
  intervene?(request: InterveneRequest): void;
  /** Run a calibration of this run's influence scores (the host asks the step, fraction and count). */
  calibrate?(runDir: string): void;
}

/** The text of an error for the page: its message, never a stack. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class PanelSession<S, H> {
  private ready = false;

  constructor(
    private readonly title: string,
    private readonly content: PanelContent<S, H>,
    private readonly isWebviewMessage: (x: unknown) => x is PanelWebviewMessage<S>,
    private readonly host: SessionHost<S>,
    public state: S | undefined,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  /** The page was discarded (a hidden panel): it posts `ready` again when shown. */
  hidden(): void {
    this.ready = false;
  }

  receive(raw: unknown): void {
    if (!this.isWebviewMessage(raw)) {
      this.host.warn(`${this.title}: ignored a malformed message`);
      return;
    }
    switch (raw.type) {
      case "ready":
        this.ready = true;
        this.sendInit();
        return;
      case "stateChanged":
        this.state = raw.state;
        this.host.stateChanged(raw.state);
        return;
      case "exportCsv":
        this.host.saveExport(raw.suggestedName, Buffer.from(raw.csv, "utf8"), "CSV");
        return;
      case "exportPng":
        this.host.saveExport(
          raw.suggestedName,
          Buffer.from(raw.dataUrl.slice(raw.dataUrl.indexOf(",") + 1), "base64"),
          "PNG",
        );
        return;
      case "rerunAnalysis":
        this.host.rerun(raw);
        return;
      case "openRun":
        this.host.openRun(raw.runId);
        return;
      case "openSweep": {
        const dirs = this.content.sweepDirs?.(raw.id);
        if (dirs === undefined) this.host.warn(`${this.title}: ignored a request to open a sweep it did not offer`);
        else this.host.openSweep(dirs);
        return;
      }
      case "calibrate": {
        const checked = this.content.calibrate?.(raw) ?? "it does not offer calibration";
        if (typeof checked === "string") this.host.warn(`${this.title}: ignored a request to calibrate: ${checked}`);
        else this.host.calibrate?.(checked.runDir);
        return;
      }
      case "intervene": {
        const checked = this.content.intervene?.(raw) ?? "it does not offer interventions";
        if (typeof checked === "string") this.host.warn(`${this.title}: ignored a request to intervene: ${checked}`);
        else this.host.intervene?.(checked);
        return;
      }
    }
  }

  /** Something in `runDir` changed; before `ready` nothing is read (the `init` will read it all). */
  refresh(runDir: string): void {
    if (!this.ready) return;
    let update: PanelUpdate<H> | "init";
    try {
      update = this.content.refresh(runDir);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (update === "init") this.sendInit();
    else this.deliver(update);
  }

  /** Sends everything afresh (`ready`, or a file that was replaced). */
  sendInit(): void {
    if (!this.ready) return;
    let update: PanelUpdate<H>;
    try {
      update = this.content.init(this.state);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.deliver(update);
  }

  private deliver(update: PanelUpdate<H>): void {
    for (const m of update.messages) this.host.post(m);
    if (update.problems && update.problems.length > 0)
      this.post({ type: "error", message: update.problems.join("\n") });
  }

  private fail(e: unknown): void {
    const message = errorText(e);
    this.host.warn(`${this.title}: ${message}`);
    this.post({ type: "error", message });
  }

  private post(message: CommonHostMessage): void {
    this.host.post(message);
  }
}
