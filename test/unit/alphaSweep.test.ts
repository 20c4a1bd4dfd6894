// The α sweep as a case of the sweep panel: the c/α fit (src/shared/alphaFit.ts) in closed form,
// the implicit-sweep grouping of runs that differ only in α (src/shared/implicitSweep.ts), the
// sweep panel's content over such runs on real folders, the lazy-vs-rich panel's links to them,
// and the α view's default state.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { LazyRichContent } from "../../src/extension/panels/lazyRichPanel";
import { PanelSession } from "../../src/extension/panels/panelSession";
import { ImplicitSweepContent, SWEEP, SweepContent } from "../../src/extension/panels/sweepPanel";
import { RunIndex } from "../../src/extension/runIndex";
import { inverseAlphaFit, inverseAlphaPower } from "../../src/shared/alphaFit";
import type { AnalysisFile } from "../../src/shared/analysisFormat";
import type { RunData } from "../../src/shared/analysisViews";
import { alphaSweepGroups, declaredAlphaSweeps, type ManifestRun } from "../../src/shared/implicitSweep";
import { isLazyRichWebviewMessage, type LazyRichHostMessage } from "../../src/shared/panels/lazyRich";
import { DEFAULT_SWEEP_STATE, defaultSweepState, type SweepHostMessage } from "../../src/shared/panels/sweep";
import type { RunManifest } from "../../src/shared/runFormat";
import { SWEEP_FORMAT, type SweepManifest, sweepRunName } from "../../src/shared/sweepFormat";
import { pointSummary } from "../../src/shared/sweepSummary";
import { tempDir } from "../support";

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test("c/α fit: points exactly on c/α give c back, slope −1, and follow 1/α from the least α", () => {
  const fit = inverseAlphaFit([0.1, 1, 10, 100].map((x) => ({ x, y: 0.7 / x })));
  assert.ok(fit);
  assert.ok(close(fit.c, 0.7), String(fit.c));
  assert.ok(close(fit.slope!, -1), String(fit.slope));
  assert.equal(fit.n, 4);
  assert.equal(fit.lazyFrom, 0.1);
  // Seeds at one α: the fit uses every run; c is still the geometric mean of y·α.
  const seeds = inverseAlphaFit([
    { x: 1, y: 2 },
    { x: 1, y: 8 },
    { x: 4, y: 1 },
  ]);
  assert.ok(seeds && close(seeds.c, Math.cbrt(2 * 8 * 4)));
});

test("c/α fit: the geometric mean of y·α otherwise; points without logarithms are skipped", () => {
  // The numbers the old lazy-vs-rich α view's fit was tested with.
  const pts = [
    { x: 1, y: 2 },
    { x: 4, y: 2 },
    { x: -1, y: 3 },
    { x: 2, y: 0 },
  ];
  const fit = inverseAlphaFit(pts);
  assert.ok(fit && close(fit.c, Math.sqrt(2 * 8)));
  assert.equal(fit.n, 2);
  assert.equal(fit.slope, 0, "two points at one height: a flat free fit");
  assert.equal(fit.lazyFrom, null, "flat is not 1/α");
  assert.equal(inverseAlphaFit([{ x: 0, y: 1 }]), null);
  assert.equal(inverseAlphaFit([{ x: 3, y: 1 }])!.slope, null, "one α: no free slope");
});

test("c/α fit: a rich + lazy mix is shallower than −1 and follows 1/α only from where it turns lazy", () => {
  // Rich at small α (the change saturates at O(1)), lazy (0.5/α) from α = 10 up.
  const pts = [
    { x: 0.01, y: 1 },
    { x: 0.1, y: 1 },
    { x: 10, y: 0.05 },
    { x: 100, y: 0.005 },
    { x: 1000, y: 0.0005 },
  ];
  const fit = inverseAlphaFit(pts)!;
  // Least squares by hand: b = Σ(lx − mx)(ly − my) / Σ(lx − mx)².
  const lx = pts.map((p) => Math.log10(p.x));
  const ly = pts.map((p) => Math.log10(p.y));
  const mx = lx.reduce((s, v) => s + v, 0) / 5;
  const my = ly.reduce((s, v) => s + v, 0) / 5;
  const b = lx.reduce((s, v, i) => s + (v - mx) * (ly[i]! - my), 0) / lx.reduce((s, v) => s + (v - mx) ** 2, 0);
  assert.ok(close(fit.slope!, b, 1e-9), `${fit.slope} vs ${b}`);
  assert.ok(fit.slope! > -0.9 && fit.slope! < -0.5, String(fit.slope));
  // 0.1 → 10 has slope log(0.05)/log(100) = −0.65: the lazy stretch starts at 10, and c is
  // fitted there (0.5), not pulled down by the rich points (all five: (0.01·0.1·0.5³)^(1/5)).
  assert.equal(fit.lazyFrom, 10);
  assert.ok(close(fit.c, 0.5), String(fit.c));
  assert.equal(fit.cOver, 3);
  assert.equal(fit.n, 5);
  // Not lazy even at the top: null, and c over every point.
  const flat = inverseAlphaFit(pts.map((p) => ({ x: p.x, y: p.x <= 0.1 ? 1 : 2 })))!;
  assert.equal(flat.lazyFrom, null);
  assert.equal(flat.cOver, 5);
  assert.ok(close(flat.c, (0.01 * 0.1 * 20 * 200 * 2000) ** (1 / 5)));
});

