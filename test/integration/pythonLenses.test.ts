// Sharpness, conservation laws and the LLC computed in Python (python/learning_mechanics/analyses,
// for run.watch) against the TypeScript analyzer, where both compute the same quantity:
// - sharpness: the edge-of-stability fixture (full-batch GD on a tanh MLP) trained with
//   `lm train --backend torch`, analysed by `lm analyze --only sharpness` (finite-difference
//   Hessian-vector products in float32 on tfjs), and again by `compute_sharpness` on the PyTorch
//   twin of the model (exact double backward) on the same checkpoints;
// - conservation: a PyTorch ReLU MLP trained with the Python logger and `run.watch` (symmetries
//   from the module structure), and the same checkpoints analysed by `lm analyze` (symmetries from
//   the state dict and run.json's config);
// - the settings: run.watch's defaults are `analysesDefaults()`.
// The closed-form tests of the Python side are pytest (python/tests/test_lenses.py), run by
// test/integration/torchWorker.test.ts. Needs a Python with torch (test/support.ts `torchPython`).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { analysesDefaults } from "../../src/sdk/builders";
import type { TaskSpec } from "../../src/sdk/spec";
import { type ConservationRecord, readAnalysis, type SharpnessRecord } from "../../src/shared/analysisFormat";
import { generateTask } from "../../src/trainer/tasks/index";
import { repoRoot, torchPython } from "../support";
import { FIXTURES, killSidecars, runCli, tempDir } from "./harness";

after(killSidecars);

const { python, skip } = torchPython();
const env = () => ({ ...process.env, PYTHONPATH: join(repoRoot(), "python") });

