// The sweep folder (src/trainer/sweep/folder.ts): creation, statuses changed under the folder's
// lock (waiting for a live holder, taking over a dead one's), and the points still to run as
// their run folders tell it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { RunManifest, RunStatus } from "../../src/shared/runFormat";
import { parseSweepManifest } from "../../src/shared/sweepFormat";
import {
  createSweepFolder,
  loadSweep,
  pointsToRun,
  reconcile,
  SWEEP_LOCK,
  setPointStatus,
  sweepDirName,
} from "../../src/trainer/sweep/folder";
import { tempDir } from "../support";

const plan = {
  mode: "grid" as const,
  fields: ["model.hidden[0]"],
  seeds: [0],
  points: [8, 16, 32, 64, 128].map((w, index) => ({ index, values: { "model.hidden[0]": w }, seed: 0 })),
};

function newSweep(root: string) {
  return createSweepFolder({
    runsRoot: root,
    experiment: "/x/a.experiment.ts",
    system: "wide",
    plan,
    launcher: { kind: "local", parallel: 2 },
    steps: 40,
  });
}

function writeRun(dir: string, status: RunStatus, pid: number): void {
  mkdirSync(dir, { recursive: true });
  const m: RunManifest = {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "r",
    system: "wide",
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status,
    startedAt: "2026-12-03T10:00:00Z",
    updatedAt: "2026-12-03T10:00:00Z",
    pid,
    totalSteps: 40,
    step: 40,
    producer: "test",
  };
  writeFileSync(join(dir, "run.json"), JSON.stringify(m));
}

/** A process that is alive for `ms`, and its exit. */
function liveProcess(ms: number): { pid: number; exited: Promise<void> } {
  const child = spawn(process.execPath, ["-e", `setTimeout(() => {}, ${ms})`], { stdio: "ignore" });
  return { pid: child.pid ?? -1, exited: new Promise((r) => child.on("exit", () => r())) };
}

test("a new sweep folder: its name, every point pending, sweep.json valid; a second in the same second gets -2", (t) => {
  const root = tempDir(t);
  assert.equal(sweepDirName("wide", new Date("2026-12-03T10:15:07.123Z")), "wide-sweep-20261203-101507");
  const a = newSweep(root);
  assert.match(a.dir, /\/wide-sweep-\d{8}-\d{6}$/);
  const parsed = parseSweepManifest(readFileSync(join(a.dir, "sweep.json"), "utf8"));
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.manifest.points.map((p) => [p.run, p.status]),
    [
      ["0000", "pending"],
      ["0001", "pending"],
      ["0002", "pending"],
      ["0003", "pending"],
      ["0004", "pending"],
    ],
  );
  assert.equal(parsed.manifest.steps, 40);
  assert.equal(existsSync(join(a.dir, SWEEP_LOCK)), false, "the lock is released");
  // Same second (almost always): the next free name.
  const b = newSweep(root);
  assert.notEqual(b.dir, a.dir);
  if (b.dir.startsWith(a.dir)) assert.equal(b.dir, `${a.dir}-2`);
});

test("a status change waits for a live holder of the lock, then writes; a dead holder's lock is taken over", async (t) => {
  const { dir } = newSweep(tempDir(t));
  const holder = liveProcess(1500);
  writeFileSync(join(dir, SWEEP_LOCK), JSON.stringify({ pid: holder.pid, purpose: "sweep", since: "now" }));
  const t0 = Date.now();
  // Synchronous: returns once the holder is gone (its lock is then stale).
  setPointStatus(dir, [1, 3], "running");
  const waited = Date.now() - t0;
  await holder.exited;
  assert.ok(waited >= 800, `waited ${waited} ms for the live holder`);
  assert.deepEqual(
    loadSweep(dir).points.map((p) => p.status),
    ["pending", "running", "pending", "running", "pending"],
  );
  assert.equal(existsSync(join(dir, SWEEP_LOCK)), false);
});

test("the points still to run, and sweep.json reconciled with the run folders", async (t) => {
  const { dir } = newSweep(tempDir(t));
  const live = liveProcess(30_000);
  const dead = liveProcess(0);
  await dead.exited;
  writeRun(join(dir, "0000"), "finished", 1);
  writeRun(join(dir, "0001"), "diverged", 1);
  writeRun(join(dir, "0002"), "running", live.pid);
  writeRun(join(dir, "0003"), "running", dead.pid);
  // 0004: no run yet.
  try {
    assert.deepEqual(pointsToRun(dir), [3, 4]);
    assert.deepEqual(
      reconcile(dir).points.map((p) => p.status),
      ["finished", "diverged", "running", "failed", "pending"],
    );
  } finally {
    process.kill(live.pid);
  }
});
