// Runs written from Python, read by the TypeScript side (issue 11): a real PyTorch script using the
// learning_mechanics logger, and docs/examples/write_run.py as-is. Their run.json passes our
// checks and the Runs view lists them, their metrics read back with namespaced names and null for
// a non-finite value, the checkpoint stats the Python logger computed equal `tensorStats`
// recomputed here from the tensors (the two implementations cross-checked), and `lm analyze` runs
// the weight-space analysis and says why the model-based ones cannot run on a Python script, even
// when asked to load it (it used to hand the .py to esbuild and fail). Needs a Python with torch:
// LM_TEST_PYTHON, else the repository's .venv/bin/python, else python3 on PATH; skipped with the
// reason without one, unless LM_REQUIRE_TORCH=1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { readRunEntry } from "../../src/extension/runIndex";
import { readAnalysis } from "../../src/shared/analysisFormat";
import { readMetrics } from "../../src/shared/metricsReader";
import { CHECKPOINT_DIR, checkpointFiles, METRICS_FILE, parseManifest, RUN_MANIFEST } from "../../src/shared/runFormat";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { tensorStats } from "../../src/trainer/runFolder";
import { repoRoot } from "../support";
import { runCli, tempDir } from "./harness";

/** The first interpreter that imports torch: LM_TEST_PYTHON, then .venv/bin/python, then python3 on
 * PATH (a synchronous look, since node:test decides skips when the file loads). */
function pickPython(): { python: string } | { reason: string } {
  const reasons: string[] = [];
  for (const py of [process.env["LM_TEST_PYTHON"], join(repoRoot(), ".venv", "bin", "python"), "python3"]) {
    if (!py) continue;
    const r = spawnSync(py, ["-c", "import torch, numpy"], { encoding: "utf8", timeout: 120_000 });
    if (r.status === 0) return { python: py };
    reasons.push(
      `${py}: ${r.error ? r.error.message : (r.stderr.trim().split("\n").pop() ?? `exit ${String(r.status)}`)}`,
    );
  }
  return { reason: `no Python with PyTorch and numpy (set LM_TEST_PYTHON): ${reasons.join("; ")}` };
}

const picked = pickPython();
if ("reason" in picked && process.env["LM_REQUIRE_TORCH"] === "1")
  throw new Error(`LM_REQUIRE_TORCH=1: ${picked.reason}`);
const skip = "reason" in picked ? picked.reason : false;
const python = "python" in picked ? picked.python : "python3";

