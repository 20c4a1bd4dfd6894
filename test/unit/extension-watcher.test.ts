// RunRootWatcher against real folders with chokidar (no `vscode`): a run root that does not exist
// at start-up, then appears with a run that finishes at once, must still deliver a change after the
// run's last write (the race where the restarted watcher lost the final run.json update); plus the
// classification of run-folder paths, including the analyses/ part.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { writeFileAtomicSync } from "../../src/shared/atomicFile";
import { classify, type RunFolderChange, RunRootWatcher } from "../../src/extension/watcher";
import { tempDir } from "../support";

const DEBOUNCE_MS = 50;
/** Long enough for chokidar (fs.watch) to have delivered everything, short of flakiness. */
const QUIET_MS = 1500;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function manifestText(status: string, step: number): string {
  return JSON.stringify({
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "r",
    system: "s",
    status,
    step,
    totalSteps: 10,
  });
}

function statusOf(runDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8")) as { status: string }).status;
  } catch {
    return undefined;
  }
}

interface Seen {
  at: number;
  change: RunFolderChange;
  /** What a consumer reading run.json on this change sees. */
  status: string | undefined;
}

function record(w: RunRootWatcher): Seen[] {
  const seen: Seen[] = [];
  w.onDidChange((changes) => {
    const at = Date.now();
    for (const change of changes) seen.push({ at, change, status: statusOf(change.runDir) });
  });
  return seen;
}

// The run finishes `finishAfterMs` after its root appears: 0..~300 ms covers the window in which
// the old watcher (on the parent) was closed and the new one (on the root) was not yet ready.
for (const finishAfterMs of [0, 15, 40, 80, 150, 300]) {
  test(`watcher: a missing root that appears with a run finished ${finishAfterMs} ms later delivers the final run.json`, {
    timeout: 20_000,
  }, async (t) => {
    const parent = tempDir(t);
    const root = path.join(parent, "runs");
    const w = new RunRootWatcher(DEBOUNCE_MS, (m) => assert.fail(m));
    t.after(() => w.dispose());
    const seen = record(w);
    w.setRoots([root]);
    await w.whenReady();

    const runDir = path.join(root, "grok-1");
    fs.mkdirSync(path.join(runDir, "checkpoints"), { recursive: true });
    writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("running", 0));
    if (finishAfterMs > 0) await sleep(finishAfterMs);
    fs.appendFileSync(path.join(runDir, "metrics.jsonl"), '{"step":10}\n');
    writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("finished", 10));
    const lastWrite = Date.now();
    await sleep(QUIET_MS);

    const mine = seen.filter((s) => s.change.runDir === runDir);
    assert.ok(mine.length > 0, "no change delivered for the run at all");
    const last = mine[mine.length - 1]!;
    assert.ok(last.at >= lastWrite, `last change came ${lastWrite - last.at} ms before the last write`);
    assert.equal(last.status, "finished");
    assert.equal(last.change.removed, false);
    assert.ok(
      mine.some((s) => s.change.manifest),
      "no manifest change",
    );
    assert.ok(
      mine.some((s) => s.change.metrics),
      "no metrics change",
    );
  });
}

// chokidar drops a `change` within 50 ms of the previous one for the same file and never emits it
// later. A trainer writes run.json at its last checkpoint and, a few ms later, as finished. When the
// batch timer (started by an earlier write) fires between those two writes, the flush reads
// run.json before the final write and chokidar never reports that write: the run stayed "running".
// The watcher's trailing check must report it.
for (const gapMs of [20, 30, 40]) {
  test(`watcher: run.json rewritten ${gapMs} ms after a reported write, across a flush, still delivers the final state`, {
    timeout: 20_000,
  }, async (t) => {
    const root = tempDir(t);
    const runDir = path.join(root, "fast");
    fs.mkdirSync(runDir);
    writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("running", 0));
    const debounceMs = 150;
    const w = new RunRootWatcher(debounceMs, (m) => assert.fail(m));
    t.after(() => w.dispose());
    const seen = record(w);
    w.setRoots([root]);
    await w.whenReady();
    await sleep(300);
    // t = 0: starts the batch timer (flush at ~150); t ≈ 135: reported (outside the 50 ms
    // throttle); t ≈ 135 + gap: after the flush, inside the throttle of the previous write.
    writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("running", 1));
    await sleep(debounceMs - 15);
    writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("running", 2));
    await sleep(gapMs);
    writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("finished", 10));
    const lastWrite = Date.now();
    await sleep(QUIET_MS);
    const mine = seen.filter((s) => s.change.runDir === runDir);
    assert.ok(mine.length > 0, "no change delivered");
    const last = mine[mine.length - 1]!;
    assert.equal(
      last.status,
      "finished",
      `the last delivered change (${last.at - lastWrite} ms after the last write) read ${String(last.status)}`,
    );
    assert.ok(last.change.manifest);
  });
}