test("c/α² fit (kernel distance): points on c/α² give c back, slope −2; 1/α points do not follow it", () => {
  const fit = inverseAlphaFit(
    [1, 10, 100].map((x) => ({ x, y: 3e-4 / x ** 2 })),
    2,
  )!;
  assert.equal(fit.power, 2);
  assert.ok(close(fit.c, 3e-4) && close(fit.slope!, -2), JSON.stringify(fit));
  assert.equal(fit.lazyFrom, 1);
  assert.equal(
    inverseAlphaFit(
      [1, 10, 100].map((x) => ({ x, y: 1 / x })),
      2,
    )!.lazyFrom,
    null,
  );
});

test("the line is drawn for α against final RWC (c/α) or kernel distance (c/α²) only; α sweeps open log-log on RWC", () => {
  assert.equal(inverseAlphaPower("model.alpha", "analysis:rwc"), 1);
  assert.equal(inverseAlphaPower("model.alpha", "analysis:kernelDistance"), 2);
  assert.equal(inverseAlphaPower("model.alpha", "final:test_loss"), null);
  assert.equal(inverseAlphaPower("model.alpha", "toString"), null);
  assert.equal(inverseAlphaPower("optimizer.lr", "analysis:rwc"), null);
  assert.deepEqual(defaultSweepState(["model.hidden[0]", "model.alpha"]), {
    ...DEFAULT_SWEEP_STATE,
    y: "analysis:rwc",
    x: "model.alpha",
    logX: true,
    logY: true,
  });
  assert.deepEqual(defaultSweepState(["optimizer.weightDecay"]), DEFAULT_SWEEP_STATE);
});

function manifest(config: Record<string, unknown>, extra: Partial<RunManifest> = {}): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "r",
    system: "s",
    experiment: { path: "/x/e.experiment.ts", sha256: "sha256:0" },
    config,
    seed: 0,
    backend: { name: "cpu", reason: "" },
    status: "finished",
    startedAt: "",
    updatedAt: "",
    totalSteps: 100,
    step: 100,
    producer: "test",
    ...extra,
  };
}

const cfg = (alpha: number, hidden = 256) => ({
  task: { kind: "teacherStudent" },
  model: { kind: "mlp", hidden: [hidden], alpha, centered: alpha !== 1 },
  description: `α = ${alpha}`,
});

test("implicit sweeps: runs whose configs differ only in α (and seed), by α then seed; others are not grouped", () => {
  // The old lazy-vs-rich α view's grouping test, same runs and numbers.
  const run = (id: string, alpha: number, hidden?: number, seed = 0): ManifestRun => ({
    runDir: id,
    manifest: manifest({ ...cfg(alpha, hidden), seed }, { system: `alpha${alpha}`, seed }),
  });
  const groups = alphaSweepGroups([run("a", 10), run("b", 0.1), run("c", 1), run("d", 1, 64)]);
  assert.equal(groups.length, 1);
  assert.deepEqual(
    groups[0]!.runs.map((r) => [r.runDir, r.alpha, r.seed]),
    [
      ["b", 0.1, 0],
      ["c", 1, 0],
      ["a", 10, 0],
    ],
  );
  assert.equal(groups[0]!.name, "e.experiment.ts", "several systems: named by the file");
  // Seeds pool (the panel's spread); one α alone is no sweep; a declared sweep's points are its own.
  const seeded = alphaSweepGroups([run("a0", 1, 8, 0), run("a1", 1, 8, 1), run("b0", 2, 8, 0), run("z", 5, 16)]);
  assert.deepEqual(
    seeded.map((g) => g.runs.map((r) => `${r.runDir}@${r.seed}`)),
    [["a0@0", "a1@1", "b0@0"]],
  );
  const point = (dir: string, alpha: number): ManifestRun => ({
    runDir: `/runs/ts-sweep-20260101-000000/${dir}`,
    manifest: manifest(cfg(alpha), {
      sweep: { dir: "..", index: 0, values: { "model.alpha": alpha }, seed: 0 },
    }),
  });
  assert.deepEqual(alphaSweepGroups([point("0000", 0.1), point("0001", 1)]), []);
  assert.deepEqual(declaredAlphaSweeps([point("0000", 0.1), point("0001", 1), run("c", 1)]), [
    "/runs/ts-sweep-20260101-000000",
  ]);
});

