// The Slurm launcher's pure parts: array.sh (ranges, quoting for sbatch and for bash, refusals) and
// the status of a point from squeue, its run folder and its log. The real sbatch reads the same
// scripts in test/integration/slurm.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { SweepPoint } from "../../src/shared/sweepFormat";
import {
  arrayChunks,
  arrayRanges,
  arrayScript,
  type ArrayScript,
  bashQuote,
  outputPattern,
  sbatchQuote,
  scriptProblem,
  slurmOptionsRecord,
} from "../../src/trainer/sweep/slurmScript";
import {
  logShowsCancel,
  parseSqueue,
  type PointEvidence,
  pointStatus,
  type QueueEntry,
} from "../../src/trainer/sweep/slurmStatus";

/**
 * sbatch's reading of one `#SBATCH` line into arguments, as its option parser does it (quotes
 * group, a backslash escapes the next character, an unquoted `#` ends the line): the reference
 * the quoting is checked against here; the real sbatch reads the script in the integration test.
 */
function sbatchWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i] ?? "")) i++;
    if (i >= line.length || line[i] === "#") break;
    let word = "";
    let quote = "";
    let escaped = false;
    while (i < line.length && (quote || !/\s/.test(line[i] ?? ""))) {
      const c = line[i] ?? "";
      i++;
      if (escaped) {
        word += c;
        escaped = false;
      } else if (c === "\\") escaped = true;
      else if (quote) {
        if (c === quote) quote = "";
        else word += c;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === "#") return [...words, word].filter((w) => w !== "");
      else word += c;
    }
    words.push(word);
  }
  return words;
}

const awkward = `/tmp/a b/it's "q" #1 $HOME \`x\` \\n`;

function spec(over: Partial<ArrayScript> = {}): ArrayScript {
  return {
    sweepDir: "/runs/tiny-sweep-20261203-100000",
    slurmDir: "/runs/tiny-sweep-20261203-100000/slurm",
    workDir: "/work/exp",
    indices: [0, 1, 2, 3],
    jobName: "lm-tiny-sweep-20261203-100000",
    options: { sbatchArgs: [] },
    node: "/usr/bin/node",
    cli: "/opt/lm/dist/trainer/cli.js",
    ...over,
  };
}

test("--array ranges: sorted, distinct, runs collapsed", () => {
  assert.equal(arrayRanges([3, 0, 1, 2]), "0-3");
  assert.equal(arrayRanges([9, 0, 7, 10, 2, 1, 7]), "0-2,7,9-10");
  assert.equal(arrayRanges([5]), "5");
});

test("sbatchQuote: sbatch's parser reads back exactly the value, spaces, quotes, # and backslashes included", () => {
  for (const value of [awkward, "plain", 'say "hi"', "a\\b", "%A_%a", "x#y", "it's"]) {
    assert.deepEqual(sbatchWords(`--output=${sbatchQuote(value)}`), [`--output=${value}`], value);
  }
});

test("bashQuote: bash reads back exactly the value", () => {
  for (const value of [awkward, "it's", "'", "", "$(touch /tmp/nope)"]) {
    const r = spawnSync("bash", ["-c", `printf '%s' ${bashQuote(value)}`], { encoding: "utf8" });
    assert.equal(r.stdout, value);
  }
});

test("--output doubles a literal % so that only %A_%a are Slurm's", () => {
  assert.equal(outputPattern("/r/100%/slurm"), "/r/100%%/slurm/%A_%a.out");
});

test("array.sh: #SBATCH lines for the array, throttle, log pattern and the user's options; the task runs sweep-task", () => {
  const text = arrayScript(
    spec({
      indices: [0, 2, 3],
      options: {
        partition: "gpu",
        time: "01:00:00",
        gpus: "1",
        cpusPerTask: "4",
        mem: "8G",
        account: "lab",
        sbatchArgs: ["--qos=high", "--constraint=a100|h100"],
        maxParallel: 2,
      },
    }),
  );
  const sbatch = text
    .split("\n")
    .filter((l) => l.startsWith("#SBATCH "))
    .flatMap((l) => sbatchWords(l.slice("#SBATCH ".length)));
  assert.deepEqual(sbatch, [
    "--job-name=lm-tiny-sweep-20261203-100000",
    "--array=0,2-3%2",
    "--output=/runs/tiny-sweep-20261203-100000/slurm/%A_%a.out",
    "--partition=gpu",
    "--time=01:00:00",
    "--gpus=1",
    "--cpus-per-task=4",
    "--mem=8G",
    "--account=lab",
    "--qos=high",
    "--constraint=a100|h100",
  ]);
  assert.ok(text.startsWith("#!/bin/bash\n"));
  assert.match(
    text,
    /\ncd '\/work\/exp'\nexec '\/usr\/bin\/node' '\/opt\/lm\/dist\/trainer\/cli.js' sweep-task '\/runs\/tiny-sweep-20261203-100000' "\$SLURM_ARRAY_TASK_ID"\n$/,
  );
  assert.deepEqual(slurmOptionsRecord({ partition: "gpu", sbatchArgs: ["--qos=high"], maxParallel: 2 }), {
    partition: "gpu",
    "max-parallel": "2",
    "sbatch-arg.0": "--qos=high",
  });
});

