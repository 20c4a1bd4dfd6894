// The vscode side of "Calibrate…" (docs/interventions.md, "In VS Code"): from the Influence panel
// or the command "Calibrate Influence…", ask the branch checkpoint, the fraction removed and the
// number of subsets (each checked by interventions.ts as it is typed), run `lm calibrate` with
// progress and Cancel (as "Remove and retrain…" runs `lm intervene`; it trains, so an untrusted
// workspace refuses it), then show the score and open the calibration panel (its scatter plot).
// When sbatch is on PATH it asks first where the branches train: here, or as a Slurm array (the
// CLI's --slurm), which returns once submitted and is scored later by `lm calibrate SWEEP_DIR`.
import * as vscode from "vscode";
import { notAnExperimentReason } from "../shared/experimentFile";
import { checkpointSteps, firstLinePath, runLm } from "./branching";
import { askValue, withCancellableProgress } from "./prompts";
import type { Ctx } from "./context";
import { calibrateArgs, calibrationLine, parseFraction, parseSubsets, slurmCalibrationWords } from "./interventions";
import { pickWhere } from "./slurmChoice";

const UNTRUSTED =
  "Calibrating trains many branches of the run, which runs the code of the experiment file, so it needs a trusted workspace.";

/** Runs a calibration of `runDir`; `show` opens the calibration panel on it. */
export async function runCalibration(ctx: Ctx, runDir: string, show: (runDir: string) => void): Promise<void> {
  if (!ctx.isTrusted) {
    const choice = await vscode.window.showWarningMessage(UNTRUSTED, "Manage Workspace Trust");
    if (choice) void vscode.commands.executeCommand("workbench.trust.manage");
    return;
  }
  const entry = ctx.runIndex.get(runDir) ?? ctx.runIndex.update(runDir);
  if (!entry || entry.status === "invalid") {
    ctx.showError(`${runDir} is not a readable run folder`);
    return;
  }
  const id = entry.manifest.id;
  const experiment = entry.manifest.experiment?.path;
  if (experiment === undefined || notAnExperimentReason(experiment) !== undefined) {
    void vscode.window.showInformationMessage(
      `${id} was not written by a TypeScript experiment, so the trainer cannot retrain it.`,
    );
    return;
  }
  const steps = [...checkpointSteps(runDir)].sort((a, b) => b - a);
  if (steps.length === 0) {
    void vscode.window.showInformationMessage(`${id} has no checkpoint to branch from.`);
    return;
  }
  const title = `Calibrate the influence scores of ${id}`;
  const pick = await vscode.window.showQuickPick(
    steps.map((s) => ({ label: `step ${s}`, step: s })),
    { title: `${title}: branch every subset from checkpoint…`, placeHolder: `${steps.length} checkpoints` },
  );
  if (!pick) return;
  const fraction = await askValue(
    title,
    "The fraction of the scored training examples each subset removes (between 0 and 1, or a percentage)",
    "0.1",
    parseFraction,
  );
  if (fraction === undefined) return;
  const subsets = await askValue(
    title,
    "How many random subsets (each a branch trained to the end; at least 3)",
    "20",
    parseSubsets,
  );
  if (subsets === undefined) return;
  const chosen = await pickWhere(
    title,
    ctx.config.slurm,
    { description: "the branches train here, then the score is shown" },
    "scored when it ends",
  );
  if (chosen === undefined) return;
  const { where } = chosen;
  const launch = ctx.launch(experiment);
  const args = calibrateArgs(runDir, pick.step, fraction, subsets, ctx.config.backend, chosen.flags);
  const result = await withCancellableProgress(
    `${where === "slurm" ? "Submitting to Slurm the calibration of" : "Calibrating"} ${id}: ${subsets} branches from step ${pick.step}, each without ${(fraction * 100).toFixed(3).replace(/\.?0+$/, "")} % of the examples…`,
    (signal) => runLm(launch, args, (l) => ctx.log.info(l), signal),
  );
  if (!result.ok) {
    ctx.showError(`Calibrate ${id}: ${result.message}`);
    return;
  }
  await ctx.rescan();
  if (where === "slurm") {
    const sweepDir = firstLinePath(result.stdout, launch.cwd);
    if (!sweepDir) return;
    ctx.sweeps.update(sweepDir, ctx.runIndex.roots);
    const choice = await vscode.window.showInformationMessage(
      slurmCalibrationWords(id, subsets, sweepDir),
      "Copy Command",
    );
    if (choice) await vscode.env.clipboard.writeText(`lm calibrate ${sweepDir}`);
    return;
  }
  show(runDir);
  const line = calibrationLine(runDir) ?? "no calibration file was written";
  void vscode.window.showInformationMessage(`${id}: ${line}`);
}
