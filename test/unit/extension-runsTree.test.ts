// The Runs view's tree model against a real RunIndex on temp folders: node objects stay the same
// across syncs (VS Code matches them), and a sync names only what changed: the run whose run.json
// changed, the system that gained a run, the whole tree only when experiments come or go. Also the
// folder descriptions (an experiment at the workspace root shows no absolute path).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { folderDescription } from "../../src/extension/displayPath";
import { RunIndex } from "../../src/extension/runIndex";
import { type RunsNode, RunsTreeModel, type TreeRefresh } from "../../src/extension/runsTree";
import { tempDir } from "../support";

function writeRun(
  root: string,
  name: string,
  over: {
    system?: string;
    experiment?: string;
    status?: string;
    step?: number;
    startedAt?: string;
    branchOf?: { run: string; runId: string; step: number; change: Record<string, number> };
  },
): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const m = {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: name,
    system: over.system ?? "modAdd",
    experiment: { path: over.experiment ?? "/exp/a.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: over.status ?? "running",
    startedAt: over.startedAt ?? "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:00:00.000Z",
    totalSteps: 100,
    step: over.step ?? 0,
    producer: "test",
    ...(over.branchOf ? { branchOf: over.branchOf } : {}),
  };
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(m));
  return dir;
}

function ids(r: TreeRefresh): string[] | "full" | "none" {
  return r.kind === "nodes" ? r.nodes.map((n) => n.id).sort() : r.kind;
}

function flatten(model: RunsTreeModel): Map<string, RunsNode> {
  const out = new Map<string, RunsNode>();
  const walk = (nodes: RunsNode[]) => {
    for (const n of nodes) {
      out.set(n.id, n);
      walk(model.children(n));
    }
  };
  walk(model.roots());
  return out;
}

test("runs tree: stable nodes and targeted refreshes", async (t) => {
  const root = tempDir(t);
  const a1 = writeRun(root, "a1", { startedAt: "2025-06-01T12:00:00.000Z" });
  writeRun(root, "b1", { system: "parity", startedAt: "2025-06-01T12:00:00.000Z" });
  const index = new RunIndex([root]);
  await index.scan();
  const model = new RunsTreeModel();
  assert.equal(ids(model.sync(index)), "full", "first sync draws everything");
  const before = flatten(model);
  assert.deepEqual(
    [...before.keys()].sort(),
    [
      "experiment:/exp/a.experiment.ts",
      `run:${a1}`,
      `run:${path.join(root, "b1")}`,
      "system:/exp/a.experiment.ts#modAdd",
      "system:/exp/a.experiment.ts#parity",
    ].sort(),
  );

  // Nothing changed: nothing to redraw, same objects.
  assert.equal(ids(model.sync(index)), "none");
  for (const [id, n] of flatten(model)) assert.equal(n, before.get(id), id);

  // One run's run.json changes: only that run's node, the same object with the new entry.
  writeRun(root, "a1", { status: "finished", step: 100 });
  index.update(a1);
  const r = model.sync(index);
  assert.deepEqual(ids(r), [`run:${a1}`]);
  const runNode = (r as { nodes: RunsNode[] }).nodes[0]!;
  assert.equal(runNode, before.get(`run:${a1}`));
  assert.equal(runNode.kind === "run" && runNode.entry.manifest.status, "finished");

  // Training progress (not in the index) for a folder: that run only.
  assert.deepEqual(ids(model.sync(index, [a1])), [`run:${a1}`]);

  // A new run in an existing system: that system (its count and children), not the run under it.
  const a2 = writeRun(root, "a2", { startedAt: "2025-06-02T12:00:00.000Z" });
  index.update(a2);
  assert.deepEqual(ids(model.sync(index, [a2])), ["system:/exp/a.experiment.ts#modAdd"]);
  assert.deepEqual(
    model.children(before.get("system:/exp/a.experiment.ts#modAdd")!).map((n) => n.id),
    [`run:${a2}`, `run:${a1}`],
    "newest first",
  );

  // A new system in an existing experiment: the experiment node.
  const c1 = writeRun(root, "c1", { system: "xor" });
  index.update(c1);
  assert.deepEqual(ids(model.sync(index)), ["experiment:/exp/a.experiment.ts"]);

  // A run removed from a system with others left: that system.
  fs.rmSync(a2, { recursive: true });
  index.remove(a2);
  assert.deepEqual(ids(model.sync(index)), ["system:/exp/a.experiment.ts#modAdd"]);

  // A new experiment, or an unreadable run: the set of top-level nodes changes, full redraw.
  index.update(writeRun(root, "d1", { experiment: "/exp/b.experiment.ts" }));
  assert.equal(ids(model.sync(index)), "full");
  fs.mkdirSync(path.join(root, "bad"));
  fs.writeFileSync(path.join(root, "bad", "run.json"), "{");
  index.update(path.join(root, "bad"));
  assert.equal(ids(model.sync(index)), "full");
  assert.equal(model.roots().at(-1)?.kind, "invalid");
  // Unchanged nodes kept their identity through all of it.
  assert.equal(flatten(model).get(`run:${a1}`), before.get(`run:${a1}`));
  assert.equal(flatten(model).get("experiment:/exp/a.experiment.ts"), before.get("experiment:/exp/a.experiment.ts"));
});

