// `lm sweep --slurm` against a real one-node Slurm cluster (munged, slurmctld, slurmd from
// Debian's slurm-wlm, started by scripts/slurm-cluster.sh in a private state dir): a 4-point sweep
// through sbatch end to end, a task cancelled with scancel, a resubmission that trains only what
// is missing, sweep-cancel, and the two ways submission goes wrong. Skipped (saying why) where
// there is no Slurm, unless LM_REQUIRE_SLURM=1 (CI sets it).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSweepManifest, type SweepManifest } from "../../src/shared/sweepFormat";
import { type CliResult, FIXTURES, ROOT, runCli, tempDir } from "./harness";

const CLUSTER = join(ROOT, "scripts", "slurm-cluster.sh");
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function slurmSkip(): string | false {
  const missing = ["sbatch", "slurmctld", "slurmd", "munged"].filter(
    (c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0,
  );
  let reason: string | false = false;
  if (missing.length) reason = `no Slurm here (${missing.join(", ")} not on PATH; apt-get install slurm-wlm munge)`;
  else if (process.getuid?.() !== 0) reason = "the test cluster's slurmd needs root";
  if (reason && process.env["LM_REQUIRE_SLURM"] === "1") throw new Error(`LM_REQUIRE_SLURM=1: ${reason}`);
  return reason;
}
const skip = slurmSkip();

/** The CLI with the cluster's environment (`runCli`, with a shorter bound). */
function lm(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return runCli(args, timeoutMs, env);
}

function readSweep(dir: string): SweepManifest {
  const r = parseSweepManifest(readFileSync(join(dir, "sweep.json"), "utf8"));
  if (!r.ok) throw new Error(r.problems.join("; "));
  return r.manifest;
}

/** `lm sweep-status --json` until no point is queued or running; the statuses by index. */
async function settle(dir: string, env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await lm(["sweep-status", dir, "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { points: Array<{ index: number; status: string }> };
    const statuses = status.points.map((p) => p.status);
    if (!statuses.some((s) => s === "queued" || s === "running" || s === "pending")) return statuses;
    if (Date.now() > deadline) throw new Error(`sweep ${dir} still ${statuses.join(", ")} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** What shows a finished run folder was not trained again: its run.json's bytes and its files' mtimes. */
function fingerprint(runDir: string): string {
  const files = readdirSync(runDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return JSON.stringify([readFileSync(join(runDir, "run.json"), "utf8"), files.map((f) => [f, statSync(f).mtimeMs])]);
}

describe("lm sweep --slurm on a real one-node cluster", { skip }, () => {
  const tmp = skip ? "" : tempDir("slurm");
  // Awkward paths on purpose: quotes, spaces, '#' and '%' reach sbatch's #SBATCH parser and bash.
  const experimentDir = join(tmp, `exp dir 'x' "y"`);
  const runs = join(tmp, `runs it's "q" #1 100%`);
  const experiment = join(experimentDir, "slurm-sweep.experiment.ts");
  const state = join(tmp, "cluster");
  const clusterEnv = { ...process.env, LM_SLURM_DIR: state, LM_SLURM_PORT: String(17_000 + (process.pid % 2000) * 2) };
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: join(state, "etc", "slurm.conf") };

  before(() => {
    // munged runs as the munge user: it must reach its files in the state dir under this one.
    chmodSync(tmp, 0o755);
    mkdirSync(experimentDir, { recursive: true });
    copyFileSync(join(FIXTURES, "slurm-sweep.experiment.ts"), experiment);
    const r = spawnSync("bash", [CLUSTER, "start"], { env: clusterEnv, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `slurm-cluster.sh start: ${r.stderr}`);
  });

  after(() => {
    const r = spawnSync("bash", [CLUSTER, "stop"], { env: clusterEnv, encoding: "utf8", timeout: 60_000 });
    // The daemons are gone: their state dir (munge key, spool) and the sweeps go too.
    if (r.status === 0) rmSync(tmp, { recursive: true, force: true });
  });

  let sweepDir = "";

  test("a 4-point sweep runs as one job array; a task cancelled with scancel shows as cancelled", async () => {
    const r = await lm(
      ["sweep", experiment, "--system", "tinySweep", "--out", runs, "--slurm", "--parallel", "2"],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    sweepDir = r.stdout.trim();
    assert.equal(dirname(sweepDir), runs);
    const m = readSweep(sweepDir);
    assert.equal(m.launcher.kind, "slurm");
    const jobId = m.launcher.kind === "slurm" ? (m.launcher.jobIds[0] ?? "") : "";
    assert.match(jobId, /^\d+$/);
    assert.deepEqual(
      m.points.map((p) => p.slurmJob),
      [0, 1, 2, 3].map((i) => `${jobId}_${i}`),
    );
    const script = readFileSync(join(sweepDir, "slurm", "array.sh"), "utf8");
    assert.match(script, /^#SBATCH --array=0-3%2$/m);
    // The last task waits behind the throttle of 2: cancel it as a user would.
    const cancel = spawnSync("scancel", [`${jobId}_3`], { env, encoding: "utf8" });
    assert.equal(cancel.status, 0, cancel.stderr);

    const statuses = await settle(sweepDir, env);
    assert.deepEqual(statuses, ["finished", "finished", "finished", "cancelled"]);
    for (const i of [0, 1, 2]) {
      const run = JSON.parse(readFileSync(join(sweepDir, `000${i}`, "run.json"), "utf8")) as {
        status: string;
        step: number;
        sweep: { index: number };
      };
      assert.equal(run.status, "finished");
      assert.equal(run.step, 20);
      assert.equal(run.sweep.index, i);
      // Each task's log is where Slurm was told to put it (the '%' in the folder's name kept).
      assert.ok(existsSync(join(sweepDir, "slurm", `${jobId}_${i}.out`)), `log of task ${i}`);
    }
    assert.equal(existsSync(join(sweepDir, "0003", "run.json")), false);
    // sweep.json keeps the cancellation (Slurm forgets it MinJobAge after).
    assert.equal(readSweep(sweepDir).points[3]?.status, "cancelled");
  });

  test("a sweep past MaxArraySize (6 on the test cluster) goes in two job arrays; every point finishes", async () => {
    const r = await lm(["sweep", experiment, "--system", "wideSweep", "--out", runs, "--slurm"], env);
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    const m = readSweep(dir);
    const jobIds = m.launcher.kind === "slurm" ? m.launcher.jobIds : [];
    assert.equal(jobIds.length, 2, `two arrays: ${r.stderr}`);
    // Points 0-5 are tasks 0-5 of the first array; points 6 and 7 are tasks 0 and 1 of the second.
    assert.deepEqual(
      m.points.map((p) => p.slurmJob),
      [0, 1, 2, 3, 4, 5].map((i) => `${jobIds[0]}_${i}`).concat([`${jobIds[1]}_0`, `${jobIds[1]}_1`]),
    );
    assert.match(readFileSync(join(dir, "slurm", "array.sh"), "utf8"), /^#SBATCH --array=0-5$/m);
    assert.match(readFileSync(join(dir, "slurm", "array-6.sh"), "utf8"), /^#SBATCH --array=0-1$/m);
    assert.match(r.stderr, new RegExp(`submitted job array ${jobIds[1]} \\(points 6-7\\)`));
    assert.deepEqual(await settle(dir, env), Array(8).fill("finished"));
    for (const i of [6, 7]) {
      const run = JSON.parse(readFileSync(join(dir, `000${i}`, "run.json"), "utf8")) as { sweep: { index: number } };
      assert.equal(run.sweep.index, i, `task ${i - 6} of the second array trained point ${i}`);
      assert.ok(existsSync(join(dir, "slurm", `${jobIds[1]}_${i - 6}.out`)), `log of point ${i}`);
    }
  });

  test("resubmission trains only what is missing; the finished run folders are not touched", async () => {
    const before = [0, 1, 2].map((i) => fingerprint(join(sweepDir, `000${i}`)));
    const r = await lm(["sweep", "--resume", sweepDir, "--slurm"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), sweepDir);
    const m = readSweep(sweepDir);
    const jobIds = m.launcher.kind === "slurm" ? m.launcher.jobIds : [];
    assert.equal(jobIds.length, 2);
    assert.match(readFileSync(join(sweepDir, "slurm", "array.sh"), "utf8"), /^#SBATCH --array=3$/m);
    assert.equal(m.points[3]?.slurmJob, `${jobIds[1]}_3`);

    assert.deepEqual(await settle(sweepDir, env), ["finished", "finished", "finished", "finished"]);
    assert.deepEqual(
      [0, 1, 2].map((i) => fingerprint(join(sweepDir, `000${i}`))),
      before,
    );
    const done = readSweep(sweepDir);
    assert.deepEqual(
      done.points.map((p) => p.status),
      ["finished", "finished", "finished", "finished"],
    );
    assert.deepEqual(
      done.points.map((p) => p.slurmJob),
      [`${jobIds[0]}_0`, `${jobIds[0]}_1`, `${jobIds[0]}_2`, `${jobIds[1]}_3`],
    );
    const again = await lm(["sweep", "--resume", sweepDir, "--slurm"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing to submit/);
  });

  test("lm sweep-cancel: the running task stops gracefully, every point shows as cancelled", async () => {
    // One task at a time, each long: point 0 trains while 1-3 wait behind the throttle.
    const r = await lm(
      [
        "sweep",
        experiment,
        "--system",
        "tinySweep",
        "--out",
        join(tmp, "long"),
        "--slurm",
        "--parallel",
        "1",
        "--steps",
        "100000",
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    const m = readSweep(dir);
    const jobId = m.launcher.kind === "slurm" ? (m.launcher.jobIds[0] ?? "") : "";
    const runJson = join(dir, "0000", "run.json");
    const deadline = Date.now() + 60_000;
    const training = () => {
      try {
        const run = JSON.parse(readFileSync(runJson, "utf8")) as { status: string; step: number };
        return run.status === "running" && run.step > 0;
      } catch {
        return false;
      }
    };
    while (!training()) {
      if (Date.now() > deadline) throw new Error(`point 0 did not start training: ${runJson}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Resuming it here meanwhile would train the points Slurm holds a second time: refused.
    const local = await lm(["sweep", "--resume", dir], env);
    assert.equal(local.code, 1, local.stderr);
    assert.match(
      local.stderr,
      /^error \(usage\): point\(s\) 0-3 of this Slurm sweep are still queued or running in Slurm: lm sweep-cancel /m,
    );
    const c = await lm(["sweep-cancel", dir], env);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, new RegExp(`scancel ${jobId}: 4 point\\(s\\) cancelled \\(0-3\\)`));
    assert.deepEqual(await settle(dir, env), ["cancelled", "cancelled", "cancelled", "cancelled"]);
    // Slurm's SIGTERM reached the trainer: a graceful stop, final checkpoint, resumable.
    const run = JSON.parse(readFileSync(runJson, "utf8")) as { status: string; step: number };
    assert.equal(run.status, "stopped");
    assert.ok(readdirSync(join(dir, "0000", "checkpoints")).length > 0);
    assert.match(readFileSync(join(dir, "slurm", `${jobId}_0.out`), "utf8"), /CANCELLED AT/);
    assert.deepEqual(
      readSweep(dir).points.map((p) => p.status),
      ["cancelled", "cancelled", "cancelled", "cancelled"],
    );
    const q = spawnSync("squeue", ["-h", "-j", jobId, "-o", "%i %T"], { env, encoding: "utf8" });
    assert.equal(q.stdout.trim(), "");
  });

  test("a task that fails shows as failed with the path of its Slurm log", async () => {
    // Submitted held, its experiment file removed, then released: every task fails at once.
    const file = join(experimentDir, "doomed.experiment.ts");
    copyFileSync(experiment, file);
    const r = await lm(
      ["sweep", file, "--system", "tinySweep", "--out", join(tmp, "doomed"), "--slurm", "--sbatch-arg=--hold"],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    const m = readSweep(dir);
    const jobId = m.launcher.kind === "slurm" ? (m.launcher.jobIds[0] ?? "") : "";
    rmSync(file);
    const release = spawnSync("scontrol", ["release", jobId], { env, encoding: "utf8" });
    assert.equal(release.status, 0, release.stderr);
    assert.deepEqual(await settle(dir, env), ["failed", "failed", "failed", "failed"]);
    const status = await lm(["sweep-status", dir], env);
    const log = join(dir, "slurm", `${jobId}_2.out`);
    assert.match(status.stdout, new RegExp(`^point 2 failed: Slurm state FAILED: see ${escapeRegExp(log)}$`, "m"));
    assert.match(readFileSync(log, "utf8"), /doomed\.experiment\.ts/);
  });

  test("an unknown partition: sbatch's own message, exit 1, no stack", async () => {
    const r = await lm(
      ["sweep", experiment, "--system", "tinySweep", "--out", join(tmp, "bad"), "--slurm", "--partition", "nope"],
      env,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sbatch: error: invalid partition specified: nope$/m);
    assert.match(r.stderr, /nothing was submitted/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const dir = r.stdout.trim();
    assert.deepEqual(
      readSweep(dir).points.map((p) => [p.status, p.slurmJob]),
      [0, 1, 2, 3].map(() => ["pending", undefined]),
    );
  });

  test("sbatch not on PATH: a clear message, exit 2, nothing created", async () => {
    const out = join(tmp, "nosbatch");
    // A PATH with node alone (node's own folder may be /usr/bin, beside sbatch).
    const bin = join(tmp, "bin");
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, "node"));
    const r = await lm(["sweep", experiment, "--system", "tinySweep", "--out", out, "--slurm"], { ...env, PATH: bin });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sbatch not found on PATH: --slurm needs a Slurm login node/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, "");
    assert.equal(existsSync(out), false);
  });
});

// Mistakes on the command line need no cluster: they are refused before anything is created.
describe("lm sweep --slurm: command-line mistakes", () => {
  const tiny = join(FIXTURES, "slurm-sweep.experiment.ts");
  const cases: Array<[string, string[], RegExp]> = [
    [
      "an sbatch option without --slurm",
      ["sweep", tiny, "--partition", "gpu"],
      /--partition is an sbatch option: it needs --slurm/,
    ],
    ["--slurm on another command", ["train", tiny, "--slurm"], /--slurm applies to sweep and calibrate, not train/],
    [
      "a throttle that is not a positive integer",
      ["sweep", tiny, "--slurm", "--parallel", "0"],
      /--parallel must be a positive integer, got "0"/,
    ],
  ];
  for (const [name, args, message] of cases)
    test(name, async () => {
      const out = tempDir("slurm-usage");
      const r = await lm([...args, "--out", out], process.env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error \(usage\): /);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(out), []);
      rmSync(out, { recursive: true });
    });
});
