// The sweep summary's "steps to reach an accuracy" (src/shared/sweepSummary.ts): what the sweep
// panel plots for a lottery ticket's speed against sparsity (docs/lottery-tickets.md).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunData } from "../../src/shared/analysisViews";
import type { RunManifest } from "../../src/shared/runFormat";
import { pointSummary } from "../../src/shared/sweepSummary";
import { quantityLabel } from "../../src/shared/sweepView";
import * as fs from "node:fs";
import * as path from "node:path";
import { SweepContent } from "../../src/extension/panels/sweepPanel";
import { RunIndex } from "../../src/extension/runIndex";
import { IMP_SWEEP_STATE, type SweepHostMessage } from "../../src/shared/panels/sweep";
import { SWEEP_FORMAT, type SweepManifest } from "../../src/shared/sweepFormat";
import { sweepSeries } from "../../src/shared/sweepView";
import { impPoints } from "../../src/trainer/imp";
import { tempDir } from "../support";

test("the sweep summary: the first logged step each accuracy reaches 0.9, 0.95, 0.99", () => {
  const data: RunData = {
    runDir: "/r",
    manifest: { config: {} } as RunManifest,
    metrics: [
      { step: 0, time: 0, test_acc: 0.5, train_acc: 0.5 },
      { step: 25, time: 1, test_acc: 0.92, train_acc: 0.96 },
      { step: 50, time: 2, test_acc: 0.89, train_acc: 1 },
      { step: 75, time: 3, test_acc: 0.96, train_acc: 1 },
    ],
    analyses: {},
    unreadable: [],
  };
  const y = pointSummary(data);
  assert.equal(y["reach:test_acc:0.9"], 25);
  assert.equal(y["reach:test_acc:0.95"], 75);
  assert.equal(y["reach:test_acc:0.99"], undefined, "never reached: no value");
  assert.equal(y["reach:train_acc:0.95"], 25);
  assert.equal(y["reach:train_acc:0.99"], 50);
  assert.equal(quantityLabel("reach:test_acc:0.95"), "steps to test_acc ≥ 0.95");
});

test("the sweep panel on an IMP folder: accuracy against % weights remaining on log x, a line per kind", async (t) => {
  const root = tempDir(t);
  const dir = path.join(root, "parity-imp-20260101-000000");
  fs.mkdirSync(dir);
  const imp = { rounds: 2, fraction: 0.5, scope: "global" as const, rewind: 0, controls: ["reinit" as const] };
  const points = impPoints(imp, 0);
  const m: SweepManifest = {
    format: SWEEP_FORMAT,
    version: 1,
    experiment: "/exp/lottery.experiment.ts",
    system: "parity",
    createdAt: "2026-01-01T00:00:00.000Z",
    fields: ["weights remaining (%)", "kind", "round"],
    mode: "list",
    seeds: [0, 1, 2],
    points: points.map((p) => ({ ...p, status: "finished" })),
    launcher: { kind: "local", parallel: 2 },
    imp,
  };
  fs.writeFileSync(path.join(dir, "sweep.json"), JSON.stringify(m));
  const acc: Record<string, number[]> = {
    "r0-ticket": [0.5, 0.96, 1],
    "r1-ticket": [0.5, 0.97, 1],
    "r1-reinit": [0.5, 0.8, 0.99],
    "r2-ticket": [0.5, 0.9, 0.98],
    "r2-reinit": [0.5, 0.55, 0.6],
  };
  for (const p of m.points) {
    const run = path.join(dir, p.run);
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, "run.json"),
      JSON.stringify({
        format: "learning-mechanics/run",
        formatVersion: 1,
        id: p.run,
        system: "parity",
        config: {},
        seed: p.seed,
        backend: { name: "cpu", reason: "test" },
        status: "finished",
        startedAt: "2026-01-01T00:00:00.000Z",
        updatedAt: "2026-01-01T00:01:00.000Z",
        totalSteps: 50,
        step: 50,
        producer: "test",
      }),
    );
    fs.writeFileSync(
      path.join(run, "metrics.jsonl"),
      acc[p.run]!.map((a, i) => `${JSON.stringify({ step: 25 * i, time: i, test_acc: a })}\n`).join(""),
    );
  }
  const runs = new RunIndex([root]);
  await runs.scan();
  const init = new SweepContent({ runIndex: runs }, dir).init(undefined);
  assert.deepEqual(init.problems, []);
  const msg = init.messages[0] as Extract<SweepHostMessage, { type: "init" }>;
  assert.deepEqual(msg.state, IMP_SWEEP_STATE, "an IMP folder opens on accuracy against sparsity, log x");
  const series = sweepSeries(msg.points, {
    y: IMP_SWEEP_STATE.y!,
    x: IMP_SWEEP_STATE.x!,
    group: IMP_SWEEP_STATE.group,
    spread: "minmax",
  });
  assert.deepEqual(
    series.series.map((s) => [s.group, s.points.map((p) => [p.x, p.mean])]),
    [
      [
        "reinit",
        [
          [25, 0.6],
          [50, 0.99],
        ],
      ],
      [
        "ticket",
        [
          [25, 0.98],
          [50, 1],
          [100, 1],
        ],
      ],
    ],
  );
  const speed = sweepSeries(msg.points, {
    y: "reach:test_acc:0.95",
    x: IMP_SWEEP_STATE.x!,
    group: "kind",
    spread: "minmax",
  });
  assert.deepEqual(
    speed.series.map((s) => [s.group, s.points.map((p) => [p.x, p.mean])]),
    [
      ["reinit", [[50, 50]]],
      [
        "ticket",
        [
          [25, 50],
          [50, 25],
          [100, 25],
        ],
      ],
    ],
  );
  assert.equal(speed.missing, 1, "r2-reinit never reaches 0.95");
  // A state the user saved wins.
  const saved = { ...IMP_SWEEP_STATE, logX: false };
  const again = new SweepContent({ runIndex: runs }, dir).init(saved).messages[0] as Extract<
    SweepHostMessage,
    { type: "init" }
  >;
  assert.deepEqual(again.state, saved);
});
