// Where a sweep-shaped job trains (the ▶ Sweep code lens, Calibrate…): on this machine, or, when
// sbatch is on PATH, as a Slurm job array with the `learningMechanics.slurm.*` settings (the CLI's
// --slurm and sbatch's options; docs/sweeps.md). The vscode side; the flags come from config.ts.
import * as vscode from "vscode";
import { findOnPath } from "../shared/findOnPath";
import { type SlurmSettings, slurmFlags } from "./config";

/** The `lm` flags to add: none (this machine), `--slurm` and the settings' options (Slurm); undefined when dismissed. */
export async function pickWhere(
  title: string,
  settings: SlurmSettings,
  local: { description: string },
  slurmWhen: string,
): Promise<{ where: "local" | "slurm"; flags: string[] } | undefined> {
  if (findOnPath("sbatch", process.env) === undefined) return { where: "local", flags: [] };
  const flags = ["--slurm", ...slurmFlags(settings)];
  const options = flags.length > 1 ? flags.slice(1).join(" ") : "sbatch's defaults (or SBATCH_*)";
  const pick = await vscode.window.showQuickPick(
    [
      { label: "This machine", description: local.description, where: "local" as const },
      {
        label: "Slurm",
        description: `an sbatch job array: ${options}; ${slurmWhen}`,
        detail: "Options from the learningMechanics.slurm.* settings.",
        where: "slurm" as const,
      },
    ],
    { title, placeHolder: "Where does it train?" },
  );
  if (pick === undefined) return undefined;
  return pick.where === "slurm" ? { where: "slurm", flags } : { where: "local", flags: [] };
}
