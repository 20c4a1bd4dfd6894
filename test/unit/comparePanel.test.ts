// The intervention panels' host side without vscode (docs/interventions.md, "Intervene and check"):
// intervention.json and calibration/*.json checked field by field (a corrupt file is a problem
// naming it, the rest still shown), the verdict with its signs in words, the branch and its parent
// from the branch point on, the calibration's newest file; the Influence panel's calibrate request
// routed to the host; and the values the Remove-and-retrain and Calibrate flows ask for.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  calibrateArgs,
  interveneArgs,
  parseFraction,
  parseMoveStep,
  parseStepInterval,
  parseSubsets,
  parseWeight,
} from "../../src/extension/interventions";
import { CalibrationContent, CompareContent, calibrationFollows } from "../../src/extension/panels/comparePanel";
import { InfluenceContent } from "../../src/extension/panels/influencePanel";
import { PanelSession, type SessionHost } from "../../src/extension/panels/panelSession";
import { RunIndex } from "../../src/extension/runIndex";
import type { CalibrationRecord, InterventionRecord } from "../../src/shared/interventionFormat";
import { comparisonSentences, parseInterventionRecord } from "../../src/shared/interventionView";
import {
  type CompareHostMessage,
  isCompareHostMessage,
  isCompareWebviewMessage,
} from "../../src/shared/panels/compare";
import { type InfluenceState, isInfluenceWebviewMessage } from "../../src/shared/panels/influence";
import type { RunManifest } from "../../src/shared/runFormat";
import { tempDir } from "../support";

const XSS = `<img src=x onerror="alert(1)">`;

function manifest(id: string, over: Partial<RunManifest> = {}): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id,
    system: "s",
    experiment: { path: "/exp/a.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: "finished",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:01:00.000Z",
    totalSteps: 400,
    step: 400,
    producer: "test",
    ...over,
  };
}

function record(over: Partial<InterventionRecord> = {}): InterventionRecord {
  return {
    format: "learning-mechanics/intervention",
    formatVersion: 1,
    parent: "../parent",
    step: 200,
    change: {
      kind: "intervention",
      action: { kind: "remove" },
      examples: [1, 5],
      selection: { kind: "topProponents", count: 2, from: 100, to: 200 },
    },
    query: "64 test examples",
    steps: [200, 300, 400],
    parentQueryLoss: [1, 0.6, 0.5],
    branchQueryLoss: [1, 0.62, 0.53],
    actual: [0, 0.02, 0.03],
    tracin: { steps: [200, 300, 400], change: [0, 0.018, 0.025], method: "TracIn summed" },
    notes: [],
    createdAt: "2026-12-03T15:00:00.000Z",
    ...over,
  };
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
}

function metricsLines(steps: number[], loss: (s: number) => number): string {
  return `${steps.map((step) => JSON.stringify({ step, time: step, train_loss: loss(step), test_acc: 0.5 })).join("\n")}\n`;
}

/** A parent trained to 400 and a branch from 200 with intervention.json. */
function runs(root: string, rec: unknown = record()): { parent: string; branch: string } {
  const parent = path.join(root, "parent");
  const branch = path.join(root, "branch");
  writeJson(path.join(parent, "run.json"), manifest("parent"));
  writeJson(
    path.join(parent, "metrics.jsonl"),
    metricsLines([0, 100, 200, 300, 400], (s) => 2 - s / 400),
  );
  writeJson(
    path.join(branch, "run.json"),
    manifest(XSS, {
      branchOf: { run: "../parent", runId: "parent", step: 200, change: record().change },
    }),
  );
  writeJson(
    path.join(branch, "metrics.jsonl"),
    metricsLines([300, 400], (s) => 2.1 - s / 400),
  );
  if (rec !== undefined) writeJson(path.join(branch, "intervention.json"), rec);
  return { parent, branch };
}

function init(content: { init(s: undefined): { messages: unknown[]; problems?: string[] } }): {
  msg: Extract<CompareHostMessage, { type: "init" }>;
  problems: string[];
} {
  const u = content.init(undefined);
  const msg = u.messages[0];
  assert.ok(isCompareHostMessage(msg) && msg.type === "init", "the init passes the page's guard");
  return { msg, problems: u.problems ?? [] };
}

