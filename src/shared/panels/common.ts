// What every panel's protocol shares (docs: src/webview/README.md, "Adding a panel"). Each panel
// has one protocol file beside this one (lossCurves.ts, grokking.ts, lazyRich.ts, influence.ts)
// that extends it the same way:
//   - its data types and view state (`XState`, `DEFAULT_X_STATE`, `isXState`);
//   - `XHostMessage` = `CommonHostMessage` | its own messages, the first of which is always
//     `{ type: "init" }` (everything shown, afresh) — discriminated on an unprefixed `type`: a
//     webview hears only its own host, so the type needs no panel prefix;
//   - `XWebviewMessage` = `CommonWebviewMessage<XState>` (| `RerunAnalysisMessage` if it reruns);
//   - the guards `isXHostMessage` and `isXWebviewMessage`, checking anything that crosses.
// Both sides import these files; they have no Node, DOM or vscode imports.

import { isNumber, isObject, isString } from "../guards";

/** The panels, by the name of their webview bundle (dist/webview/<name>.js) and app folder. */
export type PanelName =
  | "lossCurves"
  | "grokking"
  | "lazyRich"
  | "influence"
  | "sharpness"
  | "conservation"
  | "icl"
  | "sweep"
  | "lmc"
  | "compare";

/** A run as the panels name and colour it; `colorIndex` picks the theme colour (stable per run). */
export interface RunRef {
  runId: string;
  /** Shown to the user: from run.json, so escaped like any text from a file. */
  label: string;
  colorIndex: number;
}

export function isRunRef(x: Record<string, unknown>): boolean {
  return isString(x["runId"]) && isString(x["label"]) && isNumber(x["colorIndex"]);
}

// ----------------------------------------------------------------------------- host → webview

/** Host messages every panel understands. */
export type CommonHostMessage =
  /**
   * The host could not read (some of) what the panel shows: `message` names the file and the
   * reason. The page shows it (as text) above whatever it still shows, and stays usable; the next
   * `init` clears it.
   */
  { type: "error"; message: string };

/**
 * The own messages of a panel that shows whole runs one at a time (in-context learning,
 * conservation laws, sharpness): `init` replaces everything shown and `state` restores the view
 * settings; `run` replaces one run (a new checkpoint was analysed), or adds a new runId.
 */
export type RunsHostMessage<R, S> = { type: "init"; runs: R[]; state?: S } | { type: "run"; run: R };

export function isCommonHostMessage(x: unknown): x is CommonHostMessage {
  return isObject(x) && x["type"] === "error" && isString(x["message"]);
}

// ----------------------------------------------------------------------------- webview → host

/** Webview messages every panel posts; `S` is the panel's view state. */
export type CommonWebviewMessage<S> =
  /** The page has loaded and listens; the host answers with a full `init` (nothing is posted before). */
  | { type: "ready" }
  /** View settings changed; the host keeps them to restore the panel after a reload. */
  | { type: "stateChanged"; state: S }
  /** The user asked for data as CSV; the host offers a save dialog. */
  | { type: "exportCsv"; csv: string; suggestedName: string }
  /** The user asked for a picture (`data:image/png;base64,...`); the host saves it. */
  | { type: "exportPng"; dataUrl: string; suggestedName: string };

/** A guard for one panel's common webview messages, given its state guard. */
export function commonWebviewGuard<S>(isState: (x: unknown) => x is S): (x: unknown) => x is CommonWebviewMessage<S> {
  return (x: unknown): x is CommonWebviewMessage<S> => {
    if (!isObject(x)) return false;
    switch (x["type"]) {
      case "ready":
        return true;
      case "stateChanged":
        return isState(x["state"]);
      case "exportCsv":
        return isString(x["csv"]) && isString(x["suggestedName"]);
      case "exportPng":
        return isString(x["dataUrl"]) && x["dataUrl"].startsWith("data:image/png") && isString(x["suggestedName"]);
      default:
        return false;
    }
  };
}

// ----------------------------------------------------------------------------- rerun (analysis panels)

/** Settings an analysis may be rerun with: the fields of the SDK's `analyses` spec they override. */
export interface AnalysisOverrides {
  tracin?: { every?: number; projectionDim?: number; trainExamples?: number };
  bif?: {
    every?: number;
    chains?: number;
    draws?: number;
    burnIn?: number;
    thin?: number;
    epsilon?: number;
    gamma?: number;
    nBeta?: number;
    batchSize?: number;
  };
  kernel?: { every?: number; probeSize?: number };
}

/** Rerun `analysis` on `runId` with these settings overriding the experiment file's. */
export interface RerunAnalysisMessage {
  type: "rerunAnalysis";
  runId: string;
  analysis: keyof AnalysisOverrides;
  overrides: AnalysisOverrides;
}

const OVERRIDE_FIELDS: { readonly [K in keyof AnalysisOverrides]-?: readonly string[] } = {
  tracin: ["every", "projectionDim", "trainExamples"],
  bif: ["every", "chains", "draws", "burnIn", "thin", "epsilon", "gamma", "nBeta", "batchSize"],
  kernel: ["every", "probeSize"],
};

function isOverrideName(x: unknown): x is keyof AnalysisOverrides {
  return isString(x) && Object.hasOwn(OVERRIDE_FIELDS, x);
}

/** Known analyses and fields only, each a finite non-negative number. */
export function isAnalysisOverrides(x: unknown): x is AnalysisOverrides {
  if (!isObject(x)) return false;
  for (const [analysis, fields] of Object.entries(x)) {
    if (!isOverrideName(analysis) || !isObject(fields)) return false;
    const allowed = OVERRIDE_FIELDS[analysis];
    for (const [k, v] of Object.entries(fields))
      if (!allowed.includes(k) || typeof v !== "number" || !Number.isFinite(v) || v < 0) return false;
  }
  return true;
}

export function isRerunAnalysisMessage(x: unknown): x is RerunAnalysisMessage {
  if (!isObject(x) || x["type"] !== "rerunAnalysis") return false;
  const analysis = x["analysis"];
  const o = x["overrides"];
  return isString(x["runId"]) && isOverrideName(analysis) && isAnalysisOverrides(o) && Object.hasOwn(o, analysis);
}

/** Open the loss curves of this run (a run the panel shows; the host checks). */
export interface OpenRunMessage {
  type: "openRun";
  runId: string;
}

/**
 * Open the sweep panel on one of the sweeps the page was sent (the lazy-vs-rich panel's α sweeps):
 * `id` names it; the host looks up which folders that is, never taking paths from the page.
 */
export interface OpenSweepMessage {
  type: "openSweep";
  id: string;
}

/** "1 line could not be read", "3 lines could not be read": how every panel words skipped metrics lines. */
export function badLinesText(n: number): string {
  return `${n} ${n === 1 ? "line" : "lines"} could not be read`;
}

/** A panel's own host messages: its union without the common ones (which the runtime handles). */
export type OwnMessage<M> = Exclude<M, CommonHostMessage>;
