import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { RunIndex } from "../../src/extension/runIndex";
import type { RunManifest } from "../../src/shared/runFormat";
import { tempDir } from "../support";

function manifest(over: Partial<RunManifest> = {}): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "modAdd-20250601T120000Z-0001",
    system: "modAdd",
    experiment: { path: "/exp/grokking.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: "finished",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:01:00.000Z",
    totalSteps: 100,
    step: 100,
    producer: "test",
    ...over,
  };
}

function writeRun(dir: string, m: RunManifest | string): string {
  fs.mkdirSync(path.join(dir, "checkpoints"), { recursive: true });
  fs.writeFileSync(path.join(dir, "run.json"), typeof m === "string" ? m : JSON.stringify(m));
  return dir;
}

test("scan finds runs directly under a root and one level deeper, never inside a run", async (t) => {
  const root = tempDir(t);
  writeRun(path.join(root, "a"), manifest({ id: "a" }));
  writeRun(path.join(root, "sweep", "b"), manifest({ id: "b", startedAt: "2025-06-02T00:00:00.000Z" }));
  writeRun(path.join(root, "a", "checkpoints", "nested"), manifest({ id: "nested" })); // inside a run: not a run
  writeRun(path.join(root, "x", "y", "z"), manifest({ id: "too-deep" }));
  fs.writeFileSync(path.join(root, "notes.txt"), "");
  const index = new RunIndex([root, path.join(root, "missing-root")]);
  assert.deepEqual(await index.scan(), { kind: "done", runs: 2 });
  assert.deepEqual(
    index
      .all()
      .map((e) => e.folderName)
      .sort(),
    ["a", "b"],
  );
  const b = index.get(path.join(root, "sweep", "b"));
  assert.equal(b?.status, "finished");
  assert.equal(b?.root, root);
});

test("invalid or corrupt run.json gives an invalid entry with the problem, never a throw", async (t) => {
  const root = tempDir(t);
  writeRun(path.join(root, "corrupt"), '{"format": "learning-mechanics/run", ');
  writeRun(path.join(root, "empty"), "");
  writeRun(path.join(root, "wrong"), JSON.stringify({ ...manifest(), status: "exploded", step: "ten" }));
  writeRun(path.join(root, "newer"), JSON.stringify({ ...manifest(), formatVersion: 2 }));
  writeRun(path.join(root, "noexp"), JSON.stringify({ ...manifest(), experiment: null }));
  const index = new RunIndex([root]);
  assert.deepEqual(await index.scan(), { kind: "done", runs: 5 });
  const problems = Object.fromEntries(index.invalid().map((e) => [e.folderName, e.problem]));
  assert.match(problems["corrupt"] as string, /^run\.json is not valid JSON: /);
  assert.equal(problems["empty"], "run.json is empty");
  assert.equal(
    problems["wrong"],
    "run.json: status must be one of running, finished, failed, diverged, stopped; step must be a number",
  );
  assert.equal(problems["newer"], "run.json: formatVersion 2 is newer than this reader (1)");
  assert.equal(problems["noexp"], "run.json: experiment.path must be a string");
  assert.deepEqual(index.groups(), []);
});