test("array.sh's body, run by bash, cds to the experiment folder and passes awkward paths through unchanged", () => {
  const root = mkdtempSync(join(tmpdir(), "lm-slurm-quote-"));
  const work = join(root, `exp it's "q" #1`);
  mkdirSync(work);
  const sweepDir = join(root, `sweep $HOME 'x' "y"`);
  // A fake node: prints its working directory and arguments, one a line.
  const node = join(root, `no de's "bin"`);
  writeFileSync(node, '#!/bin/bash\npwd\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
  chmodSync(node, 0o755);
  const script = join(root, "array.sh");
  writeFileSync(
    script,
    arrayScript(spec({ sweepDir, slurmDir: join(sweepDir, "slurm"), workDir: work, node, cli: awkward })),
  );
  const r = spawnSync("bash", [script], { encoding: "utf8", env: { ...process.env, SLURM_ARRAY_TASK_ID: "7" } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split("\n").slice(0, -1), [work, awkward, "sweep-task", sweepDir, "7"]);
  assert.match(readFileSync(script, "utf8"), /^#SBATCH --output=/m);
  rmSync(root, { recursive: true });
});

test("a sweep past the site's MaxArraySize goes in several arrays, each from its own base", () => {
  const all = Array.from({ length: 2500 }, (_, i) => i);
  const chunks = arrayChunks(all, 1001);
  assert.deepEqual(
    chunks.map((c) => [c.base, c.indices[0], c.indices.at(-1), c.indices.length]),
    [
      [0, 0, 1000, 1001],
      [1001, 1001, 2001, 1001],
      [2002, 2002, 2499, 498],
    ],
  );
  // A resubmission of scattered points: one array per range that holds some, none for the others.
  assert.deepEqual(arrayChunks([2400, 5, 1500, 7, 5], 1001), [
    { base: 0, indices: [5, 7] },
    { base: 1001, indices: [1500] },
    { base: 2002, indices: [2400] },
  ]);
  assert.deepEqual(arrayChunks([0, 1, 2, 3], 1001), [{ base: 0, indices: [0, 1, 2, 3] }]);
});

test("array.sh with a base: array indices from 0, and task N runs point base + N (run by bash)", () => {
  const root = mkdtempSync(join(tmpdir(), "lm-slurm-base-"));
  const node = join(root, "node");
  writeFileSync(node, '#!/bin/bash\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
  chmodSync(node, 0o755);
  const text = arrayScript(spec({ indices: [1001, 1002, 1005], base: 1001, node, workDir: root }));
  assert.match(text, /^#SBATCH --array=0-1,4$/m);
  assert.match(text, /trains point 1001 \+ N/);
  const script = join(root, "array.sh");
  writeFileSync(script, text);
  const r = spawnSync("bash", [script], { encoding: "utf8", env: { ...process.env, SLURM_ARRAY_TASK_ID: "4" } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split("\n").slice(1, 4), ["sweep-task", "/runs/tiny-sweep-20261203-100000", "1005"]);
  assert.match(scriptProblem(spec({ indices: [3], base: 1001 })) ?? "", /below the array's base/);
  rmSync(root, { recursive: true });
});

test("scriptProblem refuses what Slurm cannot take: line breaks, a backslash in --output, no point", () => {
  assert.equal(scriptProblem(spec()), undefined);
  assert.match(
    scriptProblem(spec({ options: { time: "1:00\n#SBATCH --x", sbatchArgs: [] } })) ?? "",
    /--time holds a line break/,
  );
  assert.match(scriptProblem(spec({ slurmDir: "/r/a\\b/slurm" })) ?? "", /backslash/);
  assert.match(scriptProblem(spec({ indices: [] })) ?? "", /no point/);
});

test("parseSqueue: one entry per array task; the pending array's meta line is skipped", () => {
  const rows = parseSqueue(
    "12_0|RUNNING|vm\n12_[1-3%1]|PENDING|(JobArrayTaskLimit)\n12_1|PENDING|(JobArrayTaskLimit)\n\n",
  );
  assert.deepEqual(rows, [
    { task: "12_0", job: "12", state: "RUNNING", reason: "vm" },
    { task: "12_1", job: "12", state: "PENDING", reason: "(JobArrayTaskLimit)" },
  ]);
});

test("Slurm's cancellation line in a task's log is recognised", () => {
  assert.equal(
    logShowsCancel("step 10\nslurmstepd-vm: error: *** JOB 5 ON vm CANCELLED AT 2026-12-03T10:04:57 ***\n"),
    true,
  );
  assert.equal(logShowsCancel("training tiny (60 steps)\nfinished at step 60\n"), false);
});

const point = (over: Partial<SweepPoint> = {}): SweepPoint => ({
  index: 3,
  values: {},
  seed: 0,
  run: "0003",
  status: "queued",
  slurmJob: "12_3",
  ...over,
});
const q = (state: string, reason = ""): QueueEntry => ({ task: "12_3", job: "12", state, reason });
const LOG = "/s/slurm/12_3.out";
const evidence = (over: Partial<PointEvidence> = {}): PointEvidence => ({
  point: point(),
  run: { kind: "none" },
  log: { kind: "none" },
  ...over,
});
const ran = (status: "running" | "finished" | "failed" | "diverged" | "stopped") =>
  ({ kind: "run", status, step: 10, totalSteps: 60 }) as const;

test("a point's status: squeue first, then the run's outcome, cancellations, failures with their log", () => {
  const s = (e: PointEvidence) => {
    const r = pointStatus(e);
    return r.detail ? `${r.status}: ${r.detail}` : r.status;
  };
  assert.equal(s(evidence({ queue: q("PENDING", "(Priority)") })), "queued: PENDING (Priority)");
  // A failed point resubmitted and waiting is queued, whatever its old run.json says.
  assert.equal(s(evidence({ queue: q("PENDING"), run: ran("failed") })), "queued: PENDING");
  assert.equal(s(evidence({ queue: q("RUNNING", "vm"), run: ran("failed") })), "running");
  assert.equal(s(evidence({ queue: q("COMPLETING"), run: ran("finished") })), "finished");
  assert.equal(s(evidence({ queue: q("COMPLETED"), run: ran("finished") })), "finished");
  assert.equal(s(evidence({ run: ran("diverged") })), "diverged");
  assert.equal(s(evidence({ queue: q("CANCELLED") })), "cancelled");
  assert.equal(s(evidence({ run: ran("stopped"), log: { kind: "log", path: LOG, cancelled: true } })), "cancelled");
  assert.equal(s(evidence({ point: point({ status: "cancelled" }) })), "cancelled");
  assert.equal(
    s(evidence({ queue: q("TIMEOUT"), run: ran("running"), log: { kind: "log", path: LOG, cancelled: false } })),
    `failed: Slurm state TIMEOUT: see ${LOG}`,
  );
  assert.equal(
    s(evidence({ queue: q("COMPLETED"), run: ran("running"), log: { kind: "log", path: LOG, cancelled: false } })),
    `failed: the task ended without finishing the run: see ${LOG}`,
  );
  // Gone from squeue (after MinJobAge) without a finished run: failed, with the log to read.
  assert.equal(
    s(evidence({ run: ran("running"), log: { kind: "log", path: LOG, cancelled: false } })),
    `failed: the task is no longer in squeue: see ${LOG}`,
  );
  assert.equal(
    s(evidence({ run: ran("failed"), log: { kind: "log", path: LOG, cancelled: false } })),
    `failed: the run failed: see ${LOG}`,
  );
  // Gone without ever starting (no log): a pending task cancelled with scancel.
  assert.equal(s(evidence()), "cancelled: left the queue before it started (no log)");
  assert.equal(s(evidence({ run: ran("stopped"), log: { kind: "log", path: LOG, cancelled: false } })), "stopped");
  // Never submitted: pending, whatever sweep.json guessed.
  const { slurmJob: _job, ...unsubmitted } = point({ status: "queued" });
  assert.equal(s(evidence({ point: unsubmitted })), "pending");
  assert.equal(
    pointStatus(evidence({ log: { kind: "log", path: LOG, cancelled: false }, run: ran("running") })).log,
    LOG,
  );
});