function weights(relChange: number): AnalysisFile<"weights"> {
  return {
    header: {
      format: "learning-mechanics/analysis",
      formatVersion: 1,
      analysis: "weights",
      settings: {},
      producer: "t",
      createdAt: "",
    },
    records: [{ step: 100, tensors: {}, paramNorm: 1, relChange }],
    partialTail: false,
    badLines: [],
  };
}

test("an implicit sweep's points carry the old α view's final relative weight change as analysis:rwc", () => {
  const data = (rel: number): RunData => ({
    runDir: "/r",
    manifest: manifest(cfg(1)),
    metrics: [],
    analyses: { weights: weights(rel) },
    unreadable: [],
  });
  assert.deepEqual(
    [1, 0.1, 0.01].map((rel) => pointSummary(data(rel))["analysis:rwc"]),
    [1, 0.1, 0.01],
  );
});

/** A finished run of lazy-rich.experiment.ts at this α and seed, with a test-loss curve. */
function writeRun(root: string, name: string, alpha: number, seed: number, losses: number[]): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "run.json"),
    JSON.stringify(
      manifest(
        { ...cfg(alpha), seed },
        {
          id: name,
          system: `alpha${alpha}`,
          experiment: { path: "/exp/lazy-rich.experiment.ts", sha256: "sha256:00" },
          seed,
        },
      ),
    ),
  );
  fs.writeFileSync(
    path.join(dir, "metrics.jsonl"),
    `${losses.map((l, i) => JSON.stringify({ step: i + 1, time: i, test_loss: l })).join("\n")}\n`,
  );
  return dir;
}

