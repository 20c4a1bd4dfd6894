// Every kind of error the `lm` CLI reports, through the real CLI as a child process: the message,
// its kind, the exit code, no stack trace for the user's mistakes (and no "failed at step 0" for a
// run that never started), nothing written where nothing should be; an internal error keeps its
// trace and says it is a bug of this program. The table in src/trainer/README.md ("Errors") lists
// the same kinds.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CLI, EXAMPLES, FIXTURES, ROOT, type CliResult, Sidecar, killSidecars, readManifest, tempDir } from "./harness";

after(killSidecars);

const tiny = join(FIXTURES, "tiny.experiment.ts");
const userErrors = join(FIXTURES, "user-errors.experiment.ts");

/** `lm ARGS` with node options (a preload that plants a bug), in the repository's folder. */
function lm(args: string[], nodeArgs: string[] = []): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Case {
  name: string;
  /** The arguments; `out` is a fresh, empty folder for run folders. */
  args: (out: string) => string[];
  nodeArgs?: () => string[];
  exit: number;
  kind: "usage" | "syntax" | "config" | "runtime" | "io" | "backend" | "internal";
  message: RegExp;
  /** The run started (its folder exists, "failed at step N" is true); otherwise nothing is written. */
  started?: true;
}

const CASES: Case[] = [
  {
    name: "a file with several systems and no --system",
    args: (out) => ["train", join(EXAMPLES, "grokking.experiment.ts"), "--out", out],
    exit: 2,
    kind: "usage",
    message: /has several model systems \(modAdd, nanda\): choose one with --system modAdd\|nanda$/m,
  },
  {
    name: "an unknown command",
    args: () => ["fit", tiny],
    exit: 2,
    kind: "usage",
    message:
      /unknown command "fit" \(expected train, resume, branch, lmc, instability, intervene, calibrate, list, analyze, sweep, sweep-task, sweep-status, sweep-cancel, imp, imp-task\)/,
  },
  { name: "an unknown option", args: () => ["train", tiny, "--frob"], exit: 2, kind: "usage", message: /--frob/ },
  { name: "no FILE", args: () => ["train"], exit: 2, kind: "usage", message: /train: missing FILE/ },
  {
    name: "a step count that is not a positive integer",
    args: (out) => ["train", tiny, "--out", out, "--steps", "0"],
    exit: 2,
    kind: "usage",
    message: /--steps must be a positive integer, got "0"/,
  },
  {
    name: "an unknown backend",
    args: (out) => ["train", tiny, "--system", "tinyAdd", "--out", out, "--backend", "tpu"],
    exit: 2,
    kind: "usage",
    message: /unknown backend "tpu" \(expected one of auto, torch, gpu, native, wasm, cpu\)/,
  },
  {
    name: "a torch flag with a tfjs backend",
    args: (out) => ["train", tiny, "--system", "tinyAdd", "--out", out, "--backend", "cpu", "--device", "cuda"],
    exit: 2,
    kind: "usage",
    message: /--device applies to --backend torch \(or auto\), not cpu/,
  },
  {
    name: "an unknown analysis",
    args: (out) => ["analyze", out, "--only", "weights,vibes"],
    exit: 2,
    kind: "usage",
    message: /--only: unknown analysis vibes/,
  },
  {
    name: "a system the file does not export",
    args: (out) => ["train", tiny, "--system", "nope", "--out", out],
    exit: 1,
    kind: "usage",
    message: /exports no model system "nope" \(it has: tinyAdd, tinyRegression\)/,
  },
  {
    name: "resuming a folder that is not a run",
    args: (out) => ["resume", out],
    exit: 1,
    kind: "usage",
    message: /is not a run folder: run\.json not found/,
  },
  {
    name: "a missing experiment file",
    args: (out) => ["train", join(FIXTURES, "nope.experiment.ts"), "--out", out],
    exit: 1,
    kind: "io",
    message: /cannot read experiment file .*nope\.experiment\.ts/,
  },
  {
    name: "a syntax error",
    args: (out) => ["train", join(FIXTURES, "syntax-error.experiment.ts"), "--out", out],
    exit: 1,
    kind: "syntax",
    message: /syntax-error\.experiment\.ts:4:40: Expected "}" but found "\)"/,
  },
  {
    name: "an exception while the file loads",
    args: (out) => ["train", join(FIXTURES, "throws.experiment.ts"), "--out", out],
    exit: 1,
    kind: "runtime",
    message: /throws\.experiment\.ts:4:\d+: RangeError: p must be at least 2, got 1/,
  },
  {
    name: "an invalid config",
    args: (out) => ["train", join(FIXTURES, "invalid-config.experiment.ts"), "--out", out],
    exit: 1,
    kind: "config",
    message: /invalid config for "invalid": task\.trainFraction must be in \(0, 1\]/,
  },
  {
    name: "a data file with a cell that is not a number",
    args: (out) => ["train", userErrors, "--system", "badCsv", "--out", out, "--backend", "cpu"],
    exit: 1,
    kind: "config",
    message: /invalid config for "badCsv": task \.\.\/tasks\/bad_number\.csv:3: column "x2" is not a number \("abc"\)/,
  },
  {
    name: "a custom task's labels beyond its class count",
    args: (out) => ["train", userErrors, "--system", "badLabels", "--out", out, "--backend", "cpu"],
    exit: 1,
    kind: "config",
    message: /task\.generate custom task "badLabels": train\.y\[0\] = 7 is not a class label in \[0, 2\)/,
  },
  {
    name: "a custom model whose forward returns the wrong shape",
    args: (out) => ["train", userErrors, "--system", "wrongShape", "--out", out, "--backend", "cpu"],
    exit: 1,
    kind: "config",
    message: /model\.forward custom model "wrongShape": forward returned shape \[1,3\], expected \[1,2\]/,
    started: true,
  },
  {
    name: "a native backend that is not installed",
    args: (out) => ["train", tiny, "--system", "tinyAdd", "--out", out, "--backend", "gpu"],
    exit: 1,
    kind: "backend",
    message: /backend "gpu" is not available: @tensorflow\/tfjs-node-gpu is not installed/,
  },
  {
    name: "an output folder under a file",
    args: (out) => {
      writeFileSync(join(out, "file"), "not a folder");
      return ["train", tiny, "--system", "tinyAdd", "--out", join(out, "file", "runs"), "--backend", "cpu"];
    },
    exit: 1,
    kind: "io",
    message: /ENOTDIR/,
  },
  {
    name: "a bug of the trainer (planted: creating a folder throws a TypeError)",
    args: (out) => ["train", tiny, "--system", "tinyAdd", "--out", out, "--backend", "cpu"],
    nodeArgs: () => {
      const preload = join(tempDir("bug"), "bug.js");
      writeFileSync(preload, `require("node:fs").mkdirSync = () => { throw new TypeError("planted bug"); };\n`);
      return ["--require", preload];
    },
    exit: 1,
    kind: "internal",
    message: /planted bug/,
  },
];

