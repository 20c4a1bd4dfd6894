// TracIn computed in Python (python/learning_mechanics/analyses, for run.watch) against the
// TypeScript analyzer on the same checkpoints: a built-in system trained with `lm train --backend
// torch`, analysed by `lm analyze RUN --file FILE --only tracin`, then scored again by
// `compute_tracin` on the PyTorch twin of the model (learning_mechanics/models.py) with the same
// examples, the same learning rates and the same projection seed. The two sides project with the
// same matrices (same seeded generator, same construction) but compute differently (a tapped pass
// on tfjs, a forward-mode pass on torch), so agreement checks the projection, the roles of the
// parameters, the query mean and the sign. The closed-form and SGLD tests of these modules are
// pytest (python/tests/test_tracin.py, test_bif.py), run by test/integration/torchWorker.test.ts.
// Needs a Python with torch (test/support.ts `torchPython`); skipped without one unless LM_REQUIRE_TORCH=1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, describe, test } from "node:test";
import { readAnalysis } from "../../src/shared/analysisFormat";
import type { TaskSpec } from "../../src/sdk/spec";
import { generateTask } from "../../src/trainer/tasks/index";
import { repoRoot, torchPython } from "../support";
import { FIXTURES, runCli, tempDir } from "./harness";

const { python, skip } = torchPython();
const tiny = join(FIXTURES, "tiny.experiment.ts");

/** Rescores every checkpoint of a run in Python; prints {step: record} as JSON. */
const SCORE = `
import json, os, sys
import torch
import torch.nn.functional as F
from learning_mechanics import models, tensorfile
from learning_mechanics.analyses.tracin import compute_tracin, make_projection

run_dir, data_file, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
config = json.load(open(os.path.join(run_dir, "run.json")))["config"]
data = json.load(open(data_file))
model = models.build_model(config["model"], data["input"], data["output"])
# No wrapper module: the parameter names key the projection matrices, so they must stay the checkpoint's.
alpha = float(config["model"].get("alpha", 1))
centred = bool(config["model"].get("centered", False))
classes = data["output"]["kind"] == "classes"

def loss_fn(out, y):
    # The training objective (src/trainer/system.ts): α·(f(w, x) − f(w₀, x)), the loss scaled by 1/α².
    # A centred model's f(w₀, x) rides along with the targets (regression only here): y = [target, f0].
    if centred:
        y, f0 = y.chunk(2, dim=1)
        out = out - f0
    out = out * alpha
    return (F.cross_entropy(out, y) if classes else ((out - y) ** 2).mean()) / (alpha * alpha)

def split(s, rows):
    if data["input"]["kind"] == "tokens":
        x = torch.tensor(s["x"], dtype=torch.long).reshape(s["n"], -1)
    else:
        x = torch.tensor(s["x"], dtype=torch.float32).reshape(s["n"], -1)
    y = torch.tensor(s["y"], dtype=torch.long) if classes else torch.tensor(s["y"], dtype=torch.float32).reshape(s["n"], -1)
    return x[:rows], y[:rows]

settings = {**config["analyses"]["tracin"], **overrides}
train = split(data["train"], settings["trainExamples"])
query = split(data["test"], settings["query"]["count"])
lrs = {}
for line in open(os.path.join(run_dir, "metrics.jsonl")):
    r = json.loads(line)
    if "lr" in r:
        lrs[r["step"]] = r["lr"]
checkpoints = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))
if centred:
    tensors, _ = tensorfile.read(os.path.join(run_dir, "checkpoints", checkpoints[0]))  # step 0: w₀
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optimizer/")})
    with torch.no_grad():
        train = (train[0], torch.cat([train[1], model(train[0])], 1))
        query = (query[0], torch.cat([query[1], model(query[0])], 1))
projection = make_projection(model, settings, config["seed"])
out = {}
for name in checkpoints:
    step = int(name.split("-")[1].split(".")[0])
    tensors, _ = tensorfile.read(os.path.join(run_dir, "checkpoints", name))
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optimizer/")})
    out[step] = compute_tracin(model, loss_fn, train, query, settings, lrs[step], step=step, seed=config["seed"], projection=projection)
print(json.dumps(out))
`;

interface PyRecord {
  step: number;
  lr: number;
  values: number[];
  projectionError: number;
}

