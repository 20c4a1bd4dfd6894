// `lm instability` through the real CLI on a tiny system: two branches per k with different data
// orders (child `lm branch` processes), lmc between them, barrier against k in instability.json.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { join } from "node:path";
import type { InstabilityRecord } from "../../src/trainer/instability";
import type { LmcRecord } from "../../src/shared/lmcFormat";
import { FIXTURES, readManifest, runCli, tempDir } from "./harness";

test("lm instability: branches at each k with two data orders, the barrier of each pair; a second run reuses them", async () => {
  const root = tempDir("instability");
  const parent = join(root, "parent");
  const file = join(FIXTURES, "lmc.experiment.ts");
  const r0 = await runCli(["train", file, "--system", "mlpA", "--run-dir", parent, "--backend", "cpu"]);
  assert.equal(r0.code, 0, r0.stderr);

  const bad = await runCli(["instability", parent, "--at", "0,15", "--backend", "cpu"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /has no checkpoint of step 15; its checkpoints: 0, 10, 20, 30, 40, 50, 60/);
  const same = await runCli(["instability", parent, "--at", "0", "--data-seeds", "3,3"]);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /--data-seeds must be two different seeds/);

  const r = await runCli(["instability", parent, "--at", "30,0", "--points", "5", "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  const out = join(root, "parent-instability");
  assert.equal(r.stdout.trim(), out);
  assert.match(
    r.stderr,
    /barrier height against k\n +k +train_loss +train_error +test_loss +test_error\n +0 .*\n +30 /,
  );
  const rec = JSON.parse(readFileSync(join(out, "instability.json"), "utf8")) as InstabilityRecord;
  assert.equal(rec.parent, "../parent");
  assert.deepEqual(
    rec.points.map((p) => [p.k, p.branches, p.lmc]),
    [
      [0, ["k0-seed1", "k0-seed2"], "lmc-k0.json"],
      [30, ["k30-seed1", "k30-seed2"], "lmc-k30.json"],
    ],
  );
  for (const p of rec.points) {
    for (const [i, name] of p.branches.entries()) {
      const m = readManifest(join(out, name));
      assert.equal(m.status, "finished");
      assert.equal(m.step, 60);
      assert.deepEqual(m.branchOf, { run: "../../parent", runId: "parent", step: p.k, change: { dataSeed: i + 1 } });
    }
    const lmc = JSON.parse(readFileSync(join(out, p.lmc), "utf8")) as LmcRecord;
    assert.equal(lmc.points.length, 5);
    assert.deepEqual(p.barrier, lmc.barrier);
    assert.ok(p.barrier.train_loss! >= 0);
  }

  const again = await runCli(["instability", parent, "--at", "0", "--points", "5", "--backend", "cpu"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /k = 0: .*k0-seed1 is already trained/);
});
