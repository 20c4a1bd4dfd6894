// Masks in runs (docs/lottery-tickets.md): a masked weight is zero in every checkpoint, its
// optimizer moments too (Adam's cannot revive it), through a resume and a branch from a dense
// checkpoint; the mask travels in the run folder; torch refuses masks with a clear message.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { join } from "node:path";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { type MaskSet, readMaskFile, writeMaskFile } from "../../src/trainer/masks";
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

  test("refusals: torch, a mask of the wrong shape, --mask on another command", async () => {
    const root = tempDir("masks-refused");
    const maskFile = join(root, "half.safetensors");
    writeMaskFile(maskFile, halfMask());
    const r0 = await runCli([
      "train",
      tiny,
      "--system",
      "tinyAdd",
      "--run-dir",
      join(root, "t"),
      "--mask",
      maskFile,
      "--backend",
      "torch",
    ]);
    assert.equal(r0.code, 1);
    assert.match(r0.stderr, /masks are not supported on --backend torch yet; use wasm or cpu/);
    assert.equal(r0.stdout, "");

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

    const r2 = await runCli(["resume", join(root, "t"), "--mask", maskFile]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--mask applies to train and branch, not resume/);
  });
});
