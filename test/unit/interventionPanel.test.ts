// "Remove and retrain…" from the Influence panel without vscode (src/extension/interventions.ts):
// the host's check of the page's request, the `lm intervene` line, the branch steps offered, the
// words read back from intervention.json, the calibration line beside the heatmap, and the
// session routing the page's message to the content's check.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  branchStepChoices,
  calibrationLine,
  checkInterveneRequest,
  interventionWords,
  interveneArgs,
  MAX_INTERVENE_EXAMPLES,
  parseTopCount,
  type InterveneRequest,
} from "../../src/extension/interventions";
import { InfluenceContent } from "../../src/extension/panels/influencePanel";
import { PanelSession, type SessionHost } from "../../src/extension/panels/panelSession";
import { RunIndex } from "../../src/extension/runIndex";
import { type CalibrationRecord, type InterventionRecord, predictionWords } from "../../src/shared/interventionFormat";
import {
  type InfluenceState,
  isInfluenceHostMessage,
  isInfluenceWebviewMessage,
  isInterveneMessage,
} from "../../src/shared/panels/influence";
import type { RunManifest } from "../../src/shared/runFormat";
import { topRowsAt } from "../../src/webview/influence/heatmap";
import { tempDir } from "../support";

const RUN = "/runs/a";
const EXAMPLES = new Set([0, 1, 2, 5, 9]);
const STEPS = [0, 100, 200];
const msg = (examples: number[], step = 100, runId = RUN) => ({ type: "intervene" as const, runId, examples, step });

test("checkInterveneRequest: examples sorted and without repeats; a foreign run, example or step is named", () => {
  assert.deepEqual(checkInterveneRequest(msg([9, 1, 9, 0]), RUN, EXAMPLES, STEPS), {
    runDir: RUN,
    examples: [0, 1, 9],
    step: 100,
  });
  assert.equal(checkInterveneRequest(msg([1], 100, "/etc"), RUN, EXAMPLES, STEPS), "the panel does not show /etc");
  assert.equal(
    checkInterveneRequest(msg([1, 3]), RUN, EXAMPLES, STEPS),
    "example 3 is not one of the run's scored examples",
  );
  assert.equal(
    checkInterveneRequest(msg([1], 150), RUN, EXAMPLES, STEPS),
    "step 150 is not a checkpoint the panel shows",
  );
  assert.equal(checkInterveneRequest(msg([]), RUN, EXAMPLES, STEPS), "no example chosen");
  const many = Array.from({ length: MAX_INTERVENE_EXAMPLES + 1 }, (_, i) => i);
  assert.equal(
    checkInterveneRequest(msg(many), RUN, new Set(many), STEPS),
    `${MAX_INTERVENE_EXAMPLES + 1} examples: at most ${MAX_INTERVENE_EXAMPLES} at once`,
  );
});

test("a list picked by hand or a label group is checked as any list; TracIn's top k carries how many were scored (the largest k)", () => {
  // Rows selected by hand or all examples labelled L: the page posts the indices, the host checks them.
  assert.deepEqual(checkInterveneRequest(msg([5, 0, 2]), RUN, EXAMPLES, STEPS), {
    runDir: RUN,
    examples: [0, 2, 5],
    step: 100,
  });
  const top = { ...msg([9, 5]), top: { which: "opponents" as const, count: 2 } };
  assert.deepEqual(checkInterveneRequest(top, RUN, EXAMPLES, STEPS), {
    runDir: RUN,
    examples: [5, 9],
    step: 100,
    top: { which: "opponents", count: 2 },
    scoredSteps: STEPS,
    scored: EXAMPLES.size,
  });
});

test("parseTopCount: k is a whole number from 1 to the number of scored examples, refused in words", () => {
  assert.equal(parseTopCount("25", 60), 25);
  assert.equal(parseTopCount(" 60 ", 60), 60);
  assert.equal(parseTopCount("1", 60), 1);
  for (const bad of ["0", "61", "2.5", "-3", "", "ten"])
    assert.equal(
      parseTopCount(bad, 60),
      `k must be a whole number from 1 to 60 (the examples TracIn scored), not "${bad}".`,
      bad,
    );
});

test("the intervene message guard: whole example indices ≥ 0 and a whole step", () => {
  assert.ok(isInterveneMessage(msg([1, 2])));
  assert.ok(isInfluenceWebviewMessage(msg([1, 2])));
  assert.equal(isInterveneMessage(msg([1.5])), false);
  assert.equal(isInterveneMessage(msg([-1])), false);
  assert.equal(isInterveneMessage(msg([1], 0.5)), false);
  assert.equal(isInterveneMessage({ type: "intervene", runId: RUN, examples: "1,2", step: 1 }), false);
  assert.equal(isInfluenceWebviewMessage({ ...msg([1]), type: "interven" }), false);
});

