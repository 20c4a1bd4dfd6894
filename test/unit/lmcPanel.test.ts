// The LMC panel's host side, without vscode: the lmc and instability files validated field by
// field (a corrupt or hostile file is a problem naming it, the rest still shown), the panel data
// built from a run folder and its instability folder, the session posting it, and a new file
// sent on refresh.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { LmcContent, lmcFollows } from "../../src/extension/panels/lmcPanel";
import { PanelSession, type SessionHost } from "../../src/extension/panels/panelSession";
import {
  INSTABILITY_FORMAT,
  type InstabilityRecord,
  LMC_FORMAT,
  type LmcRecord,
  parseInstabilityRecord,
  parseLmcRecord,
} from "../../src/shared/lmcFormat";
import { readLmcFolder } from "../../src/shared/lmcView";
import {
  chord,
  isLmcHostMessage,
  isLmcWebviewMessage,
  type LmcHostMessage,
  type LmcState,
} from "../../src/shared/panels/lmc";
import { tempDir } from "../support";

function lmcRecord(aId: string, bId: string, mid: number, over: Partial<LmcRecord> = {}): LmcRecord {
  const alphas = [0, 0.25, 0.5, 0.75, 1];
  return {
    format: LMC_FORMAT,
    formatVersion: 1,
    a: { run: ".", runId: aId, step: 600 },
    b: { run: `../${bId}`, runId: bId, step: 600 },
    points: alphas.map((alpha) => ({
      alpha,
      train_loss: 0.02 + mid * Math.sin(Math.PI * alpha),
      train_error: 0.4 * Math.sin(Math.PI * alpha),
      test_loss: 3 + mid * Math.sin(Math.PI * alpha),
      test_error: 0.9,
    })),
    barrier: { train_loss: mid, train_error: 0.4, test_loss: mid, test_error: 0 },
    backend: "cpu",
    createdAt: "2026-12-03T12:00:00.000Z",
    ...over,
  };
}

function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function instability(ks: number[]): InstabilityRecord {
  return {
    format: INSTABILITY_FORMAT,
    formatVersion: 1,
    parent: "../run-a",
    parentId: "run-a",
    dataSeeds: [1, 2],
    points: ks.map((k) => ({
      k,
      branches: [`k${k}-seed1`, `k${k}-seed2`],
      lmc: `lmc-k${k}.json`,
      barrier: { train_loss: 0.01 / (1 + k), train_error: 0, test_loss: 0.02 / (1 + k), test_error: 0.01 },
    })),
  };
}

function recorder(): SessionHost<LmcState> & { posted: unknown[]; warnings: string[] } {
  const posted: unknown[] = [];
  const warnings: string[] = [];
  return {
    posted,
    warnings,
    post: (m) => posted.push(m),
    warn: (w) => warnings.push(w),
    stateChanged: () => {},
    saveExport: () => {},
    rerun: () => {},
    openRun: () => {},
    openSweep: () => {},
  };
}

test("parseLmcRecord: the trainer's record passes; each broken field is named; null (a non-finite value) is a gap", () => {
  const good = lmcRecord("a", "b", 1.4);
  const ok = parseLmcRecord(JSON.stringify(good));
  assert.ok(ok.ok);
  assert.deepEqual(ok.value, good);
  const withNull = structuredClone(good) as unknown as { points: Record<string, unknown>[] };
  withNull.points[2]!["train_loss"] = null;
  assert.ok(parseLmcRecord(JSON.stringify(withNull)).ok);

  const bad = {
    ...good,
    format: "x",
    a: { run: 1, runId: "a", step: -1 },
    points: [{ alpha: 0, train_loss: "0.1" }, { alpha: 0.5 }, { alpha: 0.4, train_loss: 1 }],
    barrier: { train_loss: "high", accuracy: 1 },
  };
  const r = parseLmcRecord(JSON.stringify(bad));
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [
    'format: expected "learning-mechanics/lmc"',
    "a.run: expected a string",
    "a.step: expected a whole number",
    "points[0].train_loss: expected a number or null",
    "points[1].train_loss: missing",
    "points[2].alpha: expected a number in [0, 1] above the previous one",
    "points[2].alpha: expected 1",
    "barrier.train_loss: expected a finite number",
    'barrier: unknown quantity "accuracy"',
  ]);
  const notJson = parseLmcRecord("{ truncated");
  assert.ok(!notJson.ok);
  assert.match(notJson.problems[0]!, /^not JSON: /);
  const arr = parseLmcRecord("[1,2]");
  assert.ok(!arr.ok);
  assert.deepEqual(arr.problems, ["expected a JSON object"]);
});

test("parseInstabilityRecord: the trainer's record passes; broken fields are named", () => {
  const good = instability([0, 25]);
  const ok = parseInstabilityRecord(JSON.stringify(good));
  assert.ok(ok.ok);
  const r = parseInstabilityRecord(
    JSON.stringify({ ...good, dataSeeds: [1], points: [{ k: -1, branches: ["x"], lmc: 3, barrier: {} }] }),
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [
    "dataSeeds: expected two integers",
    "points[0].k: expected a whole number",
    "points[0].branches: expected two folder names",
    "points[0].lmc: expected a file name",
  ]);
});