test("sweep panel over an implicit sweep: its runs as points with α as the swept field; a run's change; links from lazy vs rich", async (t) => {
  const root = tempDir(t);
  const a10 = writeRun(root, "alpha10-1", 10, 0, [0.5, 0.04]);
  const a01 = writeRun(root, "alpha0_1-1", 0.1, 0, [0.5, 0.004]);
  const a01s1 = writeRun(root, "alpha0_1-2", 0.1, 1, [0.5, 0.006]);
  const runs = new RunIndex([root]);
  await runs.scan();

  // The lazy-vs-rich panel on one run links to the implicit sweep of it and its siblings.
  const lr = new LazyRichContent({ runIndex: runs }, [a10]);
  const init = lr.init(undefined).messages[0] as Extract<LazyRichHostMessage, { type: "init" }>;
  assert.deepEqual(
    init.sweeps.map((s) => [s.name, s.kind, s.runs, s.alphas]),
    [["lazy-rich.experiment.ts", "implicit", 3, [0.1, 10]]],
  );
  const dirs = lr.sweepDirs(init.sweeps[0]!.id);
  assert.deepEqual(dirs, [a01, a01s1, a10], "by α, then seed");
  assert.equal(lr.sweepDirs("implicit:made up"), undefined);

  // The page's openSweep reaches the host as those folders; an id the content did not send is refused.
  const opened: string[][] = [];
  const warnings: string[] = [];
  const session = new PanelSession(
    "Lazy vs rich",
    lr,
    isLazyRichWebviewMessage,
    {
      post: () => {},
      warn: (w) => warnings.push(w),
      stateChanged: () => {},
      saveExport: () => {},
      rerun: () => {},
      openRun: () => {},
      openSweep: (d) => opened.push(d),
    },
    undefined,
  );
  session.receive({ type: "openSweep", id: init.sweeps[0]!.id });
  session.receive({ type: "openSweep", id: "/etc" });
  assert.deepEqual(opened, [[a01, a01s1, a10]]);
  assert.match(warnings.join(), /ignored a request to open a sweep it did not offer/);

  // The sweep panel: several folders make an implicit sweep.
  const content = SWEEP.content({ runIndex: runs }, dirs!);
  assert.ok(content instanceof ImplicitSweepContent);
  assert.ok(SWEEP.content({ runIndex: runs }, [root]) instanceof SweepContent);
  const up = content.init(undefined);
  assert.deepEqual(up.problems, []);
  const msg = up.messages[0] as Extract<SweepHostMessage, { type: "init" }>;
  assert.deepEqual(msg.sweep, {
    dir: root,
    system: "lazy-rich.experiment.ts",
    fields: ["model.alpha"],
    launcher: "local",
    implicit: true,
  });
  assert.deepEqual(
    msg.points.map((p) => [p.index, p.runId, p.values, p.seed, p.status, p.y["final:test_loss"]]),
    [
      [0, a01, { "model.alpha": 0.1 }, 0, "finished", 0.004],
      [1, a01s1, { "model.alpha": 0.1 }, 1, "finished", 0.006],
      [2, a10, { "model.alpha": 10 }, 0, "finished", 0.04],
    ],
  );
  // A run logs more: its point is sent again; a folder not in the sweep sends nothing.
  fs.appendFileSync(path.join(a10, "metrics.jsonl"), `${JSON.stringify({ step: 3, time: 2, test_loss: 0.03 })}\n`);
  const r = content.refresh(a10);
  assert.ok(r !== "init");
  assert.deepEqual(
    r.messages.map((m) => (m.type === "point" ? [m.point.index, m.point.y["final:test_loss"]] : [])),
    [[2, 0.03]],
  );
  assert.deepEqual(content.refresh(path.join(root, "elsewhere")), { messages: [] });
  // A click opens only the sweep's own runs.
  assert.equal(SWEEP.opensRun?.(dirs!, a01s1), true);
  assert.equal(SWEEP.opensRun?.(dirs!, path.join(root, "elsewhere")), false);
  // A run folder that vanished is named, the others still shown.
  fs.rmSync(a01s1, { recursive: true });
  runs.update(a01s1);
  const partial = new ImplicitSweepContent({ runIndex: runs }, dirs!).init(undefined);
  assert.match(partial.problems?.join() ?? "", /alpha0_1-2: no run\.json/);
  assert.equal((partial.messages[0] as Extract<SweepHostMessage, { type: "init" }>).points.length, 2);
});

test("lazy vs rich on a point of a declared α sweep links to the sweep folder, not an implicit sweep", async (t) => {
  const root = tempDir(t);
  const dir = path.join(root, "alphaSweep-sweep-20260101-000000");
  fs.mkdirSync(dir, { recursive: true });
  const sweep: SweepManifest = {
    format: SWEEP_FORMAT,
    version: 1,
    experiment: "/exp/lazy-rich.experiment.ts",
    system: "alphaSweep",
    createdAt: "2026-01-01T00:00:00.000Z",
    fields: ["model.alpha"],
    mode: "grid",
    seeds: [0],
    points: [0.1, 1, 10].map((alpha, index) => ({
      index,
      values: { "model.alpha": alpha },
      seed: 0,
      run: sweepRunName(index),
      status: index < 2 ? "finished" : "pending",
    })),
    launcher: { kind: "local", parallel: 1 },
  };
  fs.writeFileSync(path.join(dir, "sweep.json"), JSON.stringify(sweep));
  const points = [0.1, 1].map((alpha, index) => {
    const run = path.join(dir, sweepRunName(index));
    fs.mkdirSync(run);
    const m = manifest(
      { ...cfg(alpha), seed: 0 },
      {
        id: `alphaSweep-${index}`,
        system: "alphaSweep",
        experiment: { path: "/exp/lazy-rich.experiment.ts", sha256: "sha256:00" },
        sweep: { dir: "..", index, values: { "model.alpha": alpha }, seed: 0 },
      },
    );
    fs.writeFileSync(path.join(run, "run.json"), JSON.stringify(m));
    return run;
  });
  const runs = new RunIndex([root]);
  await runs.scan();
  const lr = new LazyRichContent({ runIndex: runs }, [points[0]!]);
  const init = lr.init(undefined).messages[0] as Extract<LazyRichHostMessage, { type: "init" }>;
  assert.deepEqual(
    init.sweeps.map((s) => [s.name, s.kind, s.runs, s.alphas]),
    [["alphaSweep-sweep-20260101-000000", "declared", 3, [0.1, 1, 10]]],
  );
  assert.deepEqual(lr.sweepDirs(init.sweeps[0]!.id), [dir]);
});
