// The panel host's logic without vscode: the session's ready handshake and error path
// (src/extension/panels/panelSession.ts) and what the loss-curves and grokking panels send for
// run folders on disk (large, with unreadable lines, unreadable altogether).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { GrokkingContent } from "../../src/extension/panels/grokkingPanel";
import { LossCurvesContent } from "../../src/extension/panels/lossCurvesPanel";
import { PanelSession, type PanelContent, type SessionHost } from "../../src/extension/panels/panelSession";
import { RunIndex } from "../../src/extension/runIndex";
import { isGrokkingHostMessage, type GrokkingState } from "../../src/shared/panels/grokking";
import { isLossCurvesHostMessage } from "../../src/shared/panels/lossCurves";
import type { RunManifest } from "../../src/shared/runFormat";
import { tempDir } from "../support";

function manifest(id: string): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id,
    system: "modAdd",
    experiment: { path: "/exp/grokking.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: "running",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:01:00.000Z",
    totalSteps: 100,
    step: 100,
    producer: "test",
  };
}

function writeRun(dir: string, id: string, metricsLines: string[]): string {
  fs.mkdirSync(path.join(dir, "checkpoints"), { recursive: true });
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(manifest(id)));
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), metricsLines.length > 0 ? `${metricsLines.join("\n")}\n` : "");
  return dir;
}

const line = (step: number): string =>
  JSON.stringify({ step, time: step / 100, train_loss: 2 / (1 + step), train_acc: step / (step + 10) });

function recorder<S>(): SessionHost<S> & { posted: unknown[]; warnings: string[]; opened: string[] } {
  const posted: unknown[] = [];
  const warnings: string[] = [];
  const opened: string[] = [];
  return {
    posted,
    warnings,
    opened,
    post: (m) => posted.push(m),
    warn: (w) => warnings.push(w),
    stateChanged: () => {},
    saveExport: () => {},
    rerun: () => {},
    openRun: (runId) => opened.push(runId),
    openSweep: () => {},
  };
}

const isState = (x: unknown): x is { n: number } => typeof x === "object" && x !== null && "n" in x;
const anyMessage = (x: unknown): x is { type: "ready" } | { type: "stateChanged"; state: { n: number } } =>
  typeof x === "object" &&
  x !== null &&
  "type" in x &&
  (x.type === "ready" || (x.type === "stateChanged" && "state" in x && isState(x.state)));

test("session: nothing before ready; ready gets a full init; a failing init shows the error and a later ready retries", () => {
  const host = recorder<{ n: number }>();
  let fail: string | null = "metrics.jsonl: refused: not a regular file";
  const content: PanelContent<{ n: number }, { type: "init"; n: number }> = {
    init: (state) => {
      if (fail !== null) throw new Error(fail);
      return { messages: [{ type: "init", n: state?.n ?? 0 }] };
    },
    refresh: () => ({ messages: [{ type: "init", n: -1 }] }),
  };
  const session = new PanelSession("Test", content, anyMessage, host, undefined);
  session.refresh("/runs/a");
  assert.deepEqual(host.posted, [], "nothing is read or posted before ready");
  session.receive({ type: "ready" });
  assert.deepEqual(
    host.posted,
    [{ type: "error", message: "metrics.jsonl: refused: not a regular file" }],
    "the error reaches the page, not only the log",
  );
  assert.match(host.warnings.join(), /Test: metrics\.jsonl: refused/);
  fail = null;
  session.receive({ type: "stateChanged", state: { n: 7 } });
  session.receive({ type: "ready" }); // the page stays usable: shown again, it asks again
  assert.deepEqual(host.posted.at(-1), { type: "init", n: 7 });
  session.receive({ type: "bogus" });
  assert.match(host.warnings.at(-1) ?? "", /ignored a malformed message/);
  session.hidden();
  session.refresh("/runs/a");
  assert.equal(host.posted.length, 2, "a hidden page hears nothing");
});

test("loss curves: a run of 150,000 metrics lines arrives whole (no stack overflow from a spread)", (t) => {
  const root = tempDir(t);
  const n = 150_000;
  const dir = writeRun(
    path.join(root, "big"),
    "big",
    Array.from({ length: n }, (_, i) => line(i)),
  );
  const content = new LossCurvesContent({ runIndex: new RunIndex([root]) }, [dir]);
  const update = content.init(undefined);
  assert.deepEqual(update.problems, []);
  const [msg] = update.messages;
  assert.ok(isLossCurvesHostMessage(msg));
  assert.equal(msg.type, "init");
  if (msg.type !== "init") return;
  assert.equal(msg.runs[0]!.points.step.length, n);
  assert.equal(msg.runs[0]!.points.step[n - 1], n - 1);
});

