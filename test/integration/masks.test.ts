// Masks in runs (docs/lottery-tickets.md): a masked weight is zero in every checkpoint, its
// optimizer moments too (Adam's cannot revive it), through a resume and a branch from a dense
// checkpoint; the mask travels in the run folder; on torch too (zeros through steps and a resume,
// and the same weights as a cpu run within the torch-vs-tfjs tolerance of torchTrainer.test.ts).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { join } from "node:path";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { type MaskSet, readMaskFile, writeMaskFile } from "../../src/trainer/masks";
import { torchPython } from "../support";
import { FIXTURES, metricsOf, readManifest, runCli, tempDir, withoutTime } from "./harness";

const tiny = join(FIXTURES, "tiny.experiment.ts");

/** A fixed pseudo-random half of each weight matrix of tinyAdd (biases and the embedding dense). */
function halfMask(): MaskSet {
  const masks: MaskSet = new Map();
  let s = 12345;
  for (const [name, shape] of [
    ["layers.0.weight", [16, 32]],
    ["out.weight", [32, 11]],
  ] as const) {
    const values = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < values.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      values[i] = (s >>> 16) & 1;
    }
    masks.set(name, { shape: [...shape], values });
  }
  return masks;
}

/** Every entry a mask zeroes, in every parameter and optimizer slot of every checkpoint: the largest |value| found. */
function largestMasked(runDir: string, masks: MaskSet): { max: number; checked: number; files: number } {
  let max = 0;
  let checked = 0;
  const files = readdirSync(join(runDir, "checkpoints")).filter((f) => f.endsWith(".safetensors"));
  for (const f of files) {
    const ck = readSafetensorsSync(join(runDir, "checkpoints", f));
    for (const [name, m] of masks)
      for (const tensor of [name, `optimizer/m/${name}`, `optimizer/v/${name}`]) {
        const t = ck.byName.get(tensor);
        assert.ok(t, `${f} has ${tensor}`);
        m.values.forEach((keep, i) => {
          if (keep === 0) {
            max = Math.max(max, Math.abs(Number(t.data[i])));
            checked++;
          }
        });
      }
  }
  return { max, checked, files: files.length };
}