test("groups by experiment then system, newest first; latest; update and remove", async (t) => {
  const root = tempDir(t);
  const e1 = "/exp/one.experiment.ts";
  const e2 = "/exp/two.experiment.ts";
  writeRun(
    path.join(root, "r1"),
    manifest({ id: "r1", experiment: { path: e1, sha256: "" }, system: "b", startedAt: "2025-01-01T00:00:00Z" }),
  );
  writeRun(
    path.join(root, "r2"),
    manifest({ id: "r2", experiment: { path: e1, sha256: "" }, system: "b", startedAt: "2025-03-01T00:00:00Z" }),
  );
  writeRun(
    path.join(root, "r3"),
    manifest({ id: "r3", experiment: { path: e1, sha256: "" }, system: "a", startedAt: "2025-02-01T00:00:00Z" }),
  );
  writeRun(
    path.join(root, "r4"),
    manifest({ id: "r4", experiment: { path: e2, sha256: "" }, system: "a", startedAt: "not a date" }),
  );
  writeRun(
    path.join(root, "r5"),
    manifest({ id: "r5", experiment: { path: e2, sha256: "" }, system: "a", startedAt: "2024-01-01T00:00:00Z" }),
  );
  const index = new RunIndex([root]);
  await index.scan();
  const shape = index.groups().map((g) => ({
    exp: g.experimentPath,
    systems: g.systems.map((s) => [s.system, s.runs.map((r) => r.manifest.id)]),
  }));
  assert.deepEqual(shape, [
    {
      exp: path.resolve(e1),
      systems: [
        ["a", ["r3"]],
        ["b", ["r2", "r1"]],
      ],
    },
    { exp: path.resolve(e2), systems: [["a", ["r5", "r4"]]] },
  ]);
  assert.equal(index.latest(e1, "b")?.manifest.id, "r2");
  assert.equal(index.latest(e1, "zzz"), undefined);

  // A new run appears (watcher: its run.json created), then is rewritten with a new status.
  const r6 = writeRun(
    path.join(root, "r6"),
    manifest({
      id: "r6",
      experiment: { path: e1, sha256: "" },
      system: "b",
      status: "running",
      startedAt: "2025-04-01T00:00:00Z",
    }),
  );
  assert.equal(index.update(r6)?.status, "running");
  assert.equal(index.latest(e1, "b")?.manifest.id, "r6");
  fs.writeFileSync(
    path.join(r6, "run.json"),
    JSON.stringify(
      manifest({
        id: "r6",
        experiment: { path: e1, sha256: "" },
        system: "b",
        status: "diverged",
        startedAt: "2025-04-01T00:00:00Z",
      }),
    ),
  );
  assert.equal(index.update(path.join(r6, "run.json"))?.status, "diverged"); // the run.json path works too
  assert.equal(index.latest(e1, "b")?.status, "diverged");

  // Deleted: update on a folder without run.json removes it; remove() drops a folder and what is below.
  fs.rmSync(r6, { recursive: true });
  assert.equal(index.update(r6), undefined);
  assert.equal(index.latest(e1, "b")?.manifest.id, "r2");
  assert.equal(index.remove(root), 5);
  assert.equal(index.size, 0);
  assert.deepEqual(index.groups(), []);
});

test("5,000 runs: scan, group and look up (timed, not asserted)", async (t) => {
  const root = tempDir(t);
  const n = 5000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    // 10 experiments × 5 systems, half of the runs inside sweep folders.
    const dir = i % 2 === 0 ? path.join(root, `run-${i}`) : path.join(root, `sweep-${i % 7}`, `run-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const started = new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString();
    fs.writeFileSync(
      path.join(dir, "run.json"),
      JSON.stringify(
        manifest({
          id: `run-${i}`,
          system: `s${i % 5}`,
          experiment: { path: `/exp/e${i % 10}.experiment.ts`, sha256: "" },
          startedAt: started,
        }),
      ),
    );
  }
  const tCreate = performance.now() - t0;
  const index = new RunIndex([root]);
  const t1 = performance.now();
  assert.deepEqual(await index.scan(), { kind: "done", runs: n });
  const tScan = performance.now() - t1;
  const t2 = performance.now();
  const groups = index.groups();
  const tGroups = performance.now() - t2;
  assert.equal(groups.length, 10);
  assert.equal(
    groups.reduce((a, g) => a + g.systems.reduce((b, s) => b + s.runs.length, 0), 0),
    n,
  );
  // e9 holds runs i ≡ 9 (mod 10), system s4 (i ≡ 4 mod 5): the newest is i = 4999.
  const t3 = performance.now();
  for (let k = 0; k < 1000; k++) index.latest("/exp/e9.experiment.ts", "s4");
  const tLatest = performance.now() - t3;
  assert.equal(index.latest("/exp/e9.experiment.ts", "s4")?.manifest.id, "run-4999");
  const t4 = performance.now();
  index.update(path.join(root, "run-0"));
  index.groups();
  const tUpdate = performance.now() - t4;
  t.diagnostic(
    `5,000 runs: created in ${tCreate.toFixed(0)} ms; scan ${tScan.toFixed(0)} ms; groups ${tGroups.toFixed(1)} ms; 1,000 latest() ${tLatest.toFixed(1)} ms; update + regroup ${tUpdate.toFixed(1)} ms`,
  );
});

/** Writes `n` runs under `root`, a third of them one level deeper (sweep folders). */
function writeRuns(root: string, n: number, prefix = "run"): string[] {
  const dirs: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = i % 3 === 0 ? path.join(root, `sweep-${i % 5}`, `${prefix}-${i}`) : path.join(root, `${prefix}-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, "run.json"),
      JSON.stringify(
        manifest({
          id: `${prefix}-${i}`,
          system: `s${i % 4}`,
          startedAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
        }),
      ),
    );
    dirs.push(dir);
  }
  return dirs;
}

