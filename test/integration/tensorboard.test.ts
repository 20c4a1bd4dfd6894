// TensorBoard logs written by the real writers (issue 11): PyTorch's torch.utils.tensorboard
// SummaryWriter (simple_value; new_style tensors with float_val and double_val; add_scalars'
// subfolders) and the tensorboard package's EventFileWriter writing what TF2's tf.summary.scalar
// writes (a float32 tensor in tensor_content, beside histogram tensors that are no scalars). Their
// values read back exactly; the run index lists every log folder beside the runs; the loss-curves
// panel's data for a log holds its series and follows appends; the watcher reports an append.
// Needs a Python with torch and tensorboard (test/fixtures/tensorboard/write_events.py): LM_TEST_PYTHON,
// else the repository's .venv/bin/python, else python3; skipped with the reason without one,
// unless LM_REQUIRE_TORCH=1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { LossCurvesContent } from "../../src/extension/panels/lossCurvesPanel";
import { RunIndex } from "../../src/extension/runIndex";
import { RunsTreeModel, tensorboardItemText } from "../../src/extension/runsTree";
import { RunRootWatcher, type RunFolderChange } from "../../src/extension/watcher";
import { isLossCurvesHostMessage, type SeriesPoints } from "../../src/shared/panels/lossCurves";
import { encodeEvent } from "../../src/shared/tensorboardEvents";
import { TensorBoardLog, eventFileNames } from "../../src/shared/tensorboardLog";
import { frameRecord } from "../../src/shared/tfRecord";
import { repoRoot, tempDir } from "../support";

const WRITER = path.join(repoRoot(), "test", "fixtures", "tensorboard", "write_events.py");

function pickPython(): { python: string } | { reason: string } {
  const reasons: string[] = [];
  for (const py of [process.env["LM_TEST_PYTHON"], path.join(repoRoot(), ".venv", "bin", "python"), "python3"]) {
    if (!py) continue;
    const r = spawnSync(py, ["-c", "import torch, tensorboard"], { encoding: "utf8", timeout: 120_000 });
    if (r.status === 0) return { python: py };
    reasons.push(
      `${py}: ${r.error ? r.error.message : (r.stderr.trim().split("\n").pop() ?? `exit ${String(r.status)}`)}`,
    );
  }
  return { reason: `no Python with PyTorch and tensorboard (set LM_TEST_PYTHON): ${reasons.join("; ")}` };
}

const picked = pickPython();
if ("reason" in picked && process.env["LM_REQUIRE_TORCH"] === "1")
  throw new Error(`LM_REQUIRE_TORCH=1: ${picked.reason}`);
const skip = "reason" in picked ? picked.reason : false;
const python = "python" in picked ? picked.python : "python3";

type Expected = Record<string, Record<string, [number, number][]>>;

