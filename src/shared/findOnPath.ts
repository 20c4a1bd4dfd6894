// Finding an executable on a PATH: the trainer asks before submitting to Slurm (sbatch, scancel),
// and the extension before offering Slurm at all (it may not import the trainer, so it lives here).
import * as fs from "node:fs";
import { delimiter, join } from "node:path";

/** The executable `name` on the PATH of `env`, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