test("scan of 3,000 runs never blocks the event loop for long, fills the index as it goes, and indexes every run", async (t) => {
  const root = tempDir(t);
  const n = 3000;
  writeRuns(root, n);
  const index = new RunIndex([root]);
  // A ticker on the event loop: how often it got a turn during the scan, and its longest wait.
  let ticks = 0;
  let longestGap = 0;
  let scanning = true;
  let last = performance.now();
  const ticker = (): void => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
    ticks++;
    if (scanning) setImmediate(ticker);
  };
  setImmediate(ticker);
  const seenDuring: number[] = [];
  const t0 = performance.now();
  const result = await index.scan({ progressMs: 0, onProgress: (indexed) => seenDuring.push(indexed, index.size) });
  const total = performance.now() - t0;
  scanning = false;
  t.diagnostic(
    `${n} runs scanned in ${total.toFixed(0)} ms; event loop turns ${ticks}, longest wait ${longestGap.toFixed(1)} ms (${((100 * longestGap) / total).toFixed(1)} % of the scan)`,
  );
  assert.deepEqual(result, { kind: "done", runs: n });
  assert.equal(index.all().length, n);
  assert.equal(
    index.groups().reduce((a, g) => a + g.systems.reduce((b, s) => b + s.runs.length, 0), 0),
    n,
  );
  // Synchronous, the whole scan was one wait (ratio 1, a turn or none); sliced, the loop turns
  // after every batch, and no wait is more than a small part of the scan.
  assert.ok(ticks >= n / 64 / 2, `the event loop turned ${ticks} times during the scan of ${n} runs`);
  assert.ok(
    longestGap / total < 0.25,
    `the event loop waited ${longestGap.toFixed(0)} ms of a ${total.toFixed(0)} ms scan`,
  );
  // Runs were in the index while the scan went on, growing.
  assert.ok(seenDuring.length >= 4, `progress reported ${seenDuring.length / 2} times`);
  const counts = seenDuring.filter((_, i) => i % 2 === 0);
  assert.ok(
    counts.some((c) => c > 0 && c < n),
    `progress counts ${counts.slice(0, 5).join(", ")}…`,
  );
  for (let i = 0; i < seenDuring.length; i += 2)
    assert.equal(seenDuring[i + 1], seenDuring[i], "what progress reports is in the index");
  assert.deepEqual(
    counts,
    [...counts].sort((a, b) => a - b),
  );
});

