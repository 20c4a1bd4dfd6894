// `lm calibrate RUN --step K --fraction F --subsets M [--seed S] [--parallel N | --slurm …]` and
// `lm calibrate CALIBRATION_SWEEP_DIR` (docs/interventions.md, "Calibration"): the subsets' branches
// as a sweep (sweep/ runs them locally or on Slurm), then the linear datamodeling score.
import { dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { SWEEP_MANIFEST } from "../../shared/sweepFormat";
import { calibrationWords, planCalibration } from "../calibration";
import { UsageError } from "../errors";
import { errorText } from "../progress";
import { createSweepFolder } from "../sweep/folder";
import { slurmOptionsRecord } from "../sweep/slurmScript";
import type { TaskBackend } from "../sweep/task";
import type { CommandValues } from "./commandLine";
import { printer, runJob, usageError, userMistake, wholeNumber } from "./output";
import { type SweepLauncherChoice, sweepCommand } from "./sweep";

/** The score of a calibration sweep's finished subsets, printed; its file's path on stdout. */
async function calibrationReport(sweepDir: string, backend: string | undefined): Promise<number> {
  const print = printer();
  const { result } = await runJob(
    { kind: "calibrationReport", request: { sweepDir, ...(backend ? { backend } : {}) } },
    (e) => {
      if (e.type !== "log" || e.level !== "info") print(e);
    },
  );
  if (result.kind !== "calibrationReport") return 1;
  if (!result.outcome.ok) {
    process.stderr.write(errorText(result.outcome.error));
    return 1;
  }
  const { path, record, unfinished } = result.outcome.calibration;
  for (const line of calibrationWords(record, unfinished)) process.stderr.write(`${line}\n`);
  process.stderr.write(`written to ${path}\n`);
  process.stdout.write(`${path}\n`);
  return 0;
}

export async function calibrateCommand(
  target: string,
  values: CommandValues,
  launcher: SweepLauncherChoice,
  backend: TaskBackend,
  cli: string,
): Promise<number> {
  const dir = resolve(target);
  if (existsSync(join(dir, SWEEP_MANIFEST))) return calibrationReport(dir, backend.backend);
  for (const option of ["step", "fraction", "subsets"] as const)
    if (values[option] === undefined) return usageError(`calibrate: missing --${option}`);
  const step = wholeNumber("step", values.step!, 0);
  if (typeof step === "string") return usageError(step);
  const subsets = wholeNumber("subsets", values.subsets!, 3);
  if (typeof subsets === "string") return usageError(subsets);
  const seed = wholeNumber("seed", values.seed ?? "0", 0);
  if (typeof seed === "string") return usageError(seed);
  const steps = values.steps === undefined ? undefined : wholeNumber("steps", values.steps, 1);
  if (typeof steps === "string") return usageError(steps);
  const fraction = Number(values.fraction);
  if (!(fraction > 0 && fraction < 1))
    return usageError(`--fraction must be a number in (0, 1), got "${values.fraction}"`);
  let sweepDir: string;
  try {
    const planned = planCalibration({ runDir: dir, step, fraction, subsets, seed });
    sweepDir = createSweepFolder({
      runsRoot: values.out ?? dirname(dir),
      experiment: planned.experiment,
      system: planned.system,
      plan: planned.plan,
      intervention: planned.intervention,
      ...(steps === undefined ? {} : { steps }),
      launcher:
        launcher.kind === "slurm"
          ? { kind: "slurm", jobIds: [], options: slurmOptionsRecord(launcher.options) }
          : { kind: "local", parallel: launcher.parallel },
    }).dir;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return userMistake(e);
  }
  process.stderr.write(
    `calibration: ${subsets} branches at step ${step}, each without ${(fraction * 100).toFixed(3).replace(/\.?0+$/, "")}% of the scored examples → ${sweepDir}\n`,
  );
  const code = await sweepCommand({ kind: "resume", dir: sweepDir }, launcher, backend, cli);
  if (launcher.kind === "slurm") {
    if (code === 0) process.stderr.write(`when the array has ended: lm calibrate ${sweepDir} (the score)\n`);
    return code;
  }
  if (code === 130) return code;
  return calibrationReport(sweepDir, backend.backend);
}