test("readLmcFolder: a run's lmc files and its instability folder beside it, as curves and barrier against k", (t) => {
  const root = tempDir(t);
  const run = path.join(root, "run-a");
  mkdirSync(run);
  writeJson(path.join(run, "lmc", "600--run-b--600.json"), lmcRecord("run-a", "run-b", 1.43));
  writeJson(path.join(run, "lmc", "600--run-a--600.json"), lmcRecord("run-a", "run-a", 0));
  const inst = path.join(root, "run-a-instability");
  writeJson(path.join(inst, "instability.json"), instability([100, 0]));
  writeJson(path.join(inst, "lmc-k0.json"), lmcRecord("k0-seed1", "k0-seed2", 0.004));
  writeJson(path.join(inst, "lmc-k100.json"), lmcRecord("k100-seed1", "k100-seed2", 0.0005));

  const v = readLmcFolder(run);
  assert.deepEqual(v.problems, []);
  assert.deepEqual(v.notes, []);
  assert.deepEqual(
    v.curves.map((c) => [c.label, c.source, c.colorIndex, c.k]),
    [
      ["run-a @ 600 ↔ run-a @ 600", "lmc/600--run-a--600.json", 0, undefined],
      ["run-a @ 600 ↔ run-b @ 600", "lmc/600--run-b--600.json", 1, undefined],
      ["k = 0 (data seeds 1, 2)", path.join("..", "run-a-instability", "lmc-k0.json"), 2, 0],
      ["k = 100 (data seeds 1, 2)", path.join("..", "run-a-instability", "lmc-k100.json"), 3, 100],
    ],
  );
  const pair = v.curves[1]!;
  assert.deepEqual(pair.alpha, [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(pair.values.train_loss?.[2], 0.02 + 1.43);
  assert.equal(pair.barrier.train_loss, 1.43);
  assert.deepEqual(
    v.instability?.points.map((p) => [p.k, p.barrier.train_loss]),
    [
      [0, 0.01],
      [100, 0.01 / 101],
    ],
  );
  assert.equal(v.instability?.parentId, "run-a");
  const msg: LmcHostMessage = { type: "init", curves: v.curves, instability: v.instability, notes: v.notes };
  assert.ok(isLmcHostMessage(JSON.parse(JSON.stringify(msg))), "what the host posts passes the page's guard");

  // Opened on the instability folder itself: its curves, no lmc/ of its own.
  const own = readLmcFolder(inst);
  assert.deepEqual(
    own.curves.map((c) => c.source),
    ["lmc-k0.json", "lmc-k100.json"],
  );
});

test("readLmcFolder: corrupt and hostile files are problems naming the file; the readable ones are still shown", (t) => {
  const root = tempDir(t);
  const run = path.join(root, "run-a");
  const lmc = path.join(run, "lmc");
  writeJson(path.join(lmc, "1--good--1.json"), lmcRecord("run-a", "good", 0.5));
  writeFileSync(path.join(lmc, "2--cut--2.json"), '{"format": "learning-mechanics/lmc", "points": [');
  writeJson(path.join(lmc, "3--wrong--3.json"), { ...lmcRecord("run-a", "w", 1), formatVersion: 7 });
  execFileSync("mkfifo", [path.join(lmc, "4--fifo--4.json")]);
  symlinkSync("/dev/zero", path.join(lmc, "5--zero--5.json"));
  writeFileSync(path.join(lmc, ".6--tmp.json.tmp"), "partial");
  const inst = path.join(root, "run-a-instability");
  writeJson(path.join(inst, "instability.json"), {
    ...instability([0, 5]),
    points: [{ ...instability([0]).points[0], lmc: "../run-a/lmc/1--good--1.json" }, { ...instability([5]).points[0] }],
  });

  const started = Date.now();
  const v = readLmcFolder(run);
  assert.ok(Date.now() - started < 2000, "a FIFO is refused at once, not waited on");
  assert.deepEqual(
    v.curves.map((c) => c.label),
    ["run-a @ 600 ↔ good @ 600"],
  );
  assert.equal(v.problems.length, 6, v.problems.join("\n"));
  assert.match(v.problems[0]!, /2--cut--2\.json: not JSON: /);
  assert.match(v.problems[1]!, /3--wrong--3\.json: formatVersion: expected 1, got 7$/);
  assert.match(v.problems[2]!, /4--fifo--4\.json: .*a FIFO/);
  assert.match(v.problems[3]!, /5--zero--5\.json: .*character device/);
  assert.match(
    v.problems[4]!,
    /instability\.json: k = 0: lmc "\.\.\/run-a\/lmc\/1--good--1\.json" is not a file name in its folder; not read$/,
  );
  assert.match(v.problems[5]!, /lmc-k5\.json: .*ENOENT|lmc-k5\.json: .*no such file/);
  for (const p of v.problems) assert.doesNotMatch(p, /\n|at .*\.js:\d+/, "a message, never a stack");
  assert.deepEqual(
    v.instability?.points.map((p) => p.k),
    [0, 5],
  );
});

test("readLmcFolder: an lmc/ that is a link is not followed; a run with nothing says how to get it", (t) => {
  const root = tempDir(t);
  const elsewhere = path.join(root, "elsewhere");
  writeJson(path.join(elsewhere, "1--x--1.json"), lmcRecord("a", "x", 1));
  const run = path.join(root, "run-a");
  mkdirSync(run);
  symlinkSync(elsewhere, path.join(run, "lmc"));
  const v = readLmcFolder(run);
  assert.deepEqual(v.curves, []);
  assert.deepEqual(v.problems, [`${path.join(run, "lmc")}: not a folder (a link is not followed)`]);

  const empty = path.join(root, "run-b");
  mkdirSync(empty);
  const e = readLmcFolder(empty);
  assert.deepEqual(e.problems, []);
  assert.match(e.notes[0]!, /^No interpolation yet: run "Learning Mechanics: Linear Mode Connectivity with…"/);
});

test("readLmcFolder: a regression task (no error) says loss is shown", (t) => {
  const run = path.join(tempDir(t), "run-a");
  const rec = lmcRecord("a", "b", 1);
  const points = rec.points.map(({ alpha, train_loss }) => ({ alpha, train_loss }));
  writeJson(path.join(run, "lmc", "1--b--1.json"), { ...rec, points, barrier: { train_loss: 1 } });
  const v = readLmcFolder(run);
  assert.deepEqual(Object.keys(v.curves[0]!.values), ["train_loss"]);
  assert.deepEqual(v.notes, ["No error (1 − accuracy): the task is not a classification; loss is shown."]);
});

test("LmcContent in a session: ready posts an init the page accepts, problems as the error; a new lmc file is sent on refresh", (t) => {
  const root = tempDir(t);
  const run = path.join(root, "run-a");
  writeJson(path.join(run, "lmc", "1--b--1.json"), lmcRecord("run-a", "b", 1));
  writeFileSync(path.join(run, "lmc", "2--c--2.json"), "not json");
  const host = recorder();
  const session = new PanelSession<LmcState, Exclude<LmcHostMessage, { type: "error" }>>(
    "Mode connectivity",
    new LmcContent(run),
    isLmcWebviewMessage,
    host,
    { measure: "loss" },
  );
  session.receive({ type: "ready" });
  assert.equal(host.posted.length, 2);
  const init = host.posted[0];
  assert.ok(isLmcHostMessage(init) && init.type === "init");
  assert.equal(init.curves.length, 1);
  assert.deepEqual(init.state, { measure: "loss" });
  assert.deepEqual(host.posted[1], {
    type: "error",
    message: `${path.join(run, "lmc", "2--c--2.json")}: not JSON: ${(() => {
      try {
        JSON.parse("not json");
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })()}`,
  });

  writeJson(path.join(run, "lmc", "3--d--3.json"), lmcRecord("run-a", "d", 2));
  session.refresh(run);
  const again = host.posted[2];
  assert.ok(isLmcHostMessage(again) && again.type === "init");
  assert.deepEqual(
    again.curves.map((c) => c.label),
    ["run-a @ 600 ↔ b @ 600", "run-a @ 600 ↔ d @ 600"],
  );
});

test("lmcFollows: the run folder and its instability folder beside it, nothing else", () => {
  assert.ok(lmcFollows("/r/run-a", "/r/run-a"));
  assert.ok(lmcFollows("/r/run-a", "/r/run-a-instability"));
  assert.ok(!lmcFollows("/r/run-a", "/r/run-b"));
  assert.ok(!lmcFollows("/r/run-a", "/r/run-a-instability/k0-seed1"));
});

test("chord: f(0) + α(f(1) − f(0)); no chord without both ends; guards refuse malformed messages", () => {
  assert.deepEqual(chord([0, 0.5, 1], [1, 5, 3]), [1, 2, 3]);
  assert.deepEqual(chord([0, 0.5, 1], [null, 5, 3]), [null, null, null]);
  const curve = {
    id: "f",
    label: "x",
    source: "s",
    colorIndex: 0,
    alpha: [0, 1],
    values: { train_loss: [1, 2] },
    barrier: {},
  };
  assert.ok(isLmcHostMessage({ type: "init", curves: [curve], instability: null, notes: [] }));
  assert.ok(
    !isLmcHostMessage({
      type: "init",
      curves: [{ ...curve, values: { train_loss: [1] } }],
      instability: null,
      notes: [],
    }),
  );
  assert.ok(
    !isLmcHostMessage({
      type: "init",
      curves: [{ ...curve, values: { accuracy: [1, 2] } }],
      instability: null,
      notes: [],
    }),
  );
  assert.ok(
    !isLmcHostMessage({
      type: "init",
      curves: [],
      instability: { parentId: "p", source: ".", dataSeeds: [1], points: [] },
      notes: [],
    }),
  );
  assert.ok(isLmcWebviewMessage({ type: "stateChanged", state: { measure: "loss" } }));
  assert.ok(!isLmcWebviewMessage({ type: "stateChanged", state: { measure: "accuracy" } }));
});