function runPython(args: string[]): string {
  const r = spawnSync(python, args, {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(repoRoot(), "python") },
    timeout: 300_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** A small MLP trained for 50 steps with AdamW, logged every step, checkpointed every 10. */
const SCRIPT = `
import math, sys, torch
import learning_mechanics as lm

torch.manual_seed(0)
x = torch.randn(128, 6)
y = (x[:, 0] * x[:, 1] > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.AdamW(model.parameters(), lr=0.01)
with lm.init(name="mlp", config={"lr": 0.01, "hidden": 16}, run_dir=sys.argv[1], model=model, optimizer=opt, total_steps=50) as run:
    for step in range(1, 51):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = (logits.argmax(1) == y).float().mean()
        run.log({"train_loss": loss.item(), "loss/train": loss, "acc/train": acc, "probe/ratio": math.nan if step == 25 else 1.0 / step}, step=step)
        if step % 10 == 0:
            run.checkpoint(model, opt, step=step)
print(run.dir)
`;

/** `lm analyze` on a run whose experiment is a Python script, with every way of naming it. */
async function analyzeNamesWhy(runDir: string, script: string, extra: string[], checkpoints: number): Promise<void> {
  const r = await runCli(["analyze", runDir, "--backend", "cpu", ...extra]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /error|No loader|internal/i);
  assert.ok(
    r.stderr.includes(
      `need the model, and ${script} is a Python script: the model-based analyses need a TypeScript experiment (for a PyTorch model: run.watch in the script, or python -m learning_mechanics analyze RUN --model module:factory)`,
    ),
    r.stderr,
  );
  assert.doesNotMatch(r.stderr, /pass --run-experiment/, "never suggests loading a .py");
  assert.equal(readAnalysis(runDir, "weights")?.records.length, checkpoints);
}

describe("a PyTorch script using the logger", { skip }, () => {
  let runDir = "";
  let script = "";
  before(() => {
    const dir = tempDir("pylogger");
    script = join(dir, "train_mlp.py");
    writeFileSync(script, SCRIPT);
    runDir = join(dir, "runs", "mlp-1");
    assert.equal(runPython([script, runDir]), runDir);
  });

  test("run.json passes the manifest checks and the Runs view lists the run", () => {
    const parsed = parseManifest(readFileSync(join(runDir, RUN_MANIFEST), "utf8"));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.problems.join("; "));
    const m = parsed.manifest;
    assert.equal(m.status, "finished");
    assert.equal(m.step, 50);
    assert.equal(m.totalSteps, 50);
    assert.equal(m.experiment?.path, script);
    assert.match(m.experiment?.sha256 ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.equal(m.backend.name, "pytorch");
    assert.deepEqual(m.config, { lr: 0.01, hidden: 16 });
    const entry = readRunEntry(runDir);
    assert.equal(entry?.status, "finished", entry?.status === "invalid" ? entry.problem : "");
  });

  test("metrics read back with namespaced names, and the NaN as null", () => {
    const metrics = readMetrics(join(runDir, METRICS_FILE));
    assert.deepEqual(metrics.badLines, []);
    assert.equal(metrics.partialTail, false);
    assert.deepEqual(
      metrics.records.map((r) => r.step),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    for (const r of metrics.records) {
      assert.deepEqual(Object.keys(r).sort(), ["acc/train", "loss/train", "probe/ratio", "step", "time", "train_loss"]);
      assert.equal(r["loss/train"], r["train_loss"]);
      assert.ok(Number.isFinite(r.time));
    }
    assert.equal(metrics.records[24]?.["probe/ratio"], null);
    assert.equal(metrics.records[23]?.["probe/ratio"], 1 / 24);
    // Strict JSON on disk: no NaN token anywhere.
    assert.doesNotMatch(readFileSync(join(runDir, METRICS_FILE), "utf8"), /NaN|Infinity/);
  });

  test("checkpoint stats written by Python equal tensorStats recomputed in TypeScript", () => {
    const files = checkpointFiles(readdirSync(join(runDir, CHECKPOINT_DIR)));
    assert.deepEqual(
      files.map((f) => f.step),
      [0, 10, 20, 30, 40, 50],
    );
    const step0 = readSafetensorsSync(join(runDir, CHECKPOINT_DIR, files[0]!.name));
    for (const { step, name } of files) {
      const ckpt = readSafetensorsSync(join(runDir, CHECKPOINT_DIR, name));
      assert.equal(ckpt.metadata["step"], String(step));
      const params = JSON.parse(ckpt.metadata["params"] ?? "null") as string[];
      assert.deepEqual(params, ["0.weight", "0.bias", "2.weight", "2.bias"]);
      assert.deepEqual(ckpt.byName.get("0.weight")?.shape, [16, 6], "stored as PyTorch holds it");
      const stats = JSON.parse(ckpt.metadata["stats"] ?? "null") as Record<
        string,
        { norm: number; relChange: number | null }
      >;
      for (const p of params) {
        const w = ckpt.byName.get(p)?.data;
        const w0 = step0.byName.get(p)?.data;
        assert.ok(w instanceof Float32Array && w0 instanceof Float32Array, p);
        const expected = tensorStats(w, w0);
        const got = stats[p];
        assert.ok(got !== undefined, p);
        assert.ok(
          Math.abs(got.norm - expected.norm) <= 1e-12 * expected.norm,
          `${p} at ${step}: norm ${got.norm} vs ${expected.norm}`,
        );
        assert.ok(got.relChange !== null && expected.relChange !== null, p);
        assert.ok(
          Math.abs(got.relChange - expected.relChange) <= 1e-12 * Math.max(expected.relChange, 1e-30),
          `${p} at ${step}: relChange ${got.relChange} vs ${expected.relChange}`,
        );
        if (step === 0) assert.equal(got.relChange, 0);
        else assert.ok(got.relChange > 0);
      }
      const optimizer = JSON.parse(ckpt.metadata["optimizer"] ?? "null") as { t: number };
      assert.equal(optimizer.t, step);
      // AdamW keeps no state before its first update.
      assert.equal(ckpt.byName.has("optimizer/m/0.weight") && ckpt.byName.has("optimizer/v/2.bias"), step > 0);
    }
  });

  test("lm analyze runs the weight-space analysis and says why the others cannot run", async () => {
    await analyzeNamesWhy(runDir, script, [], 6);
  });

  test("... also when asked to load the experiment (--run-experiment, --file x.py)", async () => {
    await analyzeNamesWhy(runDir, script, ["--run-experiment"], 6);
    await analyzeNamesWhy(runDir, script, ["--file", script], 6);
  });
});

describe("docs/examples/write_run.py, run as-is", { skip }, () => {
  test("its run is analysed without error, with and without --run-experiment", async () => {
    const example = join(repoRoot(), "docs", "examples", "write_run.py");
    const runDir = join(tempDir("write-run"), "run");
    runPython([example, runDir]);
    assert.equal(readRunEntry(runDir)?.status, "finished");
    await analyzeNamesWhy(runDir, example, ["--run-experiment"], 5);
    await analyzeNamesWhy(runDir, example, [], 5);
  });
});
