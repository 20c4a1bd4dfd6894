// "Calibrate…" on Slurm, without vscode: sbatch found on PATH (src/shared/findOnPath.ts, shared
// with the trainer's Slurm launcher), the `lm calibrate … --slurm` line, and what the user is told
// once the array is submitted (src/extension/interventions.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { DEFAULT_CONFIG, readConfig, slurmFlags } from "../../src/extension/config";
import { calibrateArgs, slurmCalibrationWords } from "../../src/extension/interventions";
import { findOnPath } from "../../src/shared/findOnPath";
import { tempDir } from "../support";

test("findOnPath: an executable regular file on PATH; not a plain file, a directory, or an empty entry", (t) => {
  const root = tempDir(t);
  const plain = path.join(root, "plain");
  const dirs = path.join(root, "dirs");
  const good = path.join(root, "good");
  for (const d of [plain, dirs, good]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(plain, "sbatch"), "#!/bin/sh\n", { mode: 0o644 });
  fs.mkdirSync(path.join(dirs, "sbatch"));
  fs.writeFileSync(path.join(good, "sbatch"), "#!/bin/sh\n", { mode: 0o755 });
  const env = (dirsOnPath: string[]) => ({ PATH: dirsOnPath.join(path.delimiter) });
  assert.equal(findOnPath("sbatch", env(["", plain, dirs, good])), path.join(good, "sbatch"));
  assert.equal(findOnPath("sbatch", env([plain, dirs])), undefined);
  assert.equal(findOnPath("sbatch", {}), undefined);
});

test("slurmFlags: one lm flag per setting that is set, sbatch arguments each as --sbatch-arg", () => {
  assert.deepEqual(slurmFlags(DEFAULT_CONFIG.slurm), []);
  assert.deepEqual(
    slurmFlags({
      ...DEFAULT_CONFIG.slurm,
      partition: "gpu",
      time: "02:00:00",
      gpus: "1",
      sbatchArgs: ["--qos=short", "--exclusive"],
    }),
    [
      "--partition",
      "gpu",
      "--time",
      "02:00:00",
      "--gpus",
      "1",
      "--sbatch-arg",
      "--qos=short",
      "--sbatch-arg",
      "--exclusive",
    ],
  );
  // Read from the settings: trimmed, numbers as text, non-strings dropped.
  const values: Record<string, unknown> = {
    "slurm.partition": " debug ",
    "slurm.cpusPerTask": 4,
    "slurm.mem": "8G",
    "slurm.account": 7n,
    "slurm.sbatchArgs": ["--qos=long", 3, ""],
  };
  const config = readConfig({ get: <T>(k: string) => values[k] as T | undefined });
  assert.deepEqual(slurmFlags(config.slurm), [
    "--partition",
    "debug",
    "--cpus-per-task",
    "4",
    "--mem",
    "8G",
    "--sbatch-arg",
    "--qos=long",
  ]);
});

test("calibrateArgs: --slurm only when Slurm is chosen, after the backend", () => {
  assert.deepEqual(calibrateArgs("/r", 500, 0.25, 20, "cpu", ["--slurm", "--partition", "gpu"]), [
    "calibrate",
    "/r",
    "--step",
    "500",
    "--fraction",
    "0.25",
    "--subsets",
    "20",
    "--backend",
    "cpu",
    "--slurm",
    "--partition",
    "gpu",
  ]);
  assert.deepEqual(calibrateArgs("/r", 500, 0.25, 20, "auto"), calibrateArgs("/r", 500, 0.25, 20, "auto", []));
  assert.ok(!calibrateArgs("/r", 500, 0.25, 20, "auto").includes("--slurm"));
});

test("once submitted: the sweep folder and the command that scores it", () => {
  assert.equal(
    slurmCalibrationWords("hier", 20, "/runs/hier-calibration"),
    'hier: 20 calibration branches submitted to Slurm as the sweep /runs/hier-calibration. When the array has ended, score it with "lm calibrate /runs/hier-calibration", then Open Calibration Panel….',
  );
});