test("parseInterventionRecord: the trainer's file passes; a wrong field is named", () => {
  const ok = parseInterventionRecord(JSON.stringify(record()));
  assert.ok(typeof ok !== "string");
  assert.deepEqual(ok.actual, [0, 0.02, 0.03]);
  assert.equal(
    parseInterventionRecord(JSON.stringify(record({ actual: [0, 1] }))),
    `"actual" must be 3 numbers, one per step`,
  );
  assert.match(String(parseInterventionRecord("{")), /^not JSON \(.+\)$/);
  assert.equal(
    parseInterventionRecord(JSON.stringify({ format: "x" })),
    `"format" is not "learning-mechanics/intervention"`,
  );
  const badAction = { ...record(), change: { ...record().change, action: { kind: "explode" } } };
  assert.equal(
    parseInterventionRecord(JSON.stringify(badAction)),
    "change.action must be an object whose kind is remove, upweight, moveFrom or moveBefore",
  );
  assert.equal(
    parseInterventionRecord(JSON.stringify({ ...record(), tracin: { steps: [1], change: "x", method: "m" } })),
    `"tracin" must be { steps, change, method }`,
  );
  // A NaN the trainer met is a JSON null: a gap, not a refusal.
  const nulls = parseInterventionRecord(JSON.stringify(record({ actual: [0, 0.02, Number.NaN] })));
  assert.ok(typeof nulls !== "string");
  assert.deepEqual(nulls.actual, [0, 0.02, null]);
});

test("comparisonSentences: what happened with its sign, each prediction's sign against it, why, and the notes", () => {
  const r = parseInterventionRecord(JSON.stringify(record({ notes: ["Adam is not modelled"] })));
  assert.ok(typeof r !== "string");
  assert.deepEqual(comparisonSentences(r), [
    "At step 400, with these 2 examples removed, the query loss (64 test examples) is higher than the parent's: branch − parent = +0.0300, so the intervention made the query worse.",
    "TracIn predicted +0.0250 (a rise) at step 400: the sign is right, and the size is 0.83× the actual change.",
    "TracIn scores an example positive (a proponent) when the steps on it lowered the query loss, negative (an opponent) when they raised it. Removing proponents should raise the query loss (change > 0); removing opponents should lower it (change < 0).",
    "Note: Adam is not modelled",
  ]);
  const wrong = parseInterventionRecord(
    JSON.stringify(
      record({
        change: { ...record().change, action: { kind: "moveBefore", step: 300 } },
        actual: [0, 0, -0.004],
        tracin: { steps: [200, 300, 400], change: [0, 0, 0.01], method: "m" },
        bif: { steps: [400], change: [-2e-5], method: "BIF" },
      }),
    ),
  );
  assert.ok(typeof wrong !== "string");
  const s = comparisonSentences(wrong);
  assert.equal(
    s[0],
    "At step 400, with these 2 examples shown only before step 300, the query loss (64 test examples) is lower than the parent's: branch − parent = −0.0040, so the intervention made the query better.",
  );
  assert.equal(s[1], "TracIn predicted +0.0100 (a rise) at step 400: the sign is wrong (the query loss fell).");
  assert.equal(
    s[2],
    "The BIF predicted −2.00e-5 (a fall) at step 400: the sign is right, and the size is 0.0050× the actual change.",
  );
  assert.match(s[3]!, /Shown only before step 300, the branch trains as the parent did until step 300/);
  assert.match(s[4]!, /^The BIF predicts the end state of a tempered posterior/);
});

test("the intervention panel: both runs from the branch step, the query loss, actual and predicted change, the sentences", (t) => {
  const root = tempDir(t);
  const { parent, branch } = runs(root);
  const { msg, problems } = init(new CompareContent({ runIndex: new RunIndex([root]) }, branch));
  assert.deepEqual(problems, []);
  assert.deepEqual(msg.notes, []);
  const v = msg.view;
  assert.ok(v?.kind === "branch");
  assert.deepEqual([v.parent.runId, v.parent.label, v.branch.runId, v.branch.label], [parent, "parent", branch, XSS]);
  assert.equal(v.branchStep, 200);
  assert.equal(
    v.change,
    "2 examples (1, 5) removed, TracIn's top 2 proponents summed over steps 100–200, branched at step 200",
  );
  assert.deepEqual(
    v.curves.map((c) => c.key),
    ["query_loss", "train_loss", "test_acc"],
  );
  const train = v.curves[1]!;
  assert.deepEqual(train.parent.steps, [200, 300, 400], "the parent from the branch step on");
  assert.deepEqual(train.branch, { steps: [300, 400], values: [2.1 - 0.75, 2.1 - 1] });
  assert.deepEqual(v.curves[0]!.branch.values, [1, 0.62, 0.53]);
  assert.deepEqual(v.actual, { steps: [200, 300, 400], values: [0, 0.02, 0.03] });
  assert.deepEqual(
    v.predictions.map((p) => [p.name, p.change]),
    [["TracIn", [0, 0.018, 0.025]]],
  );
  assert.equal(v.sentences.length, 3);
});