describe("masks", () => {
  test("masked weights and their Adam moments are exactly zero at every checkpoint, the others train", async () => {
    const root = tempDir("masks");
    const maskFile = join(root, "half.safetensors");
    const masks = halfMask();
    writeMaskFile(maskFile, masks);
    const run = join(root, "masked");
    const r = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--run-dir",
      run,
      "--mask",
      maskFile,
      "--backend",
      "cpu",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const found = largestMasked(run, masks);
    assert.equal(found.files, 4, "checkpoints 0, 20, 40, 60");
    assert.ok(found.checked > 1000, `${found.checked} masked entries checked`);
    assert.equal(found.max, 0, "every masked weight and moment is exactly 0");
    // The kept weights moved, so the zeros are the mask's doing, not a frozen model.
    const first = readSafetensorsSync(join(run, "checkpoints", "step-00000000.safetensors")).byName.get("out.weight");
    const last = readSafetensorsSync(join(run, "checkpoints", "step-00000060.safetensors")).byName.get("out.weight");
    const moved = [...masks.get("out.weight")!.values].filter((k, i) => k === 1 && first!.data[i] !== last!.data[i]);
    assert.ok(moved.length > 150, `${moved.length} kept weights moved`);
    // The run folder carries its mask.
    assert.deepEqual(readMaskFile(join(run, "mask.safetensors")), masks);

    // Resume: a 40-step run extended to 60 trains as the 60-step one (constant lr), the mask read back from the folder.
    const cut = join(root, "cut");
    const r1 = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--run-dir",
      cut,
      "--mask",
      maskFile,
      "--steps",
      "40",
      "--backend",
      "cpu",
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    writeFileSync(join(cut, "run.json"), JSON.stringify({ ...readManifest(cut), totalSteps: 60, status: "stopped" }));
    const r2 = await runCli(["resume", cut, "--backend", "cpu"]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(largestMasked(cut, masks).max, 0);
    assert.deepEqual(withoutTime(metricsOf(cut)), withoutTime(metricsOf(run)));
    const final = "checkpoints/step-00000060.safetensors";
    assert.ok(readFileSync(join(cut, final)).equals(readFileSync(join(run, final))), "the same final checkpoint");
  });

  test("a masked branch of a dense run zeroes the parent's moments at the masked entries (Adam cannot revive them)", async () => {
    const root = tempDir("masks-branch");
    const maskFile = join(root, "half.safetensors");
    const masks = halfMask();
    writeMaskFile(maskFile, masks);
    const parent = join(root, "dense");
    const r0 = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", parent, "--backend", "wasm"]);
    assert.equal(r0.code, 0, r0.stderr);
    assert.ok(largestMasked(parent, masks).max > 0, "the dense parent has moments there");
    const branch = join(root, "ticket");
    const r1 = await runCli([
      "branch",
      parent,
      "--step",
      "20",
      "--mask",
      maskFile,
      "--run-dir",
      branch,
      "--backend",
      "wasm",
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    const found = largestMasked(branch, masks);
    assert.equal(found.files, 3, "checkpoints 20 (its own copy), 40, 60");
    assert.equal(found.max, 0);
    // A branch of the masked branch keeps its mask without being given one.
    const again = join(root, "again");
    const r2 = await runCli(["branch", branch, "--step", "40", "--run-dir", again, "--backend", "wasm"]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(readMaskFile(join(again, "mask.safetensors")), masks);
    assert.equal(largestMasked(again, masks).max, 0);
  });

  test("refusals: a mask of the wrong shape, --mask on another command", async () => {
    const root = tempDir("masks-refused");
    const maskFile = join(root, "half.safetensors");
    writeMaskFile(maskFile, halfMask());

    const wrong = join(root, "wrong.safetensors");
    writeMaskFile(wrong, new Map([["out.weight", { shape: [11, 32], values: new Float32Array(352).fill(1) }]]));
    const r1 = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--run-dir",
      join(root, "w"),
      "--mask",
      wrong,
      "--backend",
      "cpu",
    ]);
    assert.equal(r1.code, 1);
    assert.match(
      r1.stderr,
      /error \(usage\): .*wrong\.safetensors: mask "out\.weight" has shape \[11,32\], the parameter has \[32,11\]/,
    );

    const r2 = await runCli(["resume", join(root, "w"), "--mask", maskFile]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--mask applies to train and branch, not resume/);
  });
});

const { python, skip } = torchPython();
const py = python ?? "python3";
const torchArgs = ["--backend", "torch", "--device", "cpu", "--python", py, "--threads", "1"];
/** torchTrainer.test.ts's tolerance between the backends (argued in torchWorker.test.ts): float32 sums in another order. */
const ATOL = 1e-4;
const RTOL = 1e-3;

describe("masks on the torch backend", { skip }, () => {
  test("masked weights and moments stay exactly zero through steps and a resume; the weights agree with a cpu run", async () => {
    const root = tempDir("masks-torch");
    const maskFile = join(root, "half.safetensors");
    const masks = halfMask();
    writeMaskFile(maskFile, masks);
    const train = (run: string, backend: readonly string[], extra: readonly string[] = []) =>
      runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", run, "--mask", maskFile, ...extra, ...backend]);
    const torchRun = join(root, "torch");
    const cpuRun = join(root, "cpu");
    const [t, c] = await Promise.all([train(torchRun, torchArgs), train(cpuRun, ["--backend", "cpu"])]);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(readManifest(torchRun).backend.name, "torch");
    assert.deepEqual(readMaskFile(join(torchRun, "mask.safetensors")), masks);
    const found = largestMasked(torchRun, masks);
    assert.equal(found.files, 4, "checkpoints 0, 20, 40, 60");
    assert.ok(found.checked > 1000, `${found.checked} masked entries checked`);
    assert.equal(found.max, 0, "every masked weight and Adam moment is exactly 0 on torch");

    // The same masked training as on cpu (tfjs), within float32 tolerance; the kept weights moved.
    const final = "checkpoints/step-00000060.safetensors";
    const a = readSafetensorsSync(join(cpuRun, final));
    const b = readSafetensorsSync(join(torchRun, final));
    const start = readSafetensorsSync(join(cpuRun, "checkpoints/step-00000000.safetensors"));
    let worst = 0;
    let moved = 0;
    for (const ta of a.tensors) {
      if (ta.name.startsWith("optimizer/")) continue;
      const tb = b.byName.get(ta.name)!;
      const t0 = start.byName.get(ta.name)!;
      for (let i = 0; i < ta.data.length; i++) {
        const x = Number(ta.data[i]);
        worst = Math.max(worst, Math.abs(x - Number(tb.data[i])) / (ATOL + RTOL * Math.abs(x)));
        moved = Math.max(moved, Math.abs(x - Number(t0.data[i])));
      }
    }
    assert.ok(moved > 10 * ATOL, `the weights moved (${moved})`);
    assert.ok(worst <= 1, `worst |Δ| / tolerance between torch and cpu: ${worst}`);

    // A 40-step torch run extended to 60 and resumed on torch: the mask read back from its folder,
    // the zeros kept, and the uninterrupted run's final checkpoint byte for byte.
    const cut = join(root, "cut");
    const r1 = await train(cut, torchArgs, ["--steps", "40"]);
    assert.equal(r1.code, 0, r1.stderr);
    writeFileSync(join(cut, "run.json"), JSON.stringify({ ...readManifest(cut), totalSteps: 60, status: "stopped" }));
    const r2 = await runCli(["resume", cut, ...torchArgs]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(readManifest(cut).resumedFrom, [40]);
    assert.equal(largestMasked(cut, masks).max, 0, "zeros kept through the resume");
    assert.ok(readFileSync(join(cut, final)).equals(readFileSync(join(torchRun, final))), "the same final checkpoint");
  });

  test("a masked torch branch of a dense run zeroes the parent's moments at the masked entries", async () => {
    const root = tempDir("masks-torch-branch");
    const maskFile = join(root, "half.safetensors");
    const masks = halfMask();
    writeMaskFile(maskFile, masks);
    const parent = join(root, "dense");
    const r0 = await runCli(["train", tiny, "--system", "tinyAdd", "--run-dir", parent, ...torchArgs]);
    assert.equal(r0.code, 0, r0.stderr);
    assert.ok(largestMasked(parent, masks).max > 0, "the dense parent has weights and moments there");
    const branch = join(root, "ticket");
    const r1 = await runCli(["branch", parent, "--step", "20", "--mask", maskFile, "--run-dir", branch, ...torchArgs]);
    assert.equal(r1.code, 0, r1.stderr);
    const found = largestMasked(branch, masks);
    assert.equal(found.files, 3, "checkpoints 20, 40, 60");
    assert.equal(found.max, 0);
  });
});
