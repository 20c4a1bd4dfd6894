// In-context regression on the torch backend (docs/analyses.md, "In-context learning"): the worker
// draws the fresh training sequences TypeScript draws, bit for bit; its every-position transformer
// computes the tfjs model's outputs on the same weights and inputs and is causal (a brute-force
// check: changing a token changes no earlier prediction); a short run through `lm train --backend
// torch` ends where the same run on wasm ends (the torch-vs-tfjs tolerance of torchTrainer.test.ts),
// and a 500-step torch run, analysed by `lm analyze --only icl`, has an in-context loss that falls
// with the position. Skipped without a Python with PyTorch (test/support.ts `torchPython`).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { models, optimizers, tasks } from "../../src/sdk/builders";
import { validateSystem } from "../../src/sdk/validate";
import { readAnalysis } from "../../src/shared/analysisFormat";
import { encodeSafetensors, readSafetensorsSync } from "../../src/shared/safetensors";
import { selectBackend } from "../../src/trainer/backend";
import { SystemInstance } from "../../src/trainer/system";
import { freshSequences } from "../../src/trainer/tasks/inContextRegression";
import { workerPackageRoot } from "../../src/trainer/torch/python";
import { repoRoot, torchPython } from "../support";
import { FIXTURES, killSidecars, metricsOf, readManifest, runCli, tempDir } from "./harness";

after(killSidecars);

const { python, skip } = torchPython();
const py = python ?? "python3";
const pythonEnv = () => ({ ...process.env, PYTHONPATH: workerPackageRoot(join(repoRoot(), "dist")) });
const torchArgs = ["--backend", "torch", "--device", "cpu", "--python", py, "--threads", "1"];
/** torchTrainer.test.ts's tolerance between the backends (argued in torchWorker.test.ts). */
const ATOL = 1e-4;
const RTOL = 1e-3;