test("branchStepChoices: the checkpoints at or before the selected step, newest first", () => {
  assert.deepEqual(branchStepChoices([0, 50, 100, 150, 200], 120), [100, 50, 0]);
  assert.deepEqual(branchStepChoices([0, 50, 100], 100), [100, 50, 0]);
  assert.deepEqual(branchStepChoices([50, 100], 10), []);
});

test("interveneArgs: lm intervene RUN --step K --remove IDX,… and the backend only when the CLI takes it by name", () => {
  assert.deepEqual(interveneArgs("/runs/a", 100, [1, 5, 9], "auto"), [
    "intervene",
    "/runs/a",
    "--step",
    "100",
    "--remove",
    "1,5,9",
  ]);
  assert.deepEqual(interveneArgs("/runs/a", 0, [3], "cpu").slice(-2), ["--backend", "cpu"]);
});

function interventionRecord(): InterventionRecord {
  return {
    format: "learning-mechanics/intervention",
    formatVersion: 1,
    parent: "../a",
    step: 100,
    change: { kind: "intervention", action: { kind: "remove" }, examples: [1, 5], selection: { kind: "explicit" } },
    query: "mean test loss",
    steps: [100, 200],
    parentQueryLoss: [1, 0.5],
    branchQueryLoss: [1, 0.53],
    actual: [0, 0.03],
    tracin: { steps: [100, 200], change: [0, 0.025], method: "TracIn" },
    notes: [],
    createdAt: "2026-12-03T15:00:00.000Z",
  };
}

test("interventionWords: the CLI's sentence from intervention.json; an unreadable file is named", (t) => {
  const dir = tempDir(t);
  const record = interventionRecord();
  fs.writeFileSync(path.join(dir, "intervention.json"), JSON.stringify(record));
  const words = interventionWords(dir);
  assert.deepEqual(words, { ok: true, lines: predictionWords(record) });
  assert.match(
    predictionWords(record)[0]!,
    /^removing these 2 examples was predicted by TracIn to raise the query loss by 0\.0250 at step 200; it rose by 0\.0300\.$/,
  );
  fs.writeFileSync(path.join(dir, "intervention.json"), "{ not json");
  const bad = interventionWords(dir);
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.message.startsWith(`${path.join(dir, "intervention.json")} could not be read:`));
  fs.writeFileSync(path.join(dir, "intervention.json"), JSON.stringify({ format: "other" }));
  assert.deepEqual(interventionWords(dir), {
    ok: false,
    message: `${path.join(dir, "intervention.json")} is not an intervention record`,
  });
});

function calibration(over: Partial<CalibrationRecord>): CalibrationRecord {
  return {
    format: "learning-mechanics/calibration",
    formatVersion: 1,
    step: 500,
    fraction: 0.25,
    seed: 0,
    sweep: "calibration/sweep",
    query: "mean test loss",
    subsets: Array.from({ length: 20 }, (_, index) => ({
      index,
      run: String(index),
      size: 25,
      actual: index,
      tracin: index,
      bif: null,
    })),
    lds: { tracin: 0.9234, bif: null },
    createdAt: "2026-12-03T14:00:00.000Z",
    ...over,
  };
}

test("calibrationLine: the newest calibration in words; none is undefined; a corrupt file is a note", (t) => {
  const dir = tempDir(t);
  assert.equal(calibrationLine(dir), undefined);
  const cal = path.join(dir, "calibration");
  fs.mkdirSync(cal);
  assert.equal(calibrationLine(dir), undefined);
  fs.writeFileSync(
    path.join(cal, "100-remove-0.1.json"),
    JSON.stringify(calibration({ step: 100, fraction: 0.1, createdAt: "2026-12-01T00:00:00Z" })),
  );
  fs.writeFileSync(path.join(cal, "500-remove-0.25.json"), JSON.stringify(calibration({})));
  assert.equal(calibrationLine(dir), "TracIn LDS 0.92 (20 subsets of 25 % at step 500)");
  fs.writeFileSync(
    path.join(cal, "600-remove-0.25.json"),
    JSON.stringify(calibration({ step: 600, lds: { tracin: null, bif: 0.5 }, createdAt: "2026-12-03T15:00:00Z" })),
  );
  assert.equal(calibrationLine(dir), "TracIn LDS n/a, BIF LDS 0.50 (20 subsets of 25 % at step 600)");
  fs.writeFileSync(path.join(cal, "700-remove-0.25.json"), JSON.stringify({ format: "x", createdAt: "2027" }));
  assert.equal(calibrationLine(dir), "calibration/700-remove-0.25.json is not a calibration record");
  const only = tempDir(t);
  fs.mkdirSync(path.join(only, "calibration"));
  fs.writeFileSync(path.join(only, "calibration", "1-remove-0.5.json"), "{");
  assert.equal(calibrationLine(only), "calibration/1-remove-0.5.json could not be read");
});