test("runs tree: a branch is nested under its parent run; a loop or a parent elsewhere stays at the top", async (t) => {
  const root = tempDir(t);
  const parent = writeRun(root, "parent", { startedAt: "2025-06-01T12:00:00.000Z" });
  const branch = (name: string, of: string, startedAt: string) =>
    writeRun(root, name, { startedAt, branchOf: { run: `../${of}`, runId: of, step: 20, change: { dataSeed: 1 } } });
  const b1 = branch("b1", "parent", "2025-06-02T12:00:00.000Z");
  const b2 = branch("b2", "parent", "2025-06-03T12:00:00.000Z");
  const b11 = branch("b11", "b1", "2025-06-04T12:00:00.000Z");
  const orphan = branch("orphan", "gone", "2025-06-05T12:00:00.000Z");
  const loopA = branch("loopA", "loopB", "2025-06-06T12:00:00.000Z");
  const loopB = branch("loopB", "loopA", "2025-06-07T12:00:00.000Z");
  const index = new RunIndex([root]);
  await index.scan();
  const model = new RunsTreeModel();
  model.sync(index);
  const sys = model.get("system:/exp/a.experiment.ts#modAdd")!;
  const kids = (id: string) => model.children(model.get(id)!).map((n) => n.id);
  assert.deepEqual(
    model
      .children(sys)
      .map((n) => n.id)
      .sort(),
    [loopA, loopB, orphan, parent].map((d) => `run:${d}`).sort(),
  );
  assert.deepEqual(kids(`run:${parent}`), [`run:${b2}`, `run:${b1}`], "newest first");
  assert.deepEqual(kids(`run:${b1}`), [`run:${b11}`], "a branch of a branch under its parent");
  assert.deepEqual(kids(`run:${b11}`), []);

  // A new branch redraws its parent run only.
  const b3 = branch("b3", "parent", "2025-06-08T12:00:00.000Z");
  index.update(b3);
  assert.deepEqual(ids(model.sync(index)), [`run:${parent}`]);
  assert.deepEqual(kids(`run:${parent}`), [`run:${b3}`, `run:${b2}`, `run:${b1}`]);
});

test("folder descriptions: relative to the workspace folder, nothing for the folder itself", () => {
  const ws = path.join(path.sep, "home", "u", "proj");
  const one = [{ name: "proj", fsPath: ws }];
  assert.equal(folderDescription(ws, one), "");
  assert.equal(folderDescription(path.join(ws, "examples", "toy"), one), "examples/toy");
  const outside = path.join(path.sep, "elsewhere");
  assert.equal(folderDescription(outside, one), outside);
  // A sibling whose name starts like the folder is not inside it.
  assert.equal(folderDescription(`${ws}2`, one), `${ws}2`);
  const multi = [one[0]!, { name: "lib", fsPath: path.join(ws, "lib") }];
  assert.equal(folderDescription(ws, multi), "proj");
  assert.equal(folderDescription(path.join(ws, "lib", "x"), multi), "lib/x", "innermost folder wins");
  assert.equal(folderDescription(path.join(ws, "src"), multi), "proj/src");
});

test("runs tree: runs without an experiment file are one top-level group with a stable id", async (t) => {
  const root = tempDir(t);
  const dir = writeRun(root, "nb", { system: "mlp" });
  const m = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")) as Record<string, unknown>;
  delete m["experiment"];
  fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(m));
  writeRun(root, "a1", {});
  const index = new RunIndex([root]);
  await index.scan();
  const model = new RunsTreeModel();
  model.sync(index);
  const roots = model.roots();
  assert.deepEqual(
    roots.map((n) => n.id),
    [`experiment:${path.resolve("/exp/a.experiment.ts")}`, "experiment:(none)"],
  );
  const systems = model.children(roots[1]!);
  assert.deepEqual(
    systems.map((n) => n.id),
    ["system:(none)#mlp"],
  );
  assert.deepEqual(
    model.children(systems[0]!).map((n) => n.kind),
    ["run"],
  );
  model.sync(index);
  assert.equal(model.roots()[1], roots[1], "the same node after a sync");
});