test("rescan in place: old entries stay until the scan ends, then the vanished ones go; update and remove during a scan win over it", async (t) => {
  const root = tempDir(t);
  const dirs = writeRuns(root, 400);
  const index = new RunIndex([root]);
  await index.scan();
  assert.equal(index.size, 400);

  // Between scans: one run deleted, one added.
  fs.rmSync(dirs[1] as string, { recursive: true });
  const added = writeRun(path.join(root, "added"), manifest({ id: "added" }));
  let sizeAtFirstProgress: number | undefined;
  const changed = dirs[2] as string;
  const removed = dirs[4] as string;
  const scan = index.scan({
    progressMs: 0,
    onProgress: () => {
      if (sizeAtFirstProgress !== undefined) return;
      sizeAtFirstProgress = index.size;
      // While the scan goes on: one run changes on disk (the watcher says so), one folder is
      // deleted (the Runs view's Delete): the scan, which may read them later, must not undo that.
      fs.writeFileSync(path.join(changed, "run.json"), JSON.stringify(manifest({ id: "changed", status: "diverged" })));
      assert.equal(index.update(changed)?.status, "diverged");
      fs.rmSync(removed, { recursive: true });
      assert.equal(index.remove(removed), 1);
    },
  });
  assert.deepEqual(await scan, { kind: "done", runs: 400 - 1 + 1 - 1 });
  assert.ok(
    sizeAtFirstProgress !== undefined && sizeAtFirstProgress >= 400,
    `the index held ${sizeAtFirstProgress} runs during the rescan`,
  );
  assert.equal(index.get(dirs[1] as string), undefined, "a run deleted before the rescan is gone after it");
  assert.equal(index.get(added)?.status, "finished");
  const c = index.get(changed);
  assert.equal(c?.status === "invalid" ? c.problem : c?.manifest.id, "changed");
  assert.equal(index.get(removed), undefined);
});

test("a newer scan or cancelScan supersedes the scan under way", async (t) => {
  const root = tempDir(t);
  writeRuns(root, 300);
  const index = new RunIndex([root]);
  const first = index.scan();
  const second = index.scan();
  assert.deepEqual(await first, { kind: "superseded" });
  assert.deepEqual(await second, { kind: "done", runs: 300 });
  const third = index.scan();
  index.cancelScan();
  assert.deepEqual(await third, { kind: "superseded" });
  assert.equal(index.size, 300, "a cancelled rescan leaves what the index held");
});

test("scan: a run.json that is a folder is not a run (its folder may hold runs one level deeper); a symlinked run folder is a run", async (t) => {
  const root = tempDir(t);
  writeRun(path.join(root, "group", "inner"), manifest({ id: "inner" }));
  fs.mkdirSync(path.join(root, "group", "run.json"));
  const elsewhere = tempDir(t);
  writeRun(path.join(elsewhere, "linked"), manifest({ id: "linked" }));
  fs.symlinkSync(path.join(elsewhere, "linked"), path.join(root, "link"));
  const index = new RunIndex([root]);
  assert.deepEqual(await index.scan(), { kind: "done", runs: 2 });
  assert.deepEqual(
    index
      .all()
      .map((e) => (e.status === "invalid" ? e.problem : e.manifest.id))
      .sort(),
    ["inner", "linked"],
  );
});

test("a run without `experiment` (a notebook, a REPL) is valid, grouped last with no path; latestOfExperiment", async (t) => {
  const root = tempDir(t);
  const { experiment: _dropped, ...notebook } = manifest({ id: "nb", system: "mlp" });
  writeRun(path.join(root, "nb"), JSON.stringify(notebook));
  writeRun(
    path.join(root, "script-old"),
    manifest({ id: "s1", system: "mlp", experiment: { path: "/w/train.py", sha256: "sha256:0" } }),
  );
  writeRun(
    path.join(root, "script-new"),
    manifest({
      id: "s2",
      system: "other",
      experiment: { path: "/w/train.py", sha256: "sha256:0" },
      startedAt: "2025-06-03T00:00:00.000Z",
    }),
  );
  writeRun(path.join(root, "ts"), manifest({ id: "ts" }));
  const index = new RunIndex([root]);
  await index.scan();
  const nb = index.get(path.join(root, "nb"));
  assert.equal(nb?.status, "finished", nb?.status === "invalid" ? nb.problem : "");
  assert.deepEqual(index.invalid(), []);
  assert.deepEqual(
    index.groups().map((g) => [g.experimentPath, g.systems.map((s) => s.runs.map((r) => r.manifest.id))]),
    [
      ["/exp/grokking.experiment.ts", [["ts"]]],
      ["/w/train.py", [["s1"], ["s2"]]],
      [undefined, [["nb"]]],
    ],
  );
  // A script names its runs itself: its newest run over every system name.
  assert.equal(index.latestOfExperiment("/w/train.py")?.manifest.id, "s2");
  assert.equal(index.latestOfExperiment("/w/none.py"), undefined);
});