function runPython(code: string, ...args: string[]): string {
  const r = spawnSync(py, ["-c", code, ...args], { encoding: "utf8", env: pythonEnv(), maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe("in-context regression on the torch worker", { skip }, () => {
  before(async () => {
    await selectBackend("wasm");
  });

  test("fresh sequences: the worker draws TypeScript's batches bit for bit (fresh w, and a pool of tasks)", () => {
    const cases = [
      { dim: 3, points: 5, noise: 0.1, dataSeed: 0, seed: 7 },
      { dim: 4, points: 10, noise: 0, tasks: 3, dataSeed: 11, seed: -2 },
    ];
    const out = JSON.parse(
      runPython(
        `import json, sys
from learning_mechanics.batches import FreshSequences
cases = json.loads(sys.argv[1])
print(json.dumps([[[a.reshape(-1).tolist() for a in FreshSequences(c).batch(c["seed"], t, 6)] for t in (1, 2, 500)] for c in cases]))`,
        JSON.stringify(cases),
      ),
    ) as number[][][][];
    cases.forEach((c, k) => {
      const spec = { kind: "inContextRegression" as const, testSequences: 8, ...c };
      const draw = freshSequences(spec);
      assert.ok(draw);
      [1, 2, 500].forEach((t, i) => {
        const b = draw(c.seed, t, 6);
        assert.deepEqual(out[k]![i]![0], Array.from(b.x), `case ${k} t=${t}: x`);
        assert.deepEqual(out[k]![i]![1], Array.from(b.y), `case ${k} t=${t}: y`);
      });
    });
  });

  test("the every-position transformer (2 and 3 blocks): torch's outputs are tfjs's on the same weights and inputs, and causal", (t) => {
    for (const layers of [2, 3]) {
      const v = validateSystem({
        task: tasks.inContextRegression({ dim: 3, points: 5, noise: 0.1, testSequences: 16 }),
        model: models.transformer({
          readout: "everyPosition",
          layers,
          dModel: 16,
          heads: 2,
          dMlp: 32,
          layerNorm: true,
        }),
        optimizer: optimizers.adam({ lr: 1e-3 }),
        batchSize: 8,
        steps: 1,
        seed: 3,
      });
      assert.ok(v.ok, JSON.stringify(v));
      const system = new SystemInstance(v.spec, repoRoot());
      try {
        const dir = tempDir("torch-icl-forward");
        const file = join(dir, "weights.safetensors");
        const ours = tf.tidy(() => system.model.forward(system.test.x).dataSync() as Float32Array);
        const n = system.test.n;
        writeFileSync(
          file,
          encodeSafetensors([
            ...system.model.params.map((p) => ({
              name: `param/${p.name}`,
              dtype: "F32" as const,
              shape: [...p.variable.shape],
              data: Float32Array.from(p.variable.dataSync() as Float32Array),
            })),
            {
              name: "x",
              dtype: "F32" as const,
              shape: [n, system.data.input.kind === "features" ? system.data.input.dim : 0],
              data: system.data.test.x as Float32Array,
            },
          ]),
        );
        const spec = { model: v.spec.model, input: system.data.input, output: system.data.output };
        const result = JSON.parse(
          runPython(
            `import json, sys, torch
from learning_mechanics import tensorfile
from learning_mechanics.models import build_model
spec = json.loads(sys.argv[1])
tensors, _ = tensorfile.read(sys.argv[2])
model = build_model(spec["model"], spec["input"], spec["output"])
with torch.no_grad():
    params = dict(model.named_parameters())
    names = [k[len("param/"):] for k in tensors if k.startswith("param/")]
    assert sorted(names) == sorted(params), (names, list(params))
    for name, p in params.items():
        p.copy_(tensors["param/" + name])
    x = tensors["x"]
    out = model(x)
    # Brute force: perturb token j of sequence 0; output k (read at token 2k) may change only if 2k >= j.
    tok = spec["input"]["sequence"]["tokenDim"]
    length = spec["input"]["sequence"]["length"]
    leaks, reaches = [], []
    # The unperturbed outputs of the same batch of one (another batch size may sum in another order).
    base = model(x[:1])[0]
    for j in range(length):
        x2 = x[:1].clone().reshape(length, tok)
        x2[j] += 3.0
        o2 = model(x2.reshape(1, -1))[0]
        for k in range(out.shape[1]):
            changed = abs(float(o2[k] - base[k])) > 0
            if 2 * k < j and changed:
                leaks.append([j, k])
            if 2 * k >= j and changed:
                reaches.append([j, k])
print(json.dumps({"shape": list(out.shape), "out": out.reshape(-1).tolist(), "leaks": leaks, "reaches": len(reaches)}))`,
            JSON.stringify(spec),
            file,
          ),
        ) as { shape: number[]; out: number[]; leaks: number[][]; reaches: number };
        assert.deepEqual(result.shape, [n, 5]);
        let worst = 0;
        for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - result.out[i]!));
        t.diagnostic(`${layers} blocks: largest |tfjs − torch| over ${ours.length} outputs: ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-5, `${layers} blocks: outputs differ by ${worst}`);
        assert.deepEqual(result.leaks, [], "no prediction reads a later token");
        // Tokens 0..9, outputs at tokens 0, 2, …, 8: output k sees tokens 0..2k, 5+4+4+3+3+2+2+1+1+0 = 25 pairs.
        assert.equal(result.reaches, 25, "every earlier-or-same token reaches the prediction");
      } finally {
        system.dispose();
      }
    }
  });

  test("lm train --backend torch on the icl fixture: 20 steps end where wasm's end; 500 steps, then lm analyze --only icl: the loss falls with position", async () => {
    const root = tempDir("torch-icl");
    const file = join(root, "icl.experiment.ts");
    copyFileSync(join(FIXTURES, "icl.experiment.ts"), file);
    const short = (backend: readonly string[], run: string) =>
      runCli(["train", file, "--run-dir", join(root, run), "--steps", "20", ...backend]);
    const [a, b] = await Promise.all([short(["--backend", "wasm"], "wasm20"), short(torchArgs, "torch20")]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(readManifest(join(root, "torch20")).backend.name, "torch");
    const final = "checkpoints/step-00000020.safetensors";
    const wa = readSafetensorsSync(join(root, "wasm20", final));
    const wb = readSafetensorsSync(join(root, "torch20", final));
    const w0 = readSafetensorsSync(join(root, "wasm20", "checkpoints/step-00000000.safetensors"));
    let worst = 0;
    let moved = 0;
    for (const ta of wa.tensors) {
      if (ta.name.startsWith("optimizer/")) continue;
      const tb = wb.byName.get(ta.name)!;
      const t0 = w0.byName.get(ta.name)!;
      for (let i = 0; i < ta.data.length; i++) {
        const x = Number(ta.data[i]);
        worst = Math.max(worst, Math.abs(x - Number(tb.data[i])) / (ATOL + RTOL * Math.abs(x)));
        moved = Math.max(moved, Math.abs(x - Number(t0.data[i])));
      }
    }
    assert.ok(moved > 10 * ATOL, `the weights moved (${moved})`);
    assert.ok(worst <= 1, `worst |Δ| / tolerance between torch and wasm after 20 steps: ${worst}`);
    const loss = (run: string) => metricsOf(join(root, run)).find((r) => r.step === 20)!["test_loss"]!;
    assert.ok(Math.abs(loss("torch20") - loss("wasm20")) < 1e-4, `test loss ${loss("torch20")} vs ${loss("wasm20")}`);

    const trained = await runCli(["train", file, "--run-dir", join(root, "torch"), ...torchArgs]);
    assert.equal(trained.code, 0, trained.stderr);
    const runDir = join(root, "torch");
    const analysed = await runCli(["analyze", runDir, "--only", "icl", "--run-experiment", "--backend", "wasm"]);
    assert.equal(analysed.code, 0, analysed.stderr);
    const icl = readAnalysis(runDir, "icl");
    assert.ok(icl, "analyses/icl.jsonl written for the torch run");
    assert.deepEqual(
      icl.records.map((r) => r.step),
      [0, 100, 200, 300, 400, 500],
    );
    const first = icl.records[0]!;
    const last = icl.records.at(-1)!;
    // As icl.test.ts asks of the wasm run: position 6 well below position 1 after 500 steps.
    assert.ok(last.loss[5]! < 0.6 * last.loss[0]!, `loss by position: ${last.loss.map((x) => x.toFixed(3)).join(" ")}`);
    assert.ok(last.mean < first.mean, `mean in-context loss ${first.mean} → ${last.mean}`);
  });
});
