// Sweep folders in the extension, on real temp folders: found under a run root (and only there),
// an invalid sweep.json named with its file and field, the Runs view's sweep node with its points
// (labels from values and seed, runs that exist as run items, the others pending), the panel's
// content (init from sweep.json and the points' metrics, a point's change as one `point` message,
// sweep.json's change as a new init), and the panel following its points' run folders.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { PanelSession } from "../../src/extension/panels/panelSession";
import { SWEEP, SweepContent } from "../../src/extension/panels/sweepPanel";
import type { Launch } from "../../src/extension/supervisor";
import { SweepLauncher } from "../../src/extension/sweepLauncher";
import { RunIndex } from "../../src/extension/runIndex";
import { RunsTreeModel } from "../../src/extension/runsTree";
import { SweepIndex, sweepProgress } from "../../src/extension/sweeps";
import { isSweepWebviewMessage, type SweepHostMessage } from "../../src/shared/panels/sweep";
import { SWEEP_FORMAT, type SweepManifest, sweepRunName } from "../../src/shared/sweepFormat";
import { tempDir } from "../support";

const WD = "optimizer.weightDecay";

function manifest(statuses: SweepManifest["points"][number]["status"][]): SweepManifest {
  return {
    format: SWEEP_FORMAT,
    version: 1,
    experiment: "/exp/a.experiment.ts",
    system: "mlp",
    createdAt: "2026-01-01T00:00:00.000Z",
    fields: [WD],
    mode: "grid",
    seeds: [0, 1],
    points: statuses.map((status, index) => ({
      index,
      values: { [WD]: [0, 0.1][Math.floor(index / 2)]! },
      seed: index % 2,
      run: sweepRunName(index),
      status,
    })),
    launcher: { kind: "local", parallel: 2 },
  };
}

function writeSweep(root: string, m: SweepManifest): string {
  const dir = path.join(root, "mlp-sweep-20260101-000000");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "sweep.json"), JSON.stringify(m));
  return dir;
}

function writePointRun(sweepDir: string, index: number, status: string, losses: number[]): string {
  const dir = path.join(sweepDir, sweepRunName(index));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "run.json"),
    JSON.stringify({
      format: "learning-mechanics/run",
      formatVersion: 1,
      id: `mlp-${index}`,
      system: "mlp",
      experiment: { path: "/exp/a.experiment.ts", sha256: "sha256:00" },
      config: {},
      seed: index % 2,
      backend: { name: "cpu", reason: "test" },
      status,
      startedAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:01:00.000Z",
      totalSteps: losses.length,
      step: losses.length,
      producer: "test",
      sweep: { dir: "..", index, values: {}, seed: index % 2 },
    }),
  );
  fs.writeFileSync(
    path.join(dir, "metrics.jsonl"),
    losses.map((l, i) => `${JSON.stringify({ step: i, time: i, test_loss: l })}\n`).join(""),
  );
  return dir;
}

test("sweep folders are found directly under the roots; an invalid sweep.json is named with its field", async (t) => {
  const root = tempDir(t);
  const dir = writeSweep(root, manifest(["finished", "pending"]));
  fs.mkdirSync(path.join(root, "group", "deeper"), { recursive: true });
  fs.writeFileSync(path.join(root, "group", "deeper", "sweep.json"), "{}"); // too deep: not a sweep folder
  const index = new SweepIndex();
  await index.scan([root, path.join(root, "missing")]);
  assert.deepEqual(
    index.all().map((r) => r.dir),
    [dir],
  );
  const read = index.get(dir);
  assert.ok(read?.ok);
  assert.equal(index.sweepOf(path.join(dir, "0001"))?.dir, dir);
  fs.writeFileSync(path.join(dir, "sweep.json"), JSON.stringify({ ...manifest(["finished"]), mode: "cube" }));
  assert.equal(index.update(dir, [root]), true);
  const bad = index.get(dir);
  assert.ok(bad && !bad.ok);
  assert.match(bad.problem, /sweep\.json: mode: expected "grid" or "list"/);
  assert.equal(index.update(path.join(dir, "0000"), [root]), false, "a point's folder is not a sweep candidate");
  fs.rmSync(path.join(dir, "sweep.json"));
  assert.equal(index.update(dir, [root]), true);
  assert.deepEqual(index.all(), []);
});

