// Wall time of one intervention (`lm intervene`: the branch and its report) and of a 20-subset
// calibration (`lm calibrate`: 20 branches as a sweep, then the score) through the real CLI, on
// the deep linear network of examples/deep-linear.experiment.ts (8 items; a parent of 1,600 steps,
// branches from step 500 to step 700, while the root split is being learned: after the last stage
// every branch reaches zero loss and there is nothing left to predict), after training the parent
// and its TracIn analysis once.
//
//   npm run build --silent && node dist/bench/intervene.js [--backend cpu] [--parallel N] [--step 500] [--end 700]
//
// Prints each wall time and the LDS the calibration measured.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "cpu" },
    parallel: { type: "string", default: String(Math.max(1, availableParallelism() - 1)) },
    step: { type: "string", default: "500" },
    end: { type: "string", default: "700" },
  },
});
const ROOT = resolve(__dirname, "..", "..");
const CLI = join(ROOT, "dist", "trainer", "cli.js");
const FILE = join(ROOT, "examples", "deep-linear.experiment.ts");

function lm(...argv: string[]): { seconds: number; stdout: string; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...argv, "--backend", args.backend], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`lm ${argv.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), "lm-bench-intervene-"));
try {
  const parent = join(dir, "parent");
  const train = lm("train", FILE, "--system", "hierarchy", "--steps", "1600", "--run-dir", parent);
  const analyze = lm("analyze", parent, "--only", "tracin", "--run-experiment");
  const one = lm(
    "intervene",
    parent,
    "--step",
    args.step,
    "--remove",
    "top",
    "--top-proponents",
    "2",
    "--steps",
    args.end,
    "--run-dir",
    join(dir, "one"),
  );
  const calibrate = lm(
    "calibrate",
    parent,
    "--step",
    args.step,
    "--fraction",
    "0.25",
    "--subsets",
    "20",
    "--steps",
    args.end,
    "--parallel",
    args.parallel,
    "--out",
    dir,
  );
  const record = JSON.parse(readFileSync(calibrate.stdout.trim().split("\n").at(-1)!, "utf8")) as {
    lds: { tracin: number | null };
  };
  const verdict = one.stderr.split("\n").find((l) => l.includes("was predicted")) ?? "";
  process.stdout.write(
    [
      `deep linear network (examples/deep-linear.experiment.ts, hierarchy), backend ${args.backend}:`,
      `  parent: train 1,600 steps ${train.seconds.toFixed(1)} s, TracIn analysis ${analyze.seconds.toFixed(1)} s`,
      `  one intervention (branch at ${args.step} to ${args.end}, + report): ${one.seconds.toFixed(1)} s`,
      `    ${verdict}`,
      `  calibration, 20 subsets of 25% (--parallel ${args.parallel}): ${calibrate.seconds.toFixed(1)} s, LDS (TracIn) ${record.lds.tracin?.toFixed(3) ?? "n/a"}`,
      "",
    ].join("\n"),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