test("watcher: a root created between setRoots and the parent watcher being ready is still picked up", {
  timeout: 20_000,
}, async (t) => {
  const parent = tempDir(t);
  const root = path.join(parent, "runs");
  const w = new RunRootWatcher(DEBOUNCE_MS, (m) => assert.fail(m));
  t.after(() => w.dispose());
  const seen = record(w);
  w.setRoots([root]);
  const runDir = path.join(root, "a");
  fs.mkdirSync(runDir, { recursive: true });
  writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("finished", 10));
  await w.whenReady();
  await sleep(QUIET_MS);
  const mine = seen.filter((s) => s.change.runDir === runDir);
  assert.ok(mine.length > 0, "the run in the root that appeared early was never reported");
  assert.equal(mine[mine.length - 1]!.status, "finished");
});

test("watcher: a present root reports run.json, metrics, checkpoints, analyses and removal", {
  timeout: 20_000,
}, async (t) => {
  const root = tempDir(t);
  const runDir = path.join(root, "a");
  fs.mkdirSync(runDir);
  writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("running", 0));
  const w = new RunRootWatcher(DEBOUNCE_MS, (m) => assert.fail(m));
  t.after(() => w.dispose());
  const seen = record(w);
  w.setRoots([root]);
  await w.whenReady();
  await sleep(300);
  seen.length = 0;

  const flagsAfter = async (act: () => void): Promise<RunFolderChange> => {
    const from = seen.length;
    act();
    await sleep(600);
    const got = seen.slice(from).filter((s) => s.change.runDir === runDir);
    assert.ok(got.length > 0, "no change");
    // Merge: debouncing may split one action over two deliveries.
    return got
      .map((s) => s.change)
      .reduce((a, b) => ({
        runDir,
        manifest: a.manifest || b.manifest,
        metrics: a.metrics || b.metrics,
        checkpoints: a.checkpoints || b.checkpoints,
        analyses: a.analyses || b.analyses,
        removed: b.removed,
      }));
  };
  const m = await flagsAfter(() => writeFileAtomicSync(path.join(runDir, "run.json"), manifestText("running", 5)));
  assert.deepEqual([m.manifest, m.analyses, m.removed], [true, false, false]);
  const mt = await flagsAfter(() => fs.appendFileSync(path.join(runDir, "metrics.jsonl"), "{}\n"));
  assert.deepEqual([mt.metrics, mt.manifest, mt.analyses], [true, false, false]);
  const an = await flagsAfter(() => {
    fs.mkdirSync(path.join(runDir, "analyses", "hessian", "step-10"), { recursive: true });
    writeFileAtomicSync(path.join(runDir, "analyses", "hessian", "step-10", "spectrum.json"), "{}");
  });
  assert.deepEqual([an.analyses, an.manifest, an.metrics], [true, false, false]);
  const rm = await flagsAfter(() => fs.rmSync(runDir, { recursive: true }));
  assert.equal(rm.removed, true);
});