/** Trains `system` on torch, analyses TracIn with TypeScript, rescoring in Python; both sides' records by step. */
async function bothSides(
  system: string,
  overrides: Record<string, unknown>,
): Promise<{ ts: Map<number, PyRecord>; py: Record<string, PyRecord> }> {
  const dir = tempDir(`pyinfluence-${system}`);
  const runDir = join(dir, "run");
  const py = python ?? "python3";
  const trained = await runCli([
    "train",
    tiny,
    "--system",
    system,
    "--run-dir",
    runDir,
    "--backend",
    "torch",
    "--device",
    "cpu",
    "--python",
    py,
    "--threads",
    "1",
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const sets = Object.entries(overrides).flatMap(([k, v]) => ["--set", `tracin.${k}=${JSON.stringify(v)}`]);
  const analysed = await runCli(["analyze", runDir, "--file", tiny, "--only", "tracin", ...sets]);
  assert.equal(analysed.code, 0, analysed.stderr);
  // The examples, from the task generator the analyzer uses (the split is deterministic in the spec).
  const config = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as { config: { task: TaskSpec } };
  const data = generateTask(config.config.task, { baseDir: dirname(tiny) });
  const plain = (s: typeof data.train) => ({ n: s.n, x: Array.from(s.x), y: Array.from(s.y) });
  const dataFile = join(dir, "data.json");
  writeFileSync(
    dataFile,
    JSON.stringify({ input: data.input, output: data.output, train: plain(data.train), test: plain(data.test) }),
  );
  const r = spawnSync(py, ["-c", SCORE, runDir, dataFile, JSON.stringify(overrides)], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(repoRoot(), "python") },
    timeout: 300_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const file = readAnalysis(runDir, "tracin");
  assert.ok(file, "lm analyze wrote tracin.jsonl");
  assert.equal(file.header.examples?.length, overrides["trainExamples"]);
  const ts = new Map(file.records.map((rec) => [rec.step, rec as PyRecord]));
  return { ts, py: JSON.parse(r.stdout) as Record<string, PyRecord> };
}

/**
 * Tolerance. Both sides run in float32 on the same weights with the same projection matrices (bit
 * for bit: python/tests/test_tracin.py checks the generator against TypeScript's); they differ in
 * the order of float32 sums (a tapped pass and factor products on tfjs, a backward plus a
 * forward-mode pass on torch). Measured: 3e-7 (tinyAdd) and 4e-6 (tinyRegression) of the record's
 * largest |value|, projectionError within 2e-7 relative. So |py − ts| ≤ 1e-4 of the largest |value|.
 * A different projection moves scores by O(1): the same run scored with seed + 1 differs by 1.37×
 * the largest value; a wrong sign or query mean by 100%.
 */
const REL = 1e-4;

function assertSame(ts: Map<number, PyRecord>, py: Record<string, PyRecord>, steps: number[]): void {
  assert.deepEqual([...ts.keys()], steps);
  assert.deepEqual(Object.keys(py).map(Number), steps, "Python scored the same checkpoints");
  for (const step of steps) {
    const a = ts.get(step)!;
    const b = py[String(step)]!;
    assert.equal(b.step, step);
    assert.equal(b.lr, a.lr, `lr at step ${step}`);
    assert.equal(b.values.length, a.values.length);
    const scale = Math.max(...a.values.map(Math.abs));
    assert.ok(scale > 1e-6, `step ${step}: scores are not all ~0 (${scale})`);
    a.values.forEach((v, i) => {
      const diff = Math.abs(b.values[i]! - v);
      assert.ok(diff <= REL * scale + 1e-9, `step ${step}, example ${i}: python ${b.values[i]} vs typescript ${v}`);
    });
    assert.ok(
      Math.abs(b.projectionError - a.projectionError!) <= 1e-4 * a.projectionError! + 1e-7,
      `step ${step}: projectionError python ${b.projectionError} vs typescript ${a.projectionError}`,
    );
    assert.ok(a.projectionError! > 0.01, "the projection is active (k < the layers' widths)");
  }
}

describe("TracIn in Python equals the TypeScript analyzer's on the same torch-trained checkpoints", { skip }, () => {
  let add: Awaited<ReturnType<typeof bothSides>>;
  let regression: Awaited<ReturnType<typeof bothSides>>;
  before(async () => {
    // k = 4 is narrower than every layer side, so every matrix is used: the embedding (11 × 4),
    // the hidden layer's input and output, the readout's, the biases' output sides.
    [add, regression] = await Promise.all([
      bothSides("tinyAdd", { projectionDim: 4, trainExamples: 24 }),
      bothSides("tinyRegression", { projectionDim: 2, trainExamples: 20 }),
    ]);
  });

  test("modular addition: embedding MLP, cross-entropy, 4 checkpoints", () => {
    assertSame(add.ts, add.py, [0, 20, 40, 60]);
  });

  test("teacher–student regression: features MLP with α = 4, centred (f(w₀, x) subtracted, loss ÷ α²), 4 checkpoints", () => {
    assertSame(regression.ts, regression.py, [0, 10, 20, 30]);
  });
});