function write(logdir: string, flavour: "torch" | "tensorboard"): Expected {
  const r = spawnSync(python, [WRITER, logdir, flavour], { encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const parsed: unknown = JSON.parse(r.stdout);
  return parsed as Expected;
}

/** (step, value) pairs of a tag in the panel's rows. */
function pairs(p: SeriesPoints, tag: string): [number, number][] {
  const col = p.values[tag] ?? [];
  const out: [number, number][] = [];
  p.step.forEach((s, i) => {
    const v = col[i];
    if (typeof v === "number") out.push([s, v]);
  });
  return out;
}

function readLog(dir: string): { points: SeriesPoints; log: TensorBoardLog } {
  const log = new TensorBoardLog(dir);
  assert.equal(log.poll().kind, "reset");
  return { points: log.snapshot(), log };
}

describe("TensorBoard logs from the real writers", { skip }, () => {
  test("PyTorch's SummaryWriter: every scalar back exactly (float32 simple_value and float_val, double_val), namespaces and subfolders kept", (t) => {
    const root = tempDir(t);
    const logdir = path.join(root, "runs", "Dec03_torch");
    const expected = write(logdir, "torch");
    for (const [sub, tags] of Object.entries(expected)) {
      const { points, log } = readLog(sub === "" ? logdir : path.join(logdir, sub));
      assert.deepEqual(Object.keys(points.values).sort(), Object.keys(tags).sort(), `tags of ${sub || "the log"}`);
      for (const [tag, want] of Object.entries(tags)) assert.deepEqual(pairs(points, tag), want, `${sub}/${tag}`);
      assert.equal(log.badRecords, 0);
      assert.deepEqual(log.problems, []);
    }
    // The precise lr was written as a double: 0.1 + 45e-9 survives, which a float32 would not.
    const { points } = readLog(logdir);
    assert.equal(pairs(points, "lr").at(-1)?.[1], 0.1 + 45 * 1e-9);
    assert.equal(pairs(points, "big/step")[0]?.[0], 2 ** 40, "an int64 step past 2³² is exact");
  });

  test("the tensorboard package's writer, TF2 style: a float32 tensor_content scalar; histogram tensors left out", (t) => {
    const root = tempDir(t);
    const logdir = path.join(root, "logs", "train");
    const expected = write(logdir, "tensorboard");
    const { points } = readLog(logdir);
    assert.deepEqual(Object.keys(points.values), ["epoch_loss"]);
    assert.deepEqual(pairs(points, "epoch_loss"), expected[""]?.["epoch_loss"]);
    assert.deepEqual(points.time, [0, 1, 2], "seconds since the log's first event");
  });

  test("the Runs view lists each log folder beside the runs, labelled as a TensorBoard log; the panel's data holds its series and follows appends", async (t) => {
    const root = tempDir(t);
    const logdir = path.join(root, "Dec03_torch");
    write(logdir, "torch");
    write(path.join(root, "keras", "train"), "tensorboard");
    const index = new RunIndex([root]);
    assert.deepEqual(await index.scan(), { kind: "done", runs: 0 });
    assert.deepEqual(
      index.tensorboardLogs().map((l) => [l.label, l.eventFiles.length]),
      [
        ["Dec03_torch", 1],
        ["Dec03_torch/lr_sched_lr", 1],
        ["Dec03_torch/lr_sched_momentum", 1],
        ["keras/train", 1],
      ],
    );
    const tree = new RunsTreeModel();
    tree.sync(index);
    const [group] = tree.roots();
    assert.equal(group?.kind, "tensorboardGroup");
    assert.equal(group ? tree.children(group).length : 0, 4);
    const text = tensorboardItemText(index.tensorboardLogs()[0]!);
    assert.equal(text.description, "TensorBoard log · 1 event file · scalars only, no checkpoints or analyses");
    assert.match(text.tooltip, /No checkpoints and no analyses/);

    const content = new LossCurvesContent({ runIndex: index }, [logdir]);
    const init = content.init(undefined);
    assert.deepEqual(init.problems, []);
    const [msg] = init.messages;
    assert.ok(isLossCurvesHostMessage(msg));
    if (msg?.type !== "init") return assert.fail("an init message");
    const run = msg.runs[0]!;
    assert.equal(run.label, `${path.basename(root)}/Dec03_torch`);
    assert.equal(run.status, undefined, "a log has no status");
    assert.deepEqual(Object.keys(run.points.values).sort(), ["acc/test", "big/step", "loss/train", "lr"]);
    assert.equal(pairs(run.points, "loss/train").length, 10);

    // Appended by another writer process (a new event file in the same folder): picked up.
    const file = path.join(logdir, "events.out.tfevents.9999999999.host.2.0");
    fs.writeFileSync(
      file,
      frameRecord(encodeEvent({ wallTime: 2e9, step: 2 ** 41, values: [{ tag: "loss/train", value: 0.0625 }] })),
    );
    const update = content.refresh(logdir);
    assert.notEqual(update, "init");
    if (update === "init") return;
    const [append] = update.messages;
    assert.ok(isLossCurvesHostMessage(append));
    assert.equal(append?.type, "append");
    if (append?.type === "append") assert.deepEqual(pairs(append.points, "loss/train"), [[2 ** 41, 0.0625]]);

    // A bad record counts like a bad metrics line.
    fs.appendFileSync(
      file,
      Buffer.concat([Buffer.from(frameRecord(encodeEvent({ wallTime: 2e9, step: 1 })).fill(0, 12))]),
    );
    const bad = content.refresh(logdir);
    assert.notEqual(bad, "init");
    if (bad !== "init")
      assert.deepEqual(bad.messages, [
        { type: "append", runId: logdir, points: { step: [], time: [], values: {} }, badLines: 1 },
      ]);
  });
});

test("the watcher reports an event file appended to, and one added, as changes of its log folder", async (t) => {
  const root = tempDir(t);
  const logdir = path.join(root, "exp", "train");
  fs.mkdirSync(logdir, { recursive: true });
  const file = path.join(logdir, "events.out.tfevents.1.host.1.0");
  fs.writeFileSync(file, frameRecord(encodeEvent({ wallTime: 1, step: 0, fileVersion: "brain.Event:2" })));
  const seen: RunFolderChange[] = [];
  const w = new RunRootWatcher(30, (m) => assert.fail(m));
  t.after(() => w.dispose());
  w.onDidChange((c) => seen.push(...c));
  w.setRoots([root]);
  await w.whenReady();
  const waitFor = async (pred: (c: RunFolderChange) => boolean): Promise<RunFolderChange> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = seen.find(pred);
      if (c) return c;
      if (Date.now() > deadline) assert.fail(`no such change: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  fs.appendFileSync(file, frameRecord(encodeEvent({ wallTime: 2, step: 1, values: [{ tag: "loss", value: 1 }] })));
  const appended = await waitFor((c) => c.runDir === logdir && c.metrics);
  assert.equal(appended.removed, false);
  seen.length = 0;
  // TF2 adds `validation/` beside `train/`: `train/` is not reported removed (it would leave the index).
  fs.mkdirSync(path.join(root, "exp", "validation"));
  fs.writeFileSync(path.join(root, "exp", "validation", "events.out.tfevents.1.host.1.1"), "");
  const added = await waitFor((c) => c.runDir === path.join(root, "exp", "validation") && c.manifest);
  assert.equal(added.removed, false);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!seen.some((c) => c.removed), JSON.stringify(seen));
  assert.deepEqual(eventFileNames(logdir), ["events.out.tfevents.1.host.1.0"]);
});