test("loss curves: unreadable lines are counted at init and as they are appended", (t) => {
  const root = tempDir(t);
  const dir = writeRun(path.join(root, "r"), "r", [line(0), "{not json", line(1), '{"step": "x"}', line(2)]);
  const content = new LossCurvesContent({ runIndex: new RunIndex([root]) }, [dir]);
  const init = content.init(undefined).messages[0];
  assert.ok(init?.type === "init");
  assert.equal(init.runs[0]!.badLines, 2);
  assert.equal(init.runs[0]!.points.step.length, 3);
  fs.appendFileSync(path.join(dir, "metrics.jsonl"), `garbage\n${line(3)}\n`);
  const update = content.refresh(dir);
  assert.notEqual(update, "init");
  if (update === "init") return;
  assert.deepEqual(update.messages[0], {
    type: "append",
    runId: dir,
    points: { step: [3], time: [0.03], values: { train_loss: [0.5], train_acc: [3 / 13] } },
    badLines: 3,
  });
  const clean = writeRun(path.join(root, "clean"), "clean", [line(0)]);
  const run = new LossCurvesContent({ runIndex: new RunIndex([root]) }, [clean]).init(undefined).messages[0];
  assert.ok(run?.type === "init" && run.runs[0]!.badLines === undefined, "no count when every line reads");
});

test("loss curves: every scalar key is sent, namespaced and hostile ones included, and appended", (t) => {
  const root = tempDir(t);
  const rec = (step: number, extra: Record<string, unknown>): string =>
    JSON.stringify({ step, time: step / 10, ...extra });
  const dir = writeRun(path.join(root, "ns"), "ns", [
    rec(0, { "loss/train": 2.5, lr: 0.1, epoch: 0, note: "text is not a scalar" }),
    `{"step": 1, "time": 0.1, "loss/train": 2.0, "__proto__": 7, "<img src=x onerror=alert(1)>": 1}`,
    rec(2, { "loss/train": 1.5, "loss/val": 1.8, "acc/val": 0.4, epoch: 1, lr: null }),
  ]);
  const content = new LossCurvesContent({ runIndex: new RunIndex([root]) }, [dir]);
  const msg = content.init(undefined).messages[0];
  assert.ok(isLossCurvesHostMessage(msg) && msg.type === "init");
  const values = msg.runs[0]!.points.values;
  assert.deepEqual(Object.keys(values).sort(), [
    "<img src=x onerror=alert(1)>",
    "__proto__",
    "acc/val",
    "epoch",
    "loss/train",
    "loss/val",
    "lr",
  ]);
  assert.deepEqual(values["loss/train"], [2.5, 2.0, 1.5]);
  assert.deepEqual(values["lr"], [0.1, null, null], "null in the file and absent are both null");
  assert.deepEqual(
    Object.getOwnPropertyDescriptor(values, "__proto__")?.value,
    [null, 7, null],
    "a column, not the prototype",
  );
  assert.equal(Object.getPrototypeOf(values), Object.prototype);
  fs.appendFileSync(path.join(dir, "metrics.jsonl"), `${rec(3, { tokens: 4096, "loss/train": 1.2 })}\n`);
  const update = content.refresh(dir);
  assert.ok(update !== "init");
  assert.deepEqual(update.messages[0], {
    type: "append",
    runId: dir,
    points: { step: [3], time: [0.3], values: { "loss/train": [1.2], tokens: [4096] } },
  });
});

test("loss curves: a metrics file that cannot be read is named in the panel's error", (t) => {
  const root = tempDir(t);
  const dir = writeRun(path.join(root, "r"), "r", []);
  fs.rmSync(path.join(dir, "metrics.jsonl"));
  fs.mkdirSync(path.join(dir, "metrics.jsonl")); // a folder where the file should be
  const update = new LossCurvesContent({ runIndex: new RunIndex([root]) }, [dir]).init(undefined);
  assert.equal(update.messages.length, 1, "the panel still gets its init");
  assert.equal(update.problems?.length, 1);
  assert.match(update.problems![0]!, /^r: /);
});

test("grokking: runs that cannot be read are named, the others shown; unreadable lines counted", (t) => {
  const root = tempDir(t);
  const good = writeRun(path.join(root, "good"), "good", [line(0), "{oops", line(10)]);
  const broken = path.join(root, "broken");
  fs.mkdirSync(broken);
  fs.writeFileSync(path.join(broken, "run.json"), "{ not json <script>");
  const unreadable = writeRun(path.join(root, "unreadable"), "unreadable", []);
  fs.rmSync(path.join(unreadable, "metrics.jsonl"));
  fs.mkdirSync(path.join(unreadable, "metrics.jsonl"));
  const content = new GrokkingContent({ runIndex: new RunIndex([root]) }, [good, broken, unreadable]);
  const state: GrokkingState = { logX: true, logLoss: false, focusRun: null, hiddenRuns: [] };
  const update = content.init(state);
  const msg = update.messages[0];
  assert.ok(isGrokkingHostMessage(msg) && msg.type === "init");
  assert.deepEqual(
    msg.runs.map((r) => r.label),
    ["good"],
  );
  assert.equal(msg.runs[0]!.badLines, 1);
  assert.deepEqual(msg.state, state);
  assert.equal(update.problems?.length, 2);
  assert.match(update.problems![0]!, /broken: run\.json/);
  assert.match(update.problems![1]!, /^unreadable: /);
});
