// The analyzer pool against the real sidecar on a real run folder: coalescing, untrusted
// workspaces (weights only, no experiment code), failures reported with the sidecar's message.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { type AnalyzerState, AnalyzerPool, analysisDue } from "../../src/extension/analyzers";
import type { RunEntry } from "../../src/extension/runIndex";
import type { RunFolderChange } from "../../src/extension/watcher";
import type { Log } from "../../src/extension/supervisor";
import { readAnalysis } from "../../src/shared/analysisFormat";
import { repoRoot } from "../support";

const quiet: Log = { info: () => {}, warn: () => {}, error: () => {}, trace: () => {} };
const root = repoRoot();
const sidecar = path.join(root, "dist", "trainer", "sidecar.js");

function tinyRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pool-"));
  const file = path.join(dir, "tiny.experiment.ts");
  // A file that logs when it is loaded: an untrusted workspace must never load it.
  fs.writeFileSync(
    file,
    `${fs.readFileSync(path.join(root, "test", "fixtures", "experiments", "tiny.experiment.ts"), "utf8")}\nrequire("node:fs").writeFileSync(${JSON.stringify(path.join(dir, "loaded"))}, "yes");\n`,
  );
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, "dist", "trainer", "cli.js"),
      "train",
      file,
      "--system",
      "tinyAdd",
      "--out",
      path.join(dir, "runs"),
      "--backend",
      "cpu",
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  fs.rmSync(path.join(dir, "loaded"));
  return r.stdout.trim();
}

function pool(
  trusted: boolean,
  maxConcurrent = 1,
): { pool: AnalyzerPool; states: AnalyzerState[]; done: (runDir: string) => Promise<AnalyzerState> } {
  const states: AnalyzerState[] = [];
  const p = new AnalyzerPool({
    launch: () => ({ node: process.execPath, electronRunAsNode: false, sidecar, cwd: root }),
    log: quiet,
    maxConcurrent: () => maxConcurrent,
    startTimeoutMs: 60_000,
    // Trusted: the run's own experiment file (tinyRun puts it two folders above the run).
    experimentFile: (runDir) =>
      trusted ? path.join(path.dirname(path.dirname(runDir)), "tiny.experiment.ts") : undefined,
  });
  p.onDidChange((s) => states.push(s));
  const done = (runDir: string) =>
    new Promise<AnalyzerState>((resolve) => {
      const sub = p.onDidChange((s) => {
        if (
          s.runDir === runDir &&
          (s.kind === "finished" || s.kind === "failed" || s.kind === "stopped") &&
          !isBusy(p, runDir)
        ) {
          sub.dispose();
          resolve(s);
        }
      });
    });
  return { pool: p, states, done };
}

function isBusy(p: AnalyzerPool, runDir: string): boolean {
  return (p as unknown as { running: Map<string, unknown> }).running.has(runDir);
}

test("untrusted: the weight-space analysis runs and the experiment file is never loaded", {
  timeout: 120_000,
}, async () => {
  const runDir = tinyRun();
  const { pool: p, done } = pool(false);
  const finished = done(runDir);
  p.request({ runDir });
  const state = await finished;
  assert.equal(state.kind, "finished");
  assert.equal(readAnalysis(runDir, "weights")!.records.length, 4);
  assert.equal(
    fs.existsSync(path.join(path.dirname(path.dirname(runDir)), "loaded")),
    false,
    "experiment code ran in an untrusted workspace",
  );
  p.dispose();
});

test("requests while a run is analysed are coalesced into one more pass", { timeout: 120_000 }, async () => {
  const runDir = tinyRun();
  const { pool: p, states } = pool(false);
  let passes = 0;
  p.onDidChange((s) => s.runDir === runDir && s.kind === "running" && s.last === undefined && passes++);
  const settled = new Promise<void>((resolve) => {
    const check = () => (states.filter((s) => s.kind === "finished").length === 2 ? resolve() : undefined);
    p.onDidChange(check);
  });
  for (let i = 0; i < 5; i++) p.request({ runDir });
  await settled;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(
    passes === 2,
    `expected 2 passes, saw ${passes}: ${JSON.stringify(states.map((s) => s.kind + ("last" in s && s.last ? s.last.step : "")))}`,
  );
  const finishes = states.filter((s) => s.kind === "finished") as Extract<AnalyzerState, { kind: "finished" }>[];
  assert.equal(finishes[0]!.records, 8, "4 checkpoints × the two checkpoint analyses (weights, conservation)");
  assert.equal(finishes[finishes.length - 1]!.records, 0, "the second pass finds nothing left to do");
  p.dispose();
});