test("Runs view: the sweep node counts finished points; points are its children, not the system's", async (t) => {
  const root = tempDir(t);
  const dir = writeSweep(root, manifest(["finished", "running", "pending", "queued"]));
  writePointRun(dir, 0, "finished", [1, 0.5]);
  writePointRun(dir, 1, "running", [1]);
  const runs = new RunIndex([root]);
  await runs.scan();
  assert.equal(runs.size, 2, "the points' run folders are indexed one level down");
  const sweeps = new SweepIndex();
  await sweeps.scan([root]);
  const model = new RunsTreeModel();
  const source = {
    groups: () => runs.groups(),
    invalid: () => runs.invalid(),
    tensorboardLogs: () => runs.tensorboardLogs(),
    sweeps: () => sweeps.all(),
    get: (d: string) => runs.get(d),
  };
  model.sync(source);
  const roots = model.roots();
  assert.deepEqual(
    roots.map((n) => n.kind),
    ["sweep"],
    "a system whose runs are all sweep points shows under its sweep only",
  );
  const node = roots[0]!;
  assert.ok(node.kind === "sweep");
  assert.equal(node.label, "mlp sweep · 1/4 finished · 1 running");
  assert.deepEqual(
    model.children(node).map((c) => [c.kind, "label" in c ? c.label : ""]),
    [
      ["run", "weightDecay=0 · seed 0"],
      ["run", "weightDecay=0 · seed 1"],
      ["sweepPoint", "weightDecay=0.1 · seed 0"],
      ["sweepPoint", "weightDecay=0.1 · seed 1"],
    ],
  );
  // Point 1 finishes: the sweep node's label changes, so it is redrawn.
  writePointRun(dir, 1, "finished", [1, 0.7]);
  runs.update(path.join(dir, "0001"));
  const refresh = model.sync(source, [path.join(dir, "0001")]);
  assert.ok(refresh.kind === "nodes" && refresh.nodes.some((n) => n.id === node.id));
  assert.equal(node.label, "mlp sweep · 2/4 finished");
  assert.equal(sweepProgress(["finished", "failed", "diverged"]), "1/3 finished · 2 failed");
});

test("sweep panel content: init from sweep.json and the points' metrics; a point's change; sweep.json's change", async (t) => {
  const root = tempDir(t);
  const dir = writeSweep(root, manifest(["finished", "finished", "running", "pending"]));
  writePointRun(dir, 0, "finished", [3, 1, 2]);
  writePointRun(dir, 1, "finished", [4, 3]);
  writePointRun(dir, 2, "running", [5]);
  const runs = new RunIndex([root]);
  await runs.scan();
  const content = new SweepContent({ runIndex: runs }, dir);
  const init = content.init(undefined);
  assert.deepEqual(init.problems, []);
  const msg = init.messages[0] as Extract<SweepHostMessage, { type: "init" }>;
  assert.deepEqual(msg.sweep, { dir, system: "mlp", fields: [WD], launcher: "local" });
  assert.deepEqual(
    msg.points.map((p) => [p.index, p.status, p.seed, p.values[WD], p.y["final:test_loss"], p.y["min:test_loss"]]),
    [
      [0, "finished", 0, 0, 2, 1],
      [1, "finished", 1, 0, 3, 3],
      [2, "running", 0, 0.1, 5, 5],
      [3, "pending", 1, 0.1, undefined, undefined],
    ],
  );
  assert.equal(msg.points[0]!.runId, path.join(dir, "0000"));
  writePointRun(dir, 2, "finished", [5, 0.5]);
  runs.update(path.join(dir, "0002"));
  const up = content.refresh(path.join(dir, "0002"));
  assert.ok(up !== "init");
  assert.deepEqual(
    up.messages.map((m) => (m.type === "point" ? [m.point.index, m.point.status, m.point.y["final:test_loss"]] : [])),
    [[2, "finished", 0.5]],
  );
  assert.equal(content.refresh(dir), "init", "sweep.json rewritten: everything again");
  assert.deepEqual(content.refresh(path.join(root, "other-run")), { messages: [] });
  // The panel follows its points' folders, opens only its own points' runs.
  assert.equal(SWEEP.follows?.(dir, path.join(dir, "0003")), true);
  assert.equal(SWEEP.follows?.(dir, path.join(root, "other-run")), false);
  assert.equal(SWEEP.opensRun?.([dir], path.join(dir, "0001")), true);
  assert.equal(SWEEP.opensRun?.([dir], path.join(root, "elsewhere", "0001")), false);
  // A broken sweep.json: the panel names the file and the field, and sends nothing else.
  fs.writeFileSync(path.join(dir, "sweep.json"), JSON.stringify({ ...manifest([]), seeds: "three" }));
  const broken = new SweepContent({ runIndex: runs }, dir).init(undefined);
  assert.deepEqual(broken.messages, []);
  assert.match(broken.problems?.[0] ?? "", /sweep\.json: seeds: expected an array of integers/);
});

