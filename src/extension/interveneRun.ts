// The vscode side of "Remove and retrain…" (docs/interventions.md, "In VS Code"): a checked request
// from the Influence panel → the branch checkpoint (QuickPick) → `lm intervene` with progress and
// cancel, as "Branch from Checkpoint…" runs `lm branch` → the CLI's sentence and "Compare".
import * as vscode from "vscode";
import { notAnExperimentReason } from "../shared/experimentFile";
import { checkpointSteps, firstLinePath, runLm } from "./branching";
import type { Ctx } from "./context";
import { branchStepChoices, type InterveneRequest, interventionWords, interveneArgs } from "./interventions";

const UNTRUSTED =
  "Removing examples and retraining trains a branch, which runs the code of the experiment file, so it needs a trusted workspace.";

/** Runs a request the panel's content checked; `compare` opens the loss curves of parent and branch. */
export async function runIntervention(
  ctx: Ctx,
  req: InterveneRequest,
  compare: (runDirs: string[]) => void,
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
  const steps = branchStepChoices(checkpointSteps(req.runDir), req.step);
  if (steps.length === 0) {
    void vscode.window.showInformationMessage(`${entry.manifest.id} has no checkpoint at or before step ${req.step}.`);
    return;
  }
  const n = req.examples.length;
  const what = `${n === 1 ? "example" : `${n} examples`} ${req.examples.slice(0, 8).join(", ")}${n > 8 ? ", …" : ""}`;
  const pick = await vscode.window.showQuickPick(
    steps.map((s, i) => ({
      label: `step ${s}`,
      description: i === 0 ? `≤ the selected step ${req.step}` : "",
      step: s,
    })),
    {
      title: `Remove ${what} and retrain ${entry.manifest.id} from checkpoint…`,
      placeHolder: `${steps.length} checkpoints`,
    },
  );
  if (!pick) return;
  const launch = ctx.launch(experiment);
  const args = interveneArgs(req.runDir, pick.step, req.examples, ctx.config.backend);
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Retraining ${entry.manifest.id} from step ${pick.step} without ${what}…`,
      cancellable: true,
    },
    async (_progress, token) => {
      const controller = new AbortController();
      const sub = token.onCancellationRequested(() => controller.abort());
      try {
        return await runLm(launch, args, (l) => ctx.log.info(l), controller.signal);
      } finally {
        sub.dispose();
      }
    },
  );
  if (!result.ok) {
    ctx.showError(`Remove and retrain ${entry.manifest.id}: ${result.message}`);
    return;
  }
  const branchDir = firstLinePath(result.stdout, launch.cwd);
  if (!branchDir) return;
  ctx.runIndex.update(branchDir);
  await ctx.rescan();
  const words = interventionWords(branchDir);
  const text = words.ok ? words.lines.join(" ") : words.message;
  const choice = await vscode.window.showInformationMessage(text, "Compare");
  if (choice === "Compare") compare([req.runDir, branchDir]);
}