test("a failing analysis reports the analyzer's own message", { timeout: 120_000 }, async () => {
  const runDir = tinyRun();
  const { pool: p, done } = pool(true);
  const finished = done(runDir);
  p.request({ runDir, overrides: { kernel: { probeSize: 1 } } });
  const state = await finished;
  assert.equal(state.kind, "failed");
  assert.match(
    state.kind === "failed" ? state.message : "",
    /analyses\.kernel\.probeSize must be an integer in \[2, 4096\]/,
  );
  // Settings asked for once stay with the run: a later plain request (new checkpoints) uses them.
  const again = done(runDir);
  p.request({ runDir });
  const second = await again;
  assert.match(second.kind === "failed" ? second.message : "", /probeSize must be an integer/);
  p.dispose();
});

test("analysisDue: new checkpoints of a run not trained here, and once more when a run ends", () => {
  const change = (parts: Partial<RunFolderChange>): RunFolderChange => ({
    runDir: "/r/a",
    manifest: false,
    metrics: false,
    checkpoints: false,
    analyses: false,
    removed: false,
    ...parts,
  });
  const entry = (status: RunEntry["status"]): RunEntry => ({ status }) as Pick<RunEntry, "status"> as RunEntry;
  assert.equal(analysisDue(change({ checkpoints: true }), undefined, false), true);
  // This window trains it: the analyzer follows it already.
  assert.equal(analysisDue(change({ checkpoints: true }), undefined, true), false);
  assert.equal(analysisDue(change({ checkpoints: true, removed: true }), undefined, false), false);
  // run.json rewritten: only a run that has ended calls for a pass (the last checkpoints).
  assert.equal(analysisDue(change({ manifest: true }), entry("running"), false), false);
  for (const s of ["finished", "failed", "diverged", "stopped"] as const)
    assert.equal(analysisDue(change({ manifest: true }), entry(s), false), true, s);
  assert.equal(analysisDue(change({ manifest: true }), entry("invalid"), false), false);
  assert.equal(analysisDue(change({ metrics: true }), undefined, false), false);
  assert.equal(analysisDue(change({ manifest: true }), entry("finished"), true), false);
});

test("an analyzer that does not start in time is tried again, twice, then the run is marked failed", {
  timeout: 60_000,
}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pool-slow-"));
  // A sidecar that never says ready (a machine too busy to start it in time); starts are counted
  // at launch (under load the process may be killed before its first line runs).
  const slow = path.join(dir, "slow-sidecar.js");
  fs.writeFileSync(slow, "setTimeout(() => {}, 20000);\n");
  let starts = 0;
  const launch = () => {
    starts++;
    return { node: process.execPath, electronRunAsNode: false, sidecar: slow, cwd: dir };
  };
  const warnings: string[] = [];
  const p = new AnalyzerPool({
    launch,
    log: { ...quiet, warn: (m) => warnings.push(m) },
    maxConcurrent: () => 1,
    startTimeoutMs: 300,
    startRetryMs: 100,
    experimentFile: () => undefined,
  });
  const runDir = path.join(dir, "run");
  const failed = new Promise<AnalyzerState>((resolve) => p.onDidChange((s) => s.kind === "failed" && resolve(s)));
  p.request({ runDir });
  const state = await failed;
  assert.equal(state.kind, "failed");
  assert.match(state.kind === "failed" ? state.message : "", /did not start within/);
  assert.equal(starts, 3, "the first try and two more");
  assert.equal(warnings.filter((w) => /trying again in/.test(w)).length, 2);
  p.dispose();

  // stop() cancels a retry that is waiting: no further start, the run is stopped.
  starts = 0;
  const q = new AnalyzerPool({
    launch,
    log: quiet,
    maxConcurrent: () => 1,
    startTimeoutMs: 300,
    startRetryMs: 2000,
    experimentFile: () => undefined,
  });
  const waiting = new Promise<void>((resolve) =>
    q.onDidChange((s) => s.kind === "queued" && starts === 1 && resolve()),
  );
  q.request({ runDir });
  await waiting;
  q.stop(runDir);
  assert.equal(q.state(runDir)?.kind, "stopped");
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(starts, 1, "no retry after stop");
  q.dispose();
});
