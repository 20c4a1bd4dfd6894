// readOptimizerSlot (src/trainer/analyzer/runAccess.ts): the sharpness analysis's one read of
// optimizer state. It returns Adam's second moments and t from a checkpoint the trainer wrote, and
// nothing — without reading tensor bytes — when the slot is absent, incomplete or shaped unlike
// the parameters.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readCheckpointParams, readOptimizerSlot } from "../../src/trainer/analyzer/runAccess";
import { RunFolder } from "../../src/trainer/runFolder";
import { tempDir } from "../support";

const params = [
  { name: "w", shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) },
  { name: "b", shape: [2], values: Float32Array.from([5, 6]) },
];

async function write(
  t: { after: (fn: () => void) => void },
  slots: { name: string; shape: number[]; values: Float32Array }[] | undefined,
) {
  const dir = tempDir(t);
  mkdirSync(join(dir, "checkpoints"));
  const folder = new RunFolder(dir);
  const { path } = await folder.writeCheckpointValues(7, params, slots ? { t: 7, slots } : undefined, undefined);
  return path;
}

test("Adam's v and t from a checkpoint; none when absent, incomplete or misshaped", async (t) => {
  const v = [
    { name: "v/w", shape: [2, 2], values: Float32Array.from([0.1, 0.2, 0.3, 0.4]) },
    { name: "v/b", shape: [2], values: Float32Array.from([0.5, 0.6]) },
    { name: "m/w", shape: [2, 2], values: Float32Array.from([9, 9, 9, 9]) },
    { name: "m/b", shape: [2], values: Float32Array.from([9, 9]) },
  ];
  const good = await write(t, v);
  const expected = readCheckpointParams(good);
  const slot = readOptimizerSlot(good, "v", expected)!;
  assert.equal(slot.t, 7);
  assert.deepEqual(Array.from(slot.values.get("w")!), Array.from(Float32Array.from([0.1, 0.2, 0.3, 0.4])));
  assert.deepEqual(Array.from(slot.values.get("b")!), Array.from(Float32Array.from([0.5, 0.6])));
  assert.equal(readOptimizerSlot(good, "momentum", expected), undefined, "SGD's slot is not there");
  assert.equal(readOptimizerSlot(await write(t, undefined), "v", expected), undefined, "no optimizer state");
  assert.equal(readOptimizerSlot(await write(t, v.slice(0, 1)), "v", expected), undefined, "v of one parameter only");
  const misshaped = [{ ...v[0]!, shape: [4], values: v[0]!.values }, v[1]!];
  assert.equal(
    readOptimizerSlot(await write(t, misshaped), "v", expected),
    undefined,
    "a shape unlike the parameter's",
  );
});