test("a corrupt or missing intervention.json is a problem or a note naming it; the curves are still drawn", (t) => {
  const root = tempDir(t);
  const { branch } = runs(root, "{ not json");
  const env = { runIndex: new RunIndex([root]) };
  const corrupt = init(new CompareContent(env, branch));
  assert.equal(corrupt.problems.length, 1);
  assert.match(
    corrupt.problems[0]!,
    new RegExp(`^${path.join(branch, "intervention.json").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: not JSON`),
  );
  assert.ok(corrupt.msg.view?.kind === "branch");
  assert.deepEqual(
    corrupt.msg.view.curves.map((c) => c.key),
    ["train_loss", "test_acc"],
  );
  assert.equal(corrupt.msg.view.actual, null);
  fs.rmSync(path.join(branch, "intervention.json"));
  const missing = init(new CompareContent(env, branch));
  assert.deepEqual(missing.problems, []);
  assert.deepEqual(missing.msg.notes, [
    `No intervention.json yet: the report is written when the branch has trained (lm intervene ${branch} writes it again).`,
  ]);
  // A run that is not a branch: a note, no view.
  const parentOnly = init(new CompareContent(env, path.join(root, "parent")));
  assert.equal(parentOnly.msg.view, null);
  assert.match(parentOnly.msg.notes[0]!, /^parent is not a branch \(its run.json has no branchOf\)/);
  // A folder that is not a run: a problem, never a throw.
  const none = init(new CompareContent(env, path.join(root, "nothing")));
  assert.deepEqual(none.problems, [`${path.join(root, "nothing")}: no run.json`]);
});

function calibration(over: Partial<CalibrationRecord>): CalibrationRecord {
  return {
    format: "learning-mechanics/calibration",
    formatVersion: 1,
    step: 200,
    fraction: 0.25,
    seed: 0,
    sweep: "../s-sweep",
    query: "64 test examples",
    subsets: [0, 1, 2, 3].map((index) => ({
      index,
      run: XSS,
      size: 8,
      actual: index / 10,
      tracin: index / 9,
      bif: null,
    })),
    lds: { tracin: 1, bif: null },
    createdAt: "2026-12-03T14:00:00.000Z",
    ...over,
  };
}

test("the calibration panel: the newest file's subsets and LDS; a corrupt file is named; none is a note", (t) => {
  const root = tempDir(t);
  const { parent } = runs(root);
  const env = { runIndex: new RunIndex([root]) };
  const none = init(new CalibrationContent(env, parent));
  assert.equal(none.msg.view, null);
  assert.match(none.msg.notes[0]!, /^parent has no calibration yet/);
  writeJson(path.join(parent, "calibration", "old.json"), calibration({ createdAt: "2026-12-01T00:00:00.000Z" }));
  writeJson(path.join(parent, "calibration", "new.json"), calibration({ lds: { tracin: 0.8, bif: 0.5 } }));
  writeJson(
    path.join(parent, "calibration", "bad.json"),
    JSON.stringify({ ...calibration({}), subsets: [{ index: 0 }] }),
  );
  writeJson(path.join(parent, "calibration", "broken.json"), "{ not json");
  const { msg, problems } = init(new CalibrationContent(env, parent));
  assert.ok(msg.view?.kind === "calibration");
  assert.equal(msg.view.source, "calibration/new.json");
  assert.deepEqual(msg.view.lds, { tracin: 0.8, bif: 0.5 });
  assert.deepEqual(msg.view.others, ["calibration/old.json"]);
  assert.equal(msg.view.summary, "4 subsets of 25 % removed at step 200 (the query: 64 test examples)");
  assert.deepEqual(
    msg.view.points.map((p) => [p.actual, p.tracin, p.run]),
    [0, 1, 2, 3].map((i) => [i / 10, i / 9, XSS]),
  );
  assert.equal(problems.length, 2);
  assert.equal(
    problems[0],
    `${path.join(parent, "calibration", "bad.json")}: "subsets" must be a list of { index, run, size, actual, tracin, bif } (numbers; tracin and bif may be null)`,
  );
  assert.ok(problems[1]!.startsWith(`${path.join(parent, "calibration", "broken.json")}: not JSON (`));
  assert.ok(calibrationFollows(parent, path.join(parent, "calibration")));
  assert.ok(!calibrationFollows(parent, path.join(root, "branch")));
});

test("the compare protocol's guards: a view must be whole; a page may post only the common messages", () => {
  assert.equal(isCompareHostMessage({ type: "init", view: { kind: "branch" }, notes: [] }), false);
  assert.equal(isCompareHostMessage({ type: "init", view: null, notes: [1] }), false);
  assert.ok(isCompareHostMessage({ type: "init", view: null, notes: ["x"], state: { logLoss: true } }));
  assert.ok(isCompareWebviewMessage({ type: "stateChanged", state: { logLoss: false } }));
  assert.equal(isCompareWebviewMessage({ type: "intervene", runId: "/r", examples: [1], step: 0 }), false);
});

