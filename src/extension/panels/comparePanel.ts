// The intervention panels (docs/interventions.md, "Intervene and check"), one bundle for two kinds:
//   - "Intervention": a branch against its parent (run.json `branchOf`), their curves from the
//     branch point on, the actual and predicted change of the query loss (intervention.json);
//   - "Calibration": a run's newest calibration/*.json, predicted against actual per subset.
// A plain branch (no intervention.json) still shows its curves; a corrupt file is a problem shown
// in the panel, never a blank page. Everything is a few small files: a change sends it all again.

import { existsSync } from "node:fs";
import * as path from "node:path";
import { branchComparison, readCalibrationView, readInterventionSeries } from "../../shared/interventionView";
import { readMetrics } from "../../shared/metricsReader";
import type { OwnMessage, RunRef } from "../../shared/panels/common";
import {
  type CompareHostMessage,
  type CompareState,
  isCompareState,
  isCompareWebviewMessage,
} from "../../shared/panels/compare";
import { METRICS_FILE, type MetricsRecord } from "../../shared/runFormat";
import { compareHtml } from "../../webview/compare/page";
import { CALIBRATION_VIEW_TYPE, COMPARE_VIEW_TYPE } from "../constants";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { labelOf, type PanelEnv } from "./runs";

type Message = OwnMessage<CompareHostMessage>;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A run's metrics for the overlay; none (and a problem naming the file) when they cannot be read. */
function metricsOf(runDir: string, label: string, problems: string[]): MetricsRecord[] {
  const file = path.join(runDir, METRICS_FILE);
  if (!existsSync(file)) return [];
  try {
    const read = readMetrics(file);
    if (read.badLines.length > 0)
      problems.push(`${label}: ${read.badLines.length} line(s) of ${METRICS_FILE} could not be read`);
    return read.records;
  } catch (e) {
    problems.push(`${file} could not be read: ${message(e)}`);
    return [];
  }
}

export class CompareContent implements PanelContent<CompareState, Message> {
  constructor(
    private readonly env: PanelEnv,
    private readonly branchDir: string,
  ) {}

  init(state: CompareState | undefined): PanelUpdate<Message> {
    const st = state ? { state } : {};
    const dir = this.branchDir;
    const entry = this.env.runIndex.get(dir) ?? this.env.runIndex.update(dir);
    if (!entry)
      return { messages: [{ type: "init", view: null, notes: [], ...st }], problems: [`${dir}: no run.json`] };
    if (entry.status === "invalid")
      return { messages: [{ type: "init", view: null, notes: [], ...st }], problems: [`${dir}: ${entry.problem}`] };
    const branchOf = entry.manifest.branchOf;
    if (branchOf === undefined)
      return {
        messages: [
          {
            type: "init",
            view: null,
            notes: [
              `${entry.manifest.id} is not a branch (its run.json has no branchOf): "Remove and retrain…" in the Influence panel, or "Branch from Checkpoint…", makes one.`,
            ],
            ...st,
          },
        ],
      };
    const parentDir = path.resolve(dir, branchOf.run);
    const problems: string[] = [];
    const notes: string[] = [];
    const parentRef: RunRef = { runId: parentDir, label: labelOf(this.env, parentDir), colorIndex: 0 };
    const branchRef: RunRef = { runId: dir, label: entry.manifest.id, colorIndex: 1 };
    if (!existsSync(parentDir))
      notes.push(
        `The parent ${branchOf.runId} is not at ${parentDir} (run.json's branchOf.run): only the branch is drawn.`,
      );
    const parentMetrics = existsSync(parentDir) ? metricsOf(parentDir, parentRef.label, problems) : [];
    const branchMetrics = metricsOf(dir, branchRef.label, problems);
    const read = readInterventionSeries(dir);
    const isIntervention = branchOf.change.kind === "intervention";
    if ("problem" in read) problems.push(read.problem);
    else if ("missing" in read)
      notes.push(
        isIntervention
          ? `No intervention.json yet: the report is written when the branch has trained (lm intervene ${dir} writes it again).`
          : `${entry.manifest.id} is a plain branch (no intervention on the data): its curves only, no prediction.`,
      );
    const view = branchComparison(
      { ref: parentRef, metrics: parentMetrics },
      { ref: branchRef, metrics: branchMetrics },
      branchOf.step,
      "record" in read ? read.record : undefined,
      branchOf.change.kind === "intervention" ? branchOf.change : undefined,
    );
    return { messages: [{ type: "init", view, notes, ...st }], problems };
  }

  refresh(): "init" {
    return "init";
  }
}

export class CalibrationContent implements PanelContent<CompareState, Message> {
  constructor(
    private readonly env: PanelEnv,
    private readonly runDir: string,
  ) {}

  init(state: CompareState | undefined): PanelUpdate<Message> {
    const ref: RunRef = { runId: this.runDir, label: labelOf(this.env, this.runDir), colorIndex: 0 };
    const { view, notes, problems } = readCalibrationView(ref, this.runDir);
    return { messages: [{ type: "init", view, notes, ...(state ? { state } : {}) }], problems };
  }

  refresh(): "init" {
    return "init";
  }
}

/** Whether a change in `changed` concerns the calibration panel of `runDir`: the run or its calibration folder. */
export function calibrationFollows(runDir: string, changed: string): boolean {
  const rel = path.relative(runDir, changed);
  return rel === "" || rel === "calibration" || rel.startsWith(`calibration${path.sep}`);
}

const base = {
  bundle: "compare",
  styles: ["common.css", "analysisPanels.css", "compare.css"],
  html: compareHtml,
  isState: isCompareState,
  isWebviewMessage: isCompareWebviewMessage,
  analyses: false,
  refreshMs: 500,
  // One run per panel: the branch, or the calibrated run.
  shown: (dirs: readonly string[]) => dirs.slice(0, 1).map((d) => path.resolve(d)),
} as const;

export const COMPARE: PanelKind<CompareState, Message> = {
  ...base,
  title: "Intervention",
  viewType: COMPARE_VIEW_TYPE,
  store: { key: "learningMechanics.comparePanels", entry: (title) => `compare\n${title}` },
  content: (env, dirs) => new CompareContent(env, dirs[0] ?? ""),
};

export const CALIBRATION: PanelKind<CompareState, Message> = {
  ...base,
  title: "Calibration",
  viewType: CALIBRATION_VIEW_TYPE,
  store: { key: "learningMechanics.comparePanels", entry: (title) => `calibration\n${title}` },
  content: (env, dirs) => new CalibrationContent(env, dirs[0] ?? ""),
  follows: calibrationFollows,
};