function runPython(code: string, args: string[]): string {
  const r = spawnSync(python ?? "python3", ["-c", code, ...args], { encoding: "utf8", env: env(), timeout: 600_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Rescores every checkpoint's sharpness in Python with the TypeScript records' settings and η; prints {step: record}. */
const SHARPNESS = `
import json, os, sys
import torch
from learning_mechanics import models, tensorfile
from learning_mechanics.analyses.optim_state import built_in
from learning_mechanics.analyses.sharpness import compute_sharpness

run_dir, data_file = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(run_dir, "run.json")))
config = manifest["config"]
data = json.load(open(data_file))
model = models.build_model(config["model"], data["input"], data["output"])
s = data["train"]
x = torch.tensor(s["x"], dtype=torch.float32).reshape(s["n"], -1)
y = torch.tensor(s["y"], dtype=torch.float32).reshape(s["n"], -1)
loss_fn = lambda out, t: ((out - t) ** 2).mean()  # system.ts lossOf: mean squared error over every output
lines = [json.loads(l) for l in open(os.path.join(run_dir, "analyses", "sharpness.jsonl"))]
settings, records = lines[0]["settings"], lines[1:]
opt = built_in(config, manifest["totalSteps"])
out = {}
for r in records:
    step = r["step"]
    tensors, _ = tensorfile.read(os.path.join(run_dir, "checkpoints", f"step-{step:08d}.safetensors"))
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optimizer/")})
    out[step] = compute_sharpness(model, loss_fn, (x, y), settings, step=step, lr=r["lr"], optimizer=opt)
print(json.dumps(out))
`;

describe("sharpness in Python equals the TypeScript analyzer's on the same torch-trained checkpoints", { skip }, () => {
  test("full-batch GD on a tanh MLP: the top eigenvalue within 1e-3, the threshold and the loss", async (t) => {
    const dir = tempDir("pylenses-eos");
    const file = join(dir, "eos.experiment.ts");
    copyFileSync(join(FIXTURES, "eos.experiment.ts"), file);
    const runDir = join(dir, "run");
    const py = python ?? "python3";
    const trained = await runCli(
      ["train", file, "--system", "eos", "--run-dir", runDir, "--backend", "torch", "--device", "cpu"].concat([
        "--python",
        py,
        "--threads",
        "1",
      ]),
    );
    assert.equal(trained.code, 0, trained.stderr);
    const analysed = await runCli(["analyze", runDir, "--file", file, "--only", "sharpness"]);
    assert.equal(analysed.code, 0, analysed.stderr);
    const ts = readAnalysis(runDir, "sharpness");
    assert.ok(ts, "lm analyze wrote sharpness.jsonl");
    const manifest = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as { config: { task: TaskSpec } };
    const data = generateTask(manifest.config.task, { baseDir: dirname(file) });
    const plain = (s: typeof data.train) => ({ n: s.n, x: Array.from(s.x), y: Array.from(s.y) });
    const dataFile = join(dir, "data.json");
    writeFileSync(dataFile, JSON.stringify({ input: data.input, output: data.output, train: plain(data.train) }));
    const pyRecords = JSON.parse(runPython(SHARPNESS, [runDir, dataFile])) as Record<string, SharpnessRecord>;
    assert.deepEqual(
      ts.records.map((r) => r.step),
      [0, 200, 400, 600, 800, 1000, 1200],
    );
    let worst = 0;
    for (const a of ts.records) {
      const b = pyRecords[String(a.step)]!;
      assert.equal(b.method, "exact");
      assert.equal(a.method, "finite-difference");
      // The TypeScript value carries its finite-difference error (recorded as `error`, ≤ 4e-3 on
      // λ₁ ≈ 20 here); the exact products' Lanczos residual is `b.error`.
      const rel = Math.abs(b.eigenvalues[0]! - a.eigenvalues[0]!) / a.eigenvalues[0]!;
      assert.ok(
        rel <= 1e-3,
        `step ${a.step}: λ₁ python ${b.eigenvalues[0]} vs typescript ${a.eigenvalues[0]} (±${a.error})`,
      );
      assert.equal(b.eigenvalues.length, a.eigenvalues.length);
      assert.equal(b.threshold, a.threshold);
      assert.equal(b.thresholdOf, a.thresholdOf);
      assert.equal(b.preconditioned, null);
      // The loss falls to ~1e-5 (an interpolating net): float32 sums of tiny residuals differ there by ~3e-5 relative.
      assert.ok(Math.abs(b.loss - a.loss) <= 1e-4 * a.loss + 1e-9, `step ${a.step}: loss ${b.loss} vs ${a.loss}`);
      worst = Math.max(worst, rel);
    }
    t.diagnostic(`largest relative difference of λ₁: ${worst.toExponential(2)}`);
    // The run reaches the edge of stability (λ₁ ≈ 2/η = 20), so the comparison covers a sharp Hessian.
    assert.ok(ts.records.at(-1)!.eigenvalues[0]! > 15, `λ₁ at the end ${ts.records.at(-1)!.eigenvalues[0]}`);
  });
});

/** Full-batch SGD with coupled weight decay on a PyTorch ReLU MLP classifier, watched by run.watch (conservation only). */
const WATCHED = `
import sys, torch
import torch.nn.functional as F
import learning_mechanics as lm

torch.manual_seed(0)
x = torch.randn(64, 5)
y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
model = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.ReLU(), torch.nn.Linear(12, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.02, weight_decay=0.5)
config = {"activation": "relu", "loss": "cross_entropy"}
with lm.init(name="mlp", config=config, run_dir=sys.argv[1], model=model, optimizer=opt, total_steps=60) as run:
    run.watch(model, F.cross_entropy, train=(x, y), analyses={"kernel": {"every": 0}, "tracin": {"every": 0}, "sharpness": {"every": 0}})
    for step in range(1, 61):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train_loss": loss.item()}, step=step)
        if step % 20 == 0:
            run.checkpoint(model, opt, step=step)
`;

describe("conservation laws in Python equal the TypeScript analyzer's on the same PyTorch checkpoints", {
  skip,
}, () => {
  test("ReLU MLP with SGD and weight decay: the same symmetries, quantities within 1e-5, the same prediction", async () => {
    const dir = tempDir("pylenses-conservation");
    const runDir = join(dir, "run");
    runPython(WATCHED, [runDir]);
    const py = readAnalysis(runDir, "conservation");
    assert.ok(py, "run.watch wrote conservation.jsonl");
    assert.match(py.header.producer, /learning-mechanics-python/);
    // The TypeScript analyzer leaves run.watch's file alone (it would otherwise continue it: same
    // settings, two producers' records in one file), saying so; moved away, it writes its own.
    const pyFile = join(runDir, "analyses", "conservation.jsonl");
    const pyBytes = readFileSync(pyFile);
    const left = await runCli(["analyze", runDir, "--only", "conservation"]);
    assert.equal(left.code, 0, left.stderr);
    assert.match(
      left.stderr,
      /conservation: analyses\/conservation\.jsonl was written by learning-mechanics-python [\d.]+; left as it is/,
    );
    assert.ok(readFileSync(pyFile).equals(pyBytes), "run.watch's conservation.jsonl is unchanged");
    renameSync(pyFile, join(dir, "python-conservation.jsonl"));
    const analysed = await runCli(["analyze", runDir, "--only", "conservation"]);
    assert.equal(analysed.code, 0, analysed.stderr);
    const ts = readAnalysis(runDir, "conservation");
    assert.ok(ts);
    assert.match(ts.header.producer, /^learning-mechanics \d/);
    assert.deepEqual(py.header.settings, ts.header.settings);
    assert.equal(py.header.referenceStep, ts.header.referenceStep);
    const steps = (f: { records: ConservationRecord[] }) => f.records.map((r) => r.step);
    assert.deepEqual(steps(py), [0, 20, 40, 60]);
    assert.deepEqual(steps(py), steps(ts));
    py.records.forEach((p, k) => {
      const t = ts.records[k]!;
      assert.equal(p.law, t.law);
      assert.equal(p.lr, t.lr);
      assert.ok(Math.abs(p.decay! - t.decay!) < 1e-15 && Math.abs(p.time! - t.time!) < 1e-12, `step ${p.step}`);
      assert.deepEqual(
        p.symmetries.map((s) => `${s.kind} ${s.layer} ${s.count} ${s.quality}`),
        t.symmetries.map((s) => `${s.kind} ${s.layer} ${s.count} ${s.quality}`),
      );
      p.symmetries.forEach((s, i) => {
        const o = t.symmetries[i]!;
        const at = `step ${p.step} ${s.layer}`;
        assert.ok(Math.abs(s.norm - o.norm) <= 1e-5 * o.norm, `${at}: ‖Q‖ ${s.norm} vs ${o.norm}`);
        assert.ok(Math.abs(s.sum - o.sum) <= 1e-5 * o.norm, `${at}: ΣQ ${s.sum} vs ${o.sum}`);
        for (const key of ["drift", "predicted", "residual"] as const)
          assert.ok(Math.abs(s[key]! - o[key]!) <= 1e-5, `${at}: ${key} ${s[key]} vs ${o[key]}`);
      });
    });
    assert.ok(
      py.records.at(-1)!.symmetries.every((s) => s.drift! > 0.2),
      "the quantities moved: the comparison is not of constants",
    );
  });
});

describe("run.watch's settings", { skip }, () => {
  test("the defaults of sharpness, LLC and conservation are analysesDefaults()'s", () => {
    const out = runPython(
      "import json; from learning_mechanics.analyses import defaults; d = defaults(); print(json.dumps({k: d[k] for k in ('sharpness', 'llc', 'conservation')}))",
      [],
    );
    const ts = analysesDefaults();
    assert.deepEqual(JSON.parse(out), { sharpness: ts.sharpness, llc: ts.llc, conservation: ts.conservation });
  });
});