test("watcher: paths under a run root map to their run folder and part (analyses at any depth)", () => {
  const root = path.join(path.sep, "w", "runs");
  const a = path.join(root, "a");
  const nested = path.join(root, "sweep", "b");
  assert.deepEqual(classify(root, path.join(a, "analyses")), { runDir: a, part: "analyses" });
  assert.deepEqual(classify(root, path.join(a, "analyses", "x.json")), { runDir: a, part: "analyses" });
  assert.deepEqual(classify(root, path.join(a, "analyses", "hessian", "step-1", "deep", "x.json")), {
    runDir: a,
    part: "analyses",
  });
  assert.deepEqual(classify(root, path.join(a, "analyses", "hessian", ".x.json.1.ab.tmp")), {
    runDir: a,
    part: "other",
  });
  // An analyses file named like a run part is still an analysis, not a nested run's manifest.
  assert.deepEqual(classify(root, path.join(a, "analyses", "run.json")), { runDir: a, part: "analyses" });
  assert.deepEqual(classify(root, path.join(nested, "analyses", "k", "x.json")), { runDir: nested, part: "analyses" });
  assert.deepEqual(classify(root, path.join(nested, "analyses")), { runDir: nested, part: "analyses" });
  assert.deepEqual(classify(root, path.join(nested, "run.json")), { runDir: nested, part: "manifest" });
  assert.deepEqual(classify(root, path.join(a, "notes.txt")), { runDir: a, part: "other" });
});

test("watcher: past maxWatchedRuns the roots are polled, said once; changes, new runs and removals still arrive", {
  timeout: 30_000,
}, async (t) => {
  const root = tempDir(t);
  const runs = ["a", "b", "c"].map((n) => path.join(root, n));
  for (const r of runs) {
    fs.mkdirSync(r);
    fs.writeFileSync(path.join(r, "run.json"), manifestText("running", 1));
  }
  const notices: string[] = [];
  const w = new RunRootWatcher(DEBOUNCE_MS, (m) => assert.fail(m), {
    maxWatchedRuns: 2,
    pollMs: 100,
    notice: (m) => notices.push(m),
  });
  t.after(() => w.dispose());
  const seen = record(w);
  w.setRoots([root]);
  await w.whenReady();
  assert.equal(w.polling, true);
  assert.equal(notices.length, 1);
  assert.match(notices[0] ?? "", /polled .* instead of watched: 3 runs under the run roots, more than 2/);
  await sleep(300);
  seen.length = 0;

  fs.writeFileSync(path.join(runs[0]!, "run.json"), manifestText("finished", 10));
  const d = path.join(root, "group", "d");
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, "run.json"), manifestText("running", 0));
  fs.rmSync(runs[1]!, { recursive: true });
  const deadline = Date.now() + 10_000;
  const has = (dir: string, pred: (s: Seen) => boolean): boolean =>
    seen.some((s) => s.change.runDir === dir && pred(s));
  while (
    Date.now() < deadline &&
    !(
      has(runs[0]!, (s) => s.status === "finished") &&
      has(d, (s) => s.change.manifest) &&
      has(runs[1]!, (s) => s.change.removed)
    )
  )
    await sleep(50);
  assert.ok(
    has(runs[0]!, (s) => s.change.manifest && s.status === "finished"),
    "the changed run.json",
  );
  assert.ok(
    has(d, (s) => s.change.manifest && !s.change.removed),
    "the new run in a group",
  );
  assert.ok(
    has(runs[1]!, (s) => s.change.removed),
    "the removed run",
  );
  // Rewatching (a rescan) does not say it again.
  w.setRoots([root]);
  await w.whenReady();
  assert.equal(notices.length, 1);
});

test("watcher: what changed after `since` (while the run index scanned, before the roots were watched) is reported once ready", {
  timeout: 20_000,
}, async (t) => {
  const root = tempDir(t);
  const old = path.join(root, "old");
  const changed = path.join(root, "changed");
  for (const dir of [old, changed]) {
    fs.mkdirSync(dir);
    writeFileAtomicSync(path.join(dir, "run.json"), manifestText("finished", 10));
  }
  const now = Date.now();
  // The scan began 6 s ago; "changed" was rewritten 5 s ago, "old" an hour ago.
  fs.utimesSync(path.join(old, "run.json"), new Date(now - 3_600_000), new Date(now - 3_600_000));
  fs.utimesSync(path.join(changed, "run.json"), new Date(now - 5_000), new Date(now - 5_000));
  const w = new RunRootWatcher(DEBOUNCE_MS, (m) => assert.fail(m));
  t.after(() => w.dispose());
  const seen = record(w);
  w.setRoots([root], 2, now - 6_000);
  await w.whenReady();
  await sleep(300);
  assert.deepEqual(
    [...new Set(seen.filter((s) => s.change.manifest).map((s) => path.basename(s.change.runDir)))],
    ["changed"],
  );
});
