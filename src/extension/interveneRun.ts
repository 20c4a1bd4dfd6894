// The vscode side of "Remove and retrain…" (docs/interventions.md, "In VS Code"): a checked request
// from the Influence panel → the branch checkpoint, the action (remove, upweight ×w, show only from
// or before step s) and, for TracIn's top k, k and at the step or summed over an interval (QuickPicks and
// input boxes, each value checked by interventions.ts) → `lm intervene` with progress and cancel, as
// "Branch from Checkpoint…" runs `lm branch` → the CLI's sentence and "Compare", which opens the
// intervention panel on the branch.
import * as vscode from "vscode";
import type { InterventionAction } from "../shared/interventionFormat";
import { notAnExperimentReason } from "../shared/experimentFile";
import { checkpointSteps, firstLinePath, runLm } from "./branching";
import { askValue, withCancellableProgress } from "./prompts";
import type { Ctx } from "./context";
import {
  branchStepChoices,
  type InterveneRequest,
  interventionWords,
  interveneArgs,
  parseMoveStep,
  parseStepInterval,
  parseTopCount,
  parseWeight,
  type TopSelection,
} from "./interventions";

const UNTRUSTED =
  "Removing examples and retraining trains a branch, which runs the code of the experiment file, so it needs a trusted workspace.";

/** The action on the examples, asked after the branch step (a move's step must lie after it). */
async function pickAction(title: string, branchStep: number, end: number): Promise<InterventionAction | undefined> {
  const canMove = end - branchStep >= 2;
  const items: (vscode.QuickPickItem & { kind2: InterventionAction["kind"] })[] = [
    { label: "Remove", description: "never shown from the branch step on (loss weight 0)", kind2: "remove" },
    { label: "Upweight ×w…", description: "each counted w times (loss weight w)", kind2: "upweight" },
    ...(canMove
      ? [
          {
            label: "Show only from step s on…",
            description: "missing until step s, then as before",
            kind2: "moveFrom" as const,
          },
          {
            label: "Show only before step s…",
            description: "as before until step s, then missing",
            kind2: "moveBefore" as const,
          },
        ]
      : []),
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title,
    placeHolder: "What happens to these examples in the branch?",
  });
  if (!pick) return undefined;
  switch (pick.kind2) {
    case "remove":
      return { kind: "remove" };
    case "upweight": {
      const weight = await askValue(
        title,
        "The factor on these examples' loss (0 removes them; 3 counts each three times)",
        "3",
        parseWeight,
      );
      return weight === undefined ? undefined : { kind: "upweight", weight };
    }
    case "moveFrom":
    case "moveBefore": {
      const step = await askValue(
        title,
        `The step s, strictly between the branch step ${branchStep} and the run's end ${end}`,
        String(Math.round((branchStep + end) / 2)),
        (t) => parseMoveStep(t, branchStep, end),
      );
      return step === undefined ? undefined : { kind: pick.kind2, step };
    }
  }
}

/**
 * For TracIn's top k: k (the page proposes its count; up to the examples scored), then at the
 * selected step, or summed over an interval of TracIn steps the user types.
 */
async function pickTop(req: InterveneRequest, title: string): Promise<TopSelection | undefined | "cancelled"> {
  if (req.top === undefined) return undefined;
  const { which } = req.top;
  const scored = req.scored ?? req.top.count;
  const count = await askValue(
    title,
    `How many of TracIn's top ${which}? A whole number from 1 to ${scored} (the examples it scored)`,
    String(Math.min(req.top.count, scored)),
    (t) => parseTopCount(t, scored),
  );
  if (count === undefined) return "cancelled";
  const pick = await vscode.window.showQuickPick(
    [
      { label: `Top ${count} ${which} at step ${req.step}`, description: "the selected column", over: false },
      {
        label: `Top ${count} ${which} summed over steps A–B…`,
        description: "TracIn's scores added over an interval",
        over: true,
      },
    ],
    { title, placeHolder: "Which examples?" },
  );
  if (!pick) return "cancelled";
  if (!pick.over) return { which, count, from: req.step, to: req.step };
  const steps = req.scoredSteps ?? [req.step];
  const interval = await askValue(
    title,
    `Two TracIn steps A:B (A ≤ B); scored steps: ${steps.slice(0, 10).join(", ")}${steps.length > 10 ? ", …" : ""}`,
    `${steps[0] ?? 0}:${req.step}`,
    (t) => parseStepInterval(t, steps),
  );
  return interval === undefined ? "cancelled" : { which, count, ...interval };
}