test("sweep panel content: with a ready callback, init sends points at once and reads their runs in the background", async (t) => {
  const root = tempDir(t);
  const dir = writeSweep(root, manifest(["finished", "finished", "pending", "pending"]));
  writePointRun(dir, 0, "finished", [3, 1, 2]);
  writePointRun(dir, 1, "finished", [4, 3]);
  const runs = new RunIndex([root]);
  await runs.scan();
  const content = new SweepContent({ runIndex: runs }, dir);
  const ready: string[] = [];
  let all: () => void = () => {};
  const done = new Promise<void>((r) => (all = r));
  content.onReady((d) => {
    ready.push(d);
    if (ready.length === 2) all();
  });
  const msg = content.init(undefined).messages[0] as Extract<SweepHostMessage, { type: "init" }>;
  assert.deepEqual(
    msg.points.map((p) => [p.status, Object.keys(p.y).length]),
    [
      ["finished", 0],
      ["finished", 0],
      ["pending", 0],
      ["pending", 0],
    ],
    "statuses at once, summaries not yet read",
  );
  await done;
  assert.deepEqual(ready, [path.join(dir, "0000"), path.join(dir, "0001")]);
  const up = content.refresh(path.join(dir, "0000"));
  assert.ok(up !== "init");
  const m = up.messages[0];
  assert.ok(m?.type === "point");
  assert.equal(m.point.y["final:test_loss"], 2);
  // A second init (the panel shown again) has every summary at once, from the cache.
  const again = content.init(undefined).messages[0] as Extract<SweepHostMessage, { type: "init" }>;
  assert.deepEqual(
    again.points.map((p) => p.y["final:test_loss"]),
    [2, 3, undefined, undefined],
  );
  content.dispose();
});

test("panel session: an openRun from the page reaches the host; a malformed one is ignored", () => {
  const opened: string[] = [];
  const warnings: string[] = [];
  const session = new PanelSession(
    "Sweep",
    { init: () => ({ messages: [] }), refresh: () => ({ messages: [] }) },
    isSweepWebviewMessage,
    {
      post: () => {},
      warn: (w) => warnings.push(w),
      stateChanged: () => {},
      saveExport: () => {},
      rerun: () => {},
      openRun: (runId) => opened.push(runId),
      openSweep: () => {},
    },
    undefined,
  );
  session.receive({ type: "openRun", runId: "/runs/s/0003" });
  session.receive({ type: "openRun", runId: 3 });
  assert.deepEqual(opened, ["/runs/s/0003"]);
  assert.match(warnings.join(), /Sweep: ignored a malformed message/);
});

/** A stand-in for dist/trainer/cli.js: `script` is its body (plain Node). */
function fakeCli(dir: string, script: string): Launch {
  fs.writeFileSync(path.join(dir, "cli.js"), script);
  return { node: process.execPath, electronRunAsNode: false, sidecar: path.join(dir, "sidecar.js"), cwd: dir };
}

test("lm sweep: the folder named on stdout; Cancel stops the local process; an error is the CLI's own words", async (t) => {
  const dir = tempDir(t);
  const log = {
    lines: [] as string[],
    info(s: string) {
      this.lines.push(s);
    },
    warn(s: string) {
      this.lines.push(s);
    },
  };
  const launcher = new SweepLauncher(log);
  // Prints the folder (relative, as the CLI does for --out runs), then trains until stopped (the
  // handler first: Cancel may come as soon as the folder is named).
  let launch = fakeCli(
    dir,
    `process.on("SIGTERM", () => process.stderr.write("stopping 2 points\\n", () => process.exit(0)));
     process.stdout.write("runs/mlp-sweep-20260101-000000\\n" + JSON.stringify(process.argv.slice(2)) + "\\n");
     setInterval(() => {}, 1000);`,
  );
  const started = await launcher.start(launch, "/exp/a.experiment.ts", "mlp", path.join(dir, "runs"));
  assert.deepEqual(started, { ok: true, sweepDir: path.join(dir, "runs", "mlp-sweep-20260101-000000") });
  assert.ok(launcher.isRunning(path.join(dir, "runs", "mlp-sweep-20260101-000000")));
  assert.ok(launcher.stopLocal(path.join(dir, "runs", "mlp-sweep-20260101-000000")));
  for (let i = 0; i < 100 && launcher.isRunning(path.join(dir, "runs", "mlp-sweep-20260101-000000")); i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(launcher.isRunning(path.join(dir, "runs", "mlp-sweep-20260101-000000")), false);
  assert.ok(log.lines.some((l) => l.includes("sweep mlp: stopping 2 points")));
  assert.equal(launcher.stopLocal("/not/ours"), false);

  launch = fakeCli(
    dir,
    `console.error("sweep.grid: unknown path \\"optimizer.wd\\" (did you mean optimizer.weightDecay?)"); process.exit(2);`,
  );
  const failed = await launcher.start(launch, "/exp/a.experiment.ts", "mlp", path.join(dir, "runs"));
  assert.deepEqual(failed, {
    ok: false,
    message: 'sweep.grid: unknown path "optimizer.wd" (did you mean optimizer.weightDecay?)',
  });

  launch = fakeCli(
    dir,
    `if (process.argv[2] !== "sweep-cancel") process.exit(9); console.error("scancel: error: Invalid job id specified"); process.exit(1);`,
  );
  assert.deepEqual(await launcher.cancelSlurm(launch, "/runs/s"), {
    ok: false,
    message: "scancel: error: Invalid job id specified",
  });
  launch = fakeCli(dir, `process.exit(process.argv[2] === "sweep-cancel" && process.argv[3] === "/runs/s" ? 0 : 3);`);
  assert.deepEqual(await launcher.cancelSlurm(launch, "/runs/s"), { ok: true });
  launcher.dispose();
});