test("the influence panel's Calibrate…: the host gets the run it shows; another run is ignored and logged", (t) => {
  const root = tempDir(t);
  const { parent } = runs(root);
  const content = new InfluenceContent({ runIndex: new RunIndex([root]) }, [parent]);
  const calls: string[] = [];
  const warnings: string[] = [];
  const host: SessionHost<InfluenceState> = {
    post: () => {},
    warn: (w) => warnings.push(w),
    stateChanged: () => {},
    saveExport: () => {},
    rerun: () => {},
    openRun: () => {},
    openSweep: () => {},
    calibrate: (d) => calls.push(d),
  };
  const session = new PanelSession("Influence", content, isInfluenceWebviewMessage, host, undefined);
  session.receive({ type: "ready" });
  session.receive({ type: "calibrate", runId: "/etc" });
  session.receive({ type: "calibrate", runId: parent });
  assert.deepEqual(calls, [parent]);
  assert.deepEqual(warnings, ["Influence: ignored a request to calibrate: the panel does not show /etc"]);
});

test("the values the flows ask for: weight, move step, interval, fraction, subsets, each refused in words", () => {
  assert.equal(parseWeight("3"), 3);
  assert.equal(parseWeight("0"), 0);
  assert.equal(
    parseWeight("1"),
    "A weight of 1 changes nothing: give another (0 removes, 3 counts each example three times).",
  );
  assert.equal(parseWeight("-2"), `The weight must be a number ≥ 0 (e.g. 3), not "-2".`);
  assert.equal(parseMoveStep("300", 200, 400), 300);
  assert.equal(
    parseMoveStep("400", 200, 400),
    "The step must lie strictly between the branch step 200 and the run's end 400 (elsewhere the move is no change, or a removal).",
  );
  assert.equal(parseMoveStep("2.5", 0, 10), `The step must be a whole number, not "2.5".`);
  assert.deepEqual(parseStepInterval("100:300", [0, 100, 200, 300]), { from: 100, to: 300 });
  assert.equal(parseStepInterval("300:100", [100, 300]), "The interval's start 300 is after its end 100.");
  assert.equal(
    parseStepInterval("100:250", [0, 100, 200, 300]),
    "Step 250 has no TracIn scores; the scored steps: 0, 100, 200, 300.",
  );
  assert.match(
    String(parseStepInterval("abc", [0, 100])),
    /^Write the interval as A:B \(two TracIn steps, e\.g\. 0:100\)/,
  );
  assert.equal(parseFraction("0.25"), 0.25);
  assert.equal(parseFraction("10 %"), 0.1);
  assert.equal(
    parseFraction("1"),
    `The fraction must be a number between 0 and 1 (or a percentage such as 25 %), not "1".`,
  );
  assert.equal(parseSubsets("20"), 20);
  assert.equal(parseSubsets("2"), "At least 3 subsets: a rank correlation of fewer says nothing.");
  assert.equal(parseSubsets("4.5"), `The number of subsets must be a whole number, not "4.5".`);
  assert.equal(parseSubsets("100000"), "At most 1000 subsets (each trains a branch).");
});

test("the command lines: lm intervene's upweight, move and top over an interval; lm calibrate", () => {
  assert.deepEqual(interveneArgs("/r", 100, [1, 2], "auto", { action: { kind: "upweight", weight: 3 } }), [
    "intervene",
    "/r",
    "--step",
    "100",
    "--upweight",
    "1,2",
    "--weight",
    "3",
  ]);
  assert.deepEqual(interveneArgs("/r", 100, [1], "auto", { action: { kind: "moveFrom", step: 300 } }).slice(4), [
    "--move",
    "1",
    "--from",
    "300",
  ]);
  assert.deepEqual(interveneArgs("/r", 100, [1], "auto", { action: { kind: "moveBefore", step: 300 } }).slice(4), [
    "--move",
    "1",
    "--before",
    "300",
  ]);
  assert.deepEqual(
    interveneArgs("/r", 100, [1, 2], "cpu", {
      action: { kind: "remove" },
      top: { which: "opponents", count: 10, from: 0, to: 200 },
    }).slice(4),
    ["--remove", "top", "--top-opponents", "10", "--over", "0:200", "--backend", "cpu"],
  );
  assert.deepEqual(
    interveneArgs("/r", 100, [1, 2], "auto", { top: { which: "proponents", count: 10, from: 200, to: 200 } }).slice(4),
    ["--remove", "top", "--top-proponents", "10", "--at", "200"],
  );
  assert.deepEqual(calibrateArgs("/r", 200, 0.25, 20, "wasm"), [
    "calibrate",
    "/r",
    "--step",
    "200",
    "--fraction",
    "0.25",
    "--subsets",
    "20",
    "--backend",
    "wasm",
  ]);
});
