// `lm instability --parallel N` through the real CLI: the same instability.json (and lmc files)
// with one child at a time and with two; a Ctrl-C stops every running branch (each ends
// "stopped", resumable) and leaves no child behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { LmcRecord } from "../../src/shared/lmcFormat";
import type { InstabilityRecord } from "../../src/trainer/instability";
import { CLI, FIXTURES, readManifest, ROOT, runCli, tempDir } from "./harness";

const file = join(FIXTURES, "lmc.experiment.ts");

function read<T>(p: string): T {
  return JSON.parse(readFileSync(p, "utf8")) as T;
}

test("lm instability: --parallel 1 and --parallel 2 write the same barriers and curves", async () => {
  const root = tempDir("instability-parallel");
  const parent = join(root, "parent");
  const r0 = await runCli(["train", file, "--system", "mlpA", "--run-dir", parent, "--backend", "cpu"]);
  assert.equal(r0.code, 0, r0.stderr);
  const outs = [join(root, "one"), join(root, "two")];
  for (const [i, out] of outs.entries()) {
    const r = await runCli([
      "instability",
      parent,
      "--at",
      "30,0",
      "--points",
      "5",
      "--backend",
      "cpu",
      "--parallel",
      String(i + 1),
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), out);
  }
  const [one, two] = outs.map((o) => read<InstabilityRecord>(join(o, "instability.json")));
  assert.deepEqual(
    one!.points.map((p) => p.k),
    [0, 30],
  );
  assert.deepEqual(two!.points, one!.points, "the same k, branches, files and barriers");
  assert.ok(one!.points.every((p) => p.barrier.train_loss !== undefined));
  for (const p of one!.points) {
    const [a, b] = outs.map((o) => read<LmcRecord>(join(o, p.lmc)));
    assert.deepEqual(b!.points, a!.points, `lmc-k${p.k}: the same values at every α`);
  }
  const bad = await runCli(["instability", parent, "--at", "0", "--parallel", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--parallel must be an integer ≥ 1, got "0"/);
});

/** Processes whose command line mentions `text` (Linux /proc). */
function processesWith(text: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n)))
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text)) out.push(Number(pid));
    } catch {
      // ended meanwhile
    }
  return out;
}

test("lm instability --parallel 2: Ctrl-C stops both running branches (stopped, resumable) and leaves no child", {
  skip: process.platform !== "linux" ? "reads /proc" : false,
}, async () => {
  const root = tempDir("instability-sigint");
  const parent = join(root, "parent");
  const r0 = await runCli(["train", file, "--system", "mlpLong", "--run-dir", parent, "--backend", "cpu"]);
  assert.equal(r0.code, 0, r0.stderr);
  const out = join(root, "inst");
  const child = spawn(
    process.execPath,
    [CLI, "instability", parent, "--at", "0", "--parallel", "2", "--backend", "cpu", "--out", out],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  const branches = [join(out, "k0-seed1"), join(out, "k0-seed2")];
  const running = () =>
    branches.every((d) => existsSync(join(d, "metrics.jsonl")) && readManifest(d).status === "running");
  const deadline = Date.now() + 120_000;
  while (!running()) {
    assert.ok(Date.now() < deadline, `both branches never ran together:\n${stderr}`);
    assert.equal(child.exitCode, null, `ended before both branches ran:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(processesWith(out).length >= 3, "the command and its two branches");
  child.kill("SIGINT");
  const code = await closed;
  assert.equal(code, 1, stderr);
  assert.match(stderr, /stopping the instability analysis/);
  assert.match(stderr, /run this again to continue/);
  for (const d of branches) assert.equal(readManifest(d).status, "stopped", `${d} stopped gracefully`);
  assert.deepEqual(processesWith(out), [], "no child left running");
  assert.ok(!existsSync(join(out, "instability.json")), "no k finished");
});
