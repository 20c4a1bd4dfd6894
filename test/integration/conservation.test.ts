// Conservation laws on real runs through the trainer and `lm analyze` (docs/analyses.md,
// "Conservation laws"): full-batch GD on a small ReLU MLP classifier keeps the rescale and
// translation quantities constant at a tiny η without weight decay, and shrinks them by the
// predicted a_t² (a_t for translation) with it. Also a PyTorch-style run folder (layout
// "pytorch", optimizer metadata) analysed from its checkpoints alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { readAnalysis } from "../../src/shared/analysisFormat";
import { repoRoot, torchPython } from "../support";
import { FIXTURES, killSidecars, runCli, tempDir } from "./harness";

after(killSidecars);

async function train(system: string): Promise<string> {
  const root = tempDir("conservation");
  const file = join(root, "conservation.experiment.ts");
  copyFileSync(join(FIXTURES, "conservation.experiment.ts"), file);
  const r = await runCli(["train", file, "--system", system, "--out", join(root, "runs"), "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function analyse(runDir: string) {
  const r = await runCli(["analyze", runDir, "--only", "conservation"]);
  assert.equal(r.code, 0, r.stderr);
  const file = readAnalysis(runDir, "conservation");
  assert.ok(file, "analyses/conservation.jsonl written");
  return file;
}

describe("conservation laws on real runs", () => {
  test("tiny η, no weight decay: every conserved quantity constant to 1e-4 relative", async () => {
    const runDir = await train("gdTiny");
    const file = await analyse(runDir);
    assert.deepEqual(
      file.records.map((r) => r.step),
      [0, 25, 50, 75, 100],
    );
    const last = file.records[4]!;
    assert.deepEqual(
      last.symmetries.map((s) => `${s.kind} ${s.layer} ${s.count}`),
      ["rescale layers.0 → layers.1 16", "rescale layers.1 → out 16", "translation out 17"],
    );
    assert.equal(last.decay, 1);
    assert.ok(Math.abs(last.time! - 0.1) < 1e-12, `time ${last.time}`);
    assert.match(last.law, /no weight decay/);
    for (const s of last.symmetries) {
      assert.ok(s.drift !== null && s.drift < 1e-4, `${s.layer}: drift ${s.drift}`);
      assert.equal(s.predicted, 0);
    }
    // The weights did move, far more than the quantities: the constancy is the symmetry's.
    assert.equal((await runCli(["analyze", runDir, "--only", "weights"])).code, 0);
    const moved = readAnalysis(runDir, "weights")!.records.at(-1)!.tensors["layers.0.weight"]!.relChange!;
    const worst = Math.max(...last.symmetries.map((s) => s.drift!));
    assert.ok(moved > 20 * worst, `layers.0 moved ${moved}, worst drift ${worst}`);
  });

  test("weight decay: the quantities shrink as predicted, a_t = ∏(1 − ηλ)", async () => {
    const runDir = await train("gdDecay");
    const file = await analyse(runDir);
    const a = (k: number) => (1 - 0.02 * 0.5) ** k;
    for (const r of file.records) {
      assert.ok(Math.abs(r.decay! - a(r.step)) < 1e-12, `step ${r.step}: a ${r.decay} vs ${a(r.step)}`);
      for (const s of r.symmetries) {
        const f = s.kind === "translation" ? a(r.step) : a(r.step) ** 2;
        assert.ok(Math.abs(s.predicted! - (1 - f)) < 1e-9, `${s.layer} predicted ${s.predicted}`);
        // Translation is exact (the CE gradient sums to zero over classes); rescale leaves the
        // η²(‖g_in‖² − ‖g_out‖²) term (measured ≤ 2e-5 here).
        const tol = s.kind === "translation" ? 1e-5 : 1e-4;
        assert.ok(s.residual! <= tol, `step ${r.step} ${s.layer}: residual ${s.residual} > ${tol}`);
      }
    }
    const last = file.records.at(-1)!;
    assert.ok(
      last.symmetries.every((s) => s.drift! > 0.5),
      "decayed substantially",
    );
  });
});

const torch = torchPython();

/**
 * Full-batch SGD with coupled weight decay on a PyTorch ReLU MLP classifier, logged with the Python
 * logger: the analyzer knows its structure only from the state dict (layout "pytorch", params order)
 * and run.json's config, its optimizer only from the checkpoint metadata.
 */
const TORCH_SCRIPT = `
import sys, torch
import learning_mechanics as lm

torch.manual_seed(0)
x = torch.randn(64, 5)
y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
model = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.ReLU(), torch.nn.Linear(12, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.02, weight_decay=0.5)
config = {"activation": "relu", "loss": "cross_entropy"}
with lm.init(name="mlp", config=config, run_dir=sys.argv[1], model=model, optimizer=opt, total_steps=60) as run:
    for step in range(1, 61):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train_loss": loss.item()}, step=step)
        if step % 20 == 0:
            run.checkpoint(model, opt, step=step)
print(run.dir)
`;

describe("conservation laws on a PyTorch run", { skip: torch.skip }, () => {
  test("symmetries from the state dict and config, prediction from the optimizer metadata", async () => {
    const dir = tempDir("conservation-torch");
    const script = join(dir, "train.py");
    writeFileSync(script, TORCH_SCRIPT);
    const runDir = join(dir, "run");
    const r = spawnSync(torch.python!, [script, runDir], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: join(repoRoot(), "python") },
      timeout: 300_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const file = await analyse(runDir);
    assert.deepEqual(
      file.records.map((x) => x.step),
      [0, 20, 40, 60],
    );
    const last = file.records.at(-1)!;
    assert.deepEqual(
      last.symmetries.map((s) => `${s.kind} ${s.layer} ${s.count}`),
      ["rescale 0 → 2 12", "rescale 2 → 4 12", "translation 4 13"],
    );
    assert.match(last.law, /SGD, coupled L2 λ = 0.5.*optimizer metadata \(SGD: lr 0.02, weight_decay 0.5/);
    assert.ok(Math.abs(last.decay! - (1 - 0.01) ** 60) < 1e-12);
    for (const s of last.symmetries) {
      const tol = s.kind === "translation" ? 1e-5 : 1e-3;
      assert.ok(s.residual! <= tol, `${s.layer}: residual ${s.residual}`);
      assert.ok(s.drift! > 0.2, `${s.layer}: drift ${s.drift}`);
    }
  });
});