describe("lm: every kind of error", () => {
  for (const c of CASES) {
    test(`${c.kind}, exit ${c.exit}: ${c.name}`, async () => {
      const out = tempDir("err");
      const r = await lm(c.args(out), c.nodeArgs?.() ?? []);
      assert.equal(r.code, c.exit, r.stderr);
      assert.match(r.stderr, c.message);
      if (c.kind === "internal") {
        assert.match(r.stderr, /^internal error \(a bug in Learning Mechanics, not in your experiment/m);
        assert.match(r.stderr, /^\s+at /m, "the trace is kept");
        assert.doesNotMatch(r.stderr, /^error \(/m);
      } else {
        // The message is the first error line, with its kind; no trace, no internal label.
        const first = r.stderr.split("\n").find((l) => l.startsWith("error ("));
        assert.ok(first?.startsWith(`error (${c.kind}): `), r.stderr);
        assert.match(first ?? "", c.message);
        assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
        assert.doesNotMatch(r.stderr, /internal/);
      }
      if (c.started) {
        assert.match(r.stderr, /^failed at step 0$/m);
        const [run] = readdirSync(out);
        assert.equal(readManifest(join(out, run!)).status, "failed");
      } else {
        assert.doesNotMatch(r.stderr, /failed at step/, "no step ran");
        assert.deepEqual(
          readdirSync(out).filter((f) => f !== "file"),
          [],
          "nothing written",
        );
        assert.equal(r.stdout, "", "no run folder named on stdout");
      }
    });
  }
});

describe("the sidecar: the same errors as protocol events", () => {
  test("a syntax error in list; a config problem found while building, at its modelSystem call, and no run folder", async () => {
    const out = tempDir("sidecar-err");
    const sidecar = new Sidecar();
    await sidecar.waitFor("ready");
    sidecar.send({ type: "list", file: join(FIXTURES, "syntax-error.experiment.ts") });
    assert.equal((await sidecar.waitFor("error")).kind, "syntax");
    sidecar.send({ type: "train", file: userErrors, system: "badCsv", runsRoot: out, backend: "cpu" });
    const err = await sidecar.waitFor("error", (e) => e.kind !== "syntax");
    assert.equal(err.kind, "config");
    assert.deepEqual(
      err.problems?.map((p) => [p.path, p.message, p.location?.line]),
      [["task", '../tasks/bad_number.csv:3: column "x2" is not a number ("abc")', 14]],
    );
    const finished = await sidecar.waitFor("finished");
    assert.equal(finished.status, "failed");
    assert.equal(finished.runDir, undefined, "no run folder");
    assert.equal(await sidecar.exited, 1);
    assert.equal(existsSync(out) && readdirSync(out).length, 0);
    assert.deepEqual(sidecar.stray, []);
  });
});
