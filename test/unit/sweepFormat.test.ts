import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSweepManifest, type SweepManifest, sweepRunName } from "../../src/shared/sweepFormat";

function manifest(): SweepManifest {
  return {
    format: "learning-mechanics/sweep",
    version: 1,
    experiment: "/w/dd.experiment.ts",
    system: "rf",
    createdAt: "2026-12-03T10:00:00Z",
    fields: ["model.hidden[0]"],
    mode: "grid",
    seeds: [0],
    points: [
      { index: 0, values: { "model.hidden[0]": 8 }, seed: 0, run: "0000", status: "finished" },
      { index: 1, values: { "model.hidden[0]": 16 }, seed: 0, run: "0001", status: "queued", slurmJob: "12_1" },
    ],
    launcher: { kind: "slurm", jobIds: ["12"], options: { partition: "debug" } },
  };
}

test("a valid sweep.json parses; run names are zero-padded indices", () => {
  const r = parseSweepManifest(JSON.stringify(manifest()));
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.manifest.points[1]?.slurmJob, "12_1");
  assert.equal(sweepRunName(7), "0007");
  assert.equal(sweepRunName(12345), "12345");
});

test("each problem names its field: indices, run names that escape the folder, statuses, values, launcher", () => {
  const m = manifest() as unknown as Record<string, unknown>;
  const points = m.points as Record<string, unknown>[];
  points[1] = { ...points[1], index: 5, run: "..", status: "done", values: { x: null } };
  m.launcher = { kind: "local", parallel: 0 };
  const r = parseSweepManifest(JSON.stringify(m));
  assert.equal(r.ok, false);
  const problems = r.ok ? [] : r.problems;
  assert.deepEqual(problems, [
    "points[1].index: expected 1",
    "points[1].run: expected a plain folder name",
    "points[1].status: expected one of pending, queued, running, finished, stopped, failed, diverged, cancelled",
    'points[1].values["x"]: expected a number, string or boolean',
    "launcher.parallel: expected an integer ≥ 1",
  ]);
  assert.deepEqual(parseSweepManifest("{").ok, false);
  assert.match((parseSweepManifest("[]") as { problems: string[] }).problems[0] ?? "", /not a JSON object/);
});

test("steps, when present, is a positive integer", () => {
  assert.equal(parseSweepManifest(JSON.stringify({ ...manifest(), steps: 40 })).ok, true);
  const r = parseSweepManifest(JSON.stringify({ ...manifest(), steps: 0 }));
  assert.deepEqual(r.ok ? [] : r.problems, ["steps: expected a positive integer"]);
});
