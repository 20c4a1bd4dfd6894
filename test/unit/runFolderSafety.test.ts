// Writes stay inside the run folder, and a checkpoint's header is checked before its data is read:
// a planted `checkpoints` symlink is refused by train and resume alike, and a checkpoint whose
// header declares shapes the run's model does not have is skipped without reading its tensors.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { encodeSafetensors } from "../../src/shared/safetensors";
import { CheckpointError, readCheckpointParams } from "../../src/trainer/analyzer/runAccess";
import { UsageError } from "../../src/trainer/errors";
import { RunFolder } from "../../src/trainer/runFolder";
import { tempDir } from "../support";

function linkedCheckpoints(root: string): { run: string; outside: string } {
  const run = path.join(root, "run");
  const outside = path.join(root, "outside");
  fs.mkdirSync(run);
  fs.mkdirSync(outside);
  fs.symlinkSync(outside, path.join(run, "checkpoints"));
  return { run, outside };
}

test("train and resume refuse a checkpoints/ that is a symbolic link, and write nothing through it", (t) => {
  const { run, outside } = linkedCheckpoints(tempDir(t));
  for (const open of [() => new RunFolder(run).create("train"), () => new RunFolder(run).lock("resume")]) {
    assert.throws(
      open,
      (e: unknown) =>
        e instanceof UsageError &&
        /checkpoints is a symbolic link \(to .*outside\); the trainer writes only inside the run folder/.test(
          e.message,
        ),
    );
  }
  assert.deepEqual(fs.readdirSync(outside), []);
  assert.deepEqual(fs.readdirSync(run), ["checkpoints"], "no lock and no run.json left behind");
});

test("a checkpoint whose header disagrees with the run's first checkpoint is refused before its data is read", (t) => {
  const dir = tempDir(t);
  const reference = new Map([["w", { shape: [2, 3], values: new Float32Array(6) }]]);
  const good = path.join(dir, "good.safetensors");
  fs.writeFileSync(
    good,
    encodeSafetensors([
      { name: "w", dtype: "F32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: "optimizer/w.m", dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
    ]),
  );
  const read = readCheckpointParams(good, reference);
  assert.deepEqual([...read.keys()], ["w"], "optimizer state is not read");
  assert.deepEqual([...read.get("w")!.values], [1, 2, 3, 4, 5, 6]);

  // A header declaring 1.9 GB for "w" over a sparse file: refused from the header alone.
  const huge = path.join(dir, "huge.safetensors");
  const header = Buffer.from(
    JSON.stringify({ w: { dtype: "F32", shape: [475_000_000], data_offsets: [0, 1_900_000_000] } }),
  );
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  fs.writeFileSync(huge, Buffer.concat([prefix, header]));
  fs.truncateSync(huge, 8 + header.length + 1_900_000_000);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => readCheckpointParams(huge, reference),
    (e: unknown) => e instanceof CheckpointError && /"w" has shape \[475000000\], expected \[2, 3\]/.test(e.message),
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, "nothing near the declared size was allocated");

  const renamed = path.join(dir, "renamed.safetensors");
  fs.writeFileSync(renamed, encodeSafetensors([{ name: "v", dtype: "F32", shape: [2, 3], data: new Float32Array(6) }]));
  assert.throws(() => readCheckpointParams(renamed, reference), /a parameter "v" that the run's model does not/);
});