function actionWords(action: InterventionAction): string {
  switch (action.kind) {
    case "remove":
      return "without";
    case "upweight":
      return `upweighting ×${action.weight}`;
    case "moveFrom":
      return `showing only from step ${action.step} on`;
    case "moveBefore":
      return `showing only before step ${action.step}`;
  }
}

/** Runs a request the panel's content checked; `compare` opens the intervention panel on the branch. */
export async function runIntervention(
  ctx: Ctx,
  req: InterveneRequest,
  compare: (branchDir: string) => void,
): Promise<void> {
  if (!ctx.isTrusted) {
    const choice = await vscode.window.showWarningMessage(UNTRUSTED, "Manage Workspace Trust");
    if (choice) void vscode.commands.executeCommand("workbench.trust.manage");
    return;
  }
  const entry = ctx.runIndex.get(req.runDir) ?? ctx.runIndex.update(req.runDir);
  if (!entry || entry.status === "invalid") {
    ctx.showError(`${req.runDir} is not a readable run folder`);
    return;
  }
  const experiment = entry.manifest.experiment?.path;
  if (experiment === undefined || notAnExperimentReason(experiment) !== undefined) {
    void vscode.window.showInformationMessage(
      `${entry.manifest.id} was not written by a TypeScript experiment, so the trainer cannot retrain it.`,
    );
    return;
  }
  const checkpoints = checkpointSteps(req.runDir);
  const steps = branchStepChoices(checkpoints, req.step);
  if (steps.length === 0) {
    void vscode.window.showInformationMessage(`${entry.manifest.id} has no checkpoint at or before step ${req.step}.`);
    return;
  }
  const n = req.examples.length;
  const what = req.top
    ? `TracIn's top k ${req.top.which}`
    : `${n === 1 ? "example" : `${n} examples`} ${req.examples.slice(0, 8).join(", ")}${n > 8 ? ", …" : ""}`;
  const title = `Retrain ${entry.manifest.id} with ${what} changed`;
  const pick = await vscode.window.showQuickPick(
    steps.map((s, i) => ({
      label: `step ${s}`,
      description: i === 0 ? `≤ the selected step ${req.step}` : "",
      step: s,
    })),
    { title: `${title}: branch from checkpoint…`, placeHolder: `${steps.length} checkpoints` },
  );
  if (!pick) return;
  // The run's last step (a move's step lies strictly between the branch step and it).
  const end = Math.max(entry.manifest.totalSteps, ...checkpoints);
  const action = await pickAction(title, pick.step, end);
  if (!action) return;
  const top = await pickTop(req, title);
  if (top === "cancelled") return;
  const launch = ctx.launch(experiment);
  const args = interveneArgs(req.runDir, pick.step, req.examples, ctx.config.backend, {
    action,
    ...(top ? { top } : {}),
  });
  const chosen = top
    ? `TracIn's top ${top.count} ${top.which} ${top.from === top.to ? `at step ${top.from}` : `over steps ${top.from}–${top.to}`}`
    : what;
  const result = await withCancellableProgress(
    `Retraining ${entry.manifest.id} from step ${pick.step} ${actionWords(action)} ${chosen}…`,
    (signal) => runLm(launch, args, (l) => ctx.log.info(l), signal),
  );
  if (!result.ok) {
    ctx.showError(`Retrain ${entry.manifest.id}: ${result.message}`);
    return;
  }
  const branchDir = firstLinePath(result.stdout, launch.cwd);
  if (!branchDir) return;
  ctx.runIndex.update(branchDir);
  await ctx.rescan();
  const words = interventionWords(branchDir);
  const text = words.ok ? words.lines.join(" ") : words.message;
  const choice = await vscode.window.showInformationMessage(text, "Compare");
  if (choice === "Compare") compare(branchDir);
}