test("topRowsAt: the k highest (proponents) or lowest (opponents) finite scores of a column", () => {
  // 4 rows × 2 columns, row-major; column 1 = [0.3, NaN, -0.2, 0.9].
  const v = Float32Array.from([0, 0.3, 0, Number.NaN, 0, -0.2, 0, 0.9]);
  assert.deepEqual(topRowsAt(v, 4, 2, 1, 2, "proponents"), [3, 0]);
  assert.deepEqual(topRowsAt(v, 4, 2, 1, 2, "opponents"), [2, 0]);
  assert.deepEqual(topRowsAt(v, 4, 2, 1, 10, "proponents"), [3, 0, 2]);
});

function manifest(): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "a",
    system: "s",
    experiment: { path: "/exp/a.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: "finished",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:01:00.000Z",
    totalSteps: 100,
    step: 100,
    producer: "test",
  };
}

test("the influence panel sends the calibration line and refuses a request about examples it did not send", (t) => {
  const root = tempDir(t);
  const dir = path.join(root, "a");
  fs.mkdirSync(path.join(dir, "calibration"), { recursive: true });
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(manifest()));
  fs.writeFileSync(path.join(dir, "calibration", "500-remove-0.25.json"), JSON.stringify(calibration({})));
  const content = new InfluenceContent({ runIndex: new RunIndex([root]) }, [dir]);
  const posted: unknown[] = [];
  const warnings: string[] = [];
  const requests: InterveneRequest[] = [];
  const host: SessionHost<InfluenceState> = {
    post: (m) => posted.push(m),
    warn: (w) => warnings.push(w),
    stateChanged: () => {},
    saveExport: () => {},
    rerun: () => {},
    openRun: () => {},
    openSweep: () => {},
    intervene: (r) => requests.push(r),
  };
  const session = new PanelSession("Influence", content, isInfluenceWebviewMessage, host, undefined);
  session.receive({ type: "ready" });
  const init = posted.find((m) => isInfluenceHostMessage(m) && m.type === "init");
  assert.ok(init && isInfluenceHostMessage(init) && init.type === "init");
  assert.equal(init.run.calibration, "TracIn LDS 0.92 (20 subsets of 25 % at step 500)");
  // The run has no influence analyses: no example is the page's to ask about.
  session.receive(msg([0], 0, dir));
  assert.deepEqual(requests, []);
  assert.deepEqual(warnings, [
    "Influence: ignored a request to intervene: example 0 is not one of the run's scored examples",
  ]);
});

test("the session hands a request its content accepted to the host, and ignores one a content cannot check", () => {
  const requests: InterveneRequest[] = [];
  const warnings: string[] = [];
  const host: SessionHost<InfluenceState> = {
    post: () => {},
    warn: (w) => warnings.push(w),
    stateChanged: () => {},
    saveExport: () => {},
    rerun: () => {},
    openRun: () => {},
    openSweep: () => {},
    intervene: (r) => requests.push(r),
  };
  const checking = {
    init: () => ({ messages: [] }),
    refresh: () => "init" as const,
    intervene: (m: { examples: number[]; step: number }) =>
      checkInterveneRequest({ type: "intervene", runId: RUN, ...m }, RUN, EXAMPLES, STEPS),
  };
  new PanelSession("Influence", checking, isInfluenceWebviewMessage, host, undefined).receive(msg([5, 2], 200));
  assert.deepEqual(requests, [{ runDir: RUN, examples: [2, 5], step: 200 }]);
  const plain = { init: () => ({ messages: [] }), refresh: () => "init" as const };
  new PanelSession("Loss", plain, isInfluenceWebviewMessage, host, undefined).receive(msg([5], 200));
  assert.equal(requests.length, 1);
  assert.deepEqual(warnings, ["Loss: ignored a request to intervene: it does not offer interventions"]);
});
