// The grokking detector on synthetic curves whose t_mem and t_gen are known in closed form:
// sigmoid accuracies cross a threshold q at t = centre + width·ln(q'/(1 − q')), q' the threshold
// rescaled above chance; t_mem / t_gen is the first evaluation step at or after that time.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  INITIAL_DETECTOR_STATE,
  advanceGrokkingDetector,
  analyzeGrokking,
  chanceTolerance,
  detectJump,
  type GrokkingEvent,
} from "../../src/measures/grokking";
import { debiasedEma, smoothSeries } from "../../src/measures/smoothing";
import type { MetricsRecord } from "../../src/shared/runFormat";
import { Rng } from "../../src/sdk/rng";

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

interface Curve {
  chance: number;
  memCentre: number;
  memWidth: number;
  genCentre: number; // Infinity: never generalizes
  genWidth: number;
  trainCeiling?: number; // < 1: never memorizes
  lossPeak: number; // test loss bump after memorization, peak here
  normPeak: number; // param norm peak here
  jumpAt: number; // an extra "kta" series jumps here
}

const GROK: Curve = {
  chance: 1 / 97,
  memCentre: 400,
  memWidth: 60,
  genCentre: 6000,
  genWidth: 250,
  lossPeak: 2500,
  normPeak: 3000,
  jumpAt: 4500,
};

function trainAcc(c: Curve, t: number): number {
  return c.chance + ((c.trainCeiling ?? 1) - c.chance) * sigmoid((t - c.memCentre) / c.memWidth);
}
function testAcc(c: Curve, t: number): number {
  return c.chance + (1 - c.chance) * (Number.isFinite(c.genCentre) ? sigmoid((t - c.genCentre) / c.genWidth) : 0);
}
/** The exact time a sigmoid accuracy curve reaches q. */
function crossing(chance: number, centre: number, width: number, q: number, ceiling = 1): number {
  const frac = (q - chance) / (ceiling - chance);
  return centre + width * Math.log(frac / (1 - frac));
}
function firstStepAtOrAfter(steps: readonly number[], t: number): number {
  const s = steps.find((x) => x >= t);
  assert.ok(s !== undefined, `no evaluation after ${t}`);
  return s;
}

function record(c: Curve, t: number, noise?: { rng: Rng; n: number }): MetricsRecord {
  const jitter = (a: number): number => {
    if (!noise) return a;
    const sd = Math.sqrt((a * (1 - a)) / noise.n); // binomial sampling noise of an accuracy on n examples
    return Math.min(1, Math.max(0, a + sd * noise.rng.normal()));
  };
  const mult = (v: number): number => (noise ? v * (1 + 0.03 * noise.rng.normal()) : v);
  const genDrop = Number.isFinite(c.genCentre) ? sigmoid((t - c.genCentre) / c.genWidth) : 0;
  return {
    step: t,
    time: t / 100,
    train_acc: jitter(trainAcc(c, t)),
    test_acc: jitter(testAcc(c, t)),
    train_loss: mult(4.6 * (1 - sigmoid((t - c.memCentre) / c.memWidth)) + 0.01),
    test_loss: mult(4.6 + 1.5 * Math.exp(-(((t - c.lossPeak) / 1200) ** 2)) - 4.5 * genDrop),
    param_norm: mult(30 + 10 * Math.exp(-(((t - c.normPeak) / 1500) ** 2))),
    kta: mult(0.2 + 0.6 * sigmoid((t - c.jumpAt) / 150)),
  };
}

function run(c: Curve, steps: readonly number[], noise?: { seed: number; n: number }): MetricsRecord[] {
  const rng = noise ? new Rng(noise.seed, "grokking-test") : undefined;
  return steps.map((t) => record(c, t, rng && noise ? { rng, n: noise.n } : undefined));
}

const range = (start: number, end: number, every: number): number[] =>
  Array.from({ length: Math.floor((end - start) / every) + 1 }, (_, i) => start + i * every);

test("clean sigmoid curves: t_mem, t_gen, delay, ratio, chance check, verdict and phases", () => {
  const steps = range(0, 10000, 50);
  const r = analyzeGrokking(run(GROK, steps), { chanceAccuracy: GROK.chance, testSetSize: 6000 });
  const tMem = firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.memCentre, GROK.memWidth, 0.99));
  const tGen = firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.genCentre, GROK.genWidth, 0.95));
  assert.equal(r.tMem, tMem);
  assert.equal(r.tGen, tGen);
  assert.equal(r.delay, tGen - tMem);
  assert.equal(r.ratio, tGen / tMem);
  assert.deepEqual(r.verdict, { kind: "grokked", tMem, tGen, delay: tGen - tMem, ratio: tGen / tMem });
  assert.ok(Math.abs(r.testAccAtMem! - testAcc(GROK, tMem)) < 1e-12);
  assert.equal(r.testAccAtChance, true);
  assert.equal(r.chanceBand?.basis, "binomial");
  assert.deepEqual(r.phases, [
    { kind: "pre-memorization", startStep: 0, endStep: tMem },
    { kind: "circuit-formation", startStep: tMem, endStep: tGen },
    { kind: "generalized", startStep: tGen, endStep: 10000 },
  ]);
});

test("clean curves: early-warning indicators land at the planted steps with lead time t_gen − step", () => {
  const steps = range(0, 10000, 50);
  const r = analyzeGrokking(run(GROK, steps), { jumpMetrics: ["kta"] });
  const tGen = r.tGen!;
  const { weightNormPeak, testLossTurnaround, jumps } = r.indicators;
  assert.ok(weightNormPeak && Math.abs(weightNormPeak.step - GROK.normPeak) <= 50, `norm peak ${weightNormPeak?.step}`);
  assert.equal(weightNormPeak.leadTime, tGen - weightNormPeak.step);
  // The loss bump's peak is pulled slightly earlier by the generalization drop; within 2 evaluations.
  assert.ok(
    testLossTurnaround && Math.abs(testLossTurnaround.step - GROK.lossPeak) <= 100,
    `turnaround ${testLossTurnaround?.step}`,
  );
  assert.equal(testLossTurnaround.leadTime, tGen - testLossTurnaround.step);
  assert.equal(jumps.length, 1);
  const kta = jumps[0]!;
  assert.equal(kta.name, "kta");
  assert.ok(kta.indicator && Math.abs(kta.indicator.step - GROK.jumpAt) <= 50, `kta jump ${kta.indicator?.step}`);
  assert.equal(kta.indicator.leadTime, tGen - kta.indicator.step);
});

test("noisy curves (seeded binomial accuracy noise, 3% loss noise): the same answers within a few evaluations", () => {
  const steps = range(0, 10000, 50);
  const tMem = firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.memCentre, GROK.memWidth, 0.99));
  const tGen = firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.genCentre, GROK.genWidth, 0.95));
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = analyzeGrokking(run(GROK, steps, { seed, n: 2000 }), {
      chanceAccuracy: GROK.chance,
      testSetSize: 2000,
      jumpMetrics: ["kta"],
    });
    assert.ok(r.tMem !== undefined && Math.abs(r.tMem - tMem) <= 150, `seed ${seed}: t_mem ${r.tMem} vs ${tMem}`);
    assert.ok(r.tGen !== undefined && Math.abs(r.tGen - tGen) <= 150, `seed ${seed}: t_gen ${r.tGen} vs ${tGen}`);
    assert.equal(r.verdict.kind, "grokked");
    assert.equal(r.testAccAtChance, true);
    const { weightNormPeak, testLossTurnaround, jumps } = r.indicators;
    assert.ok(
      weightNormPeak && Math.abs(weightNormPeak.step - GROK.normPeak) <= 400,
      `seed ${seed}: norm peak ${weightNormPeak?.step}`,
    );
    assert.ok(
      testLossTurnaround && Math.abs(testLossTurnaround.step - GROK.lossPeak) <= 500,
      `seed ${seed}: turnaround ${testLossTurnaround?.step}`,
    );
    assert.ok(testLossTurnaround.leadTime! > 2000);
    assert.ok(
      jumps[0]!.indicator && Math.abs(jumps[0]!.indicator.step - GROK.jumpAt) <= 250,
      `seed ${seed}: jump ${jumps[0]!.indicator?.step}`,
    );
  }
});

test("a test accuracy that touches the threshold without holding is not generalization", () => {
  const steps = range(0, 10000, 50);
  const recs = run(GROK, steps);
  const spikeAt = (step: number, v: number): void => {
    recs.find((r) => r.step === step)!["test_acc"] = v;
  };
  spikeAt(2000, 0.96); // once
  spikeAt(3000, 0.97); // twice in a row: still short of hold = 3
  spikeAt(3050, 0.98);
  const r = analyzeGrokking(recs);
  assert.equal(r.tGen, firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.genCentre, GROK.genWidth, 0.95)));
  // With hold = 2 the double spike counts.
  assert.equal(analyzeGrokking(recs, { hold: 2 }).tGen, 3000);
  assert.equal(analyzeGrokking(recs, { hold: 1 }).tGen, 2000);
});

test("never grokking: memorized, test at chance to the end; no t_gen and no lead times", () => {
  const never: Curve = { ...GROK, genCentre: Infinity };
  const steps = range(0, 8000, 100);
  const r = analyzeGrokking(run(never, steps), { chanceAccuracy: never.chance });
  const tMem = firstStepAtOrAfter(steps, crossing(never.chance, never.memCentre, never.memWidth, 0.99));
  assert.equal(r.tGen, undefined);
  assert.equal(r.delay, undefined);
  assert.equal(r.ratio, undefined);
  assert.deepEqual(r.verdict, { kind: "memorized", tMem, stepsSinceMemorization: 8000 - tMem });
  assert.deepEqual(
    r.phases.map((p) => p.kind),
    ["pre-memorization", "circuit-formation"],
  );
  assert.equal(r.phases[1]!.endStep, 8000);
  assert.equal(r.testAccAtChance, true);
  assert.equal(r.chanceBand?.basis, "assumed-test-size");
  assert.equal(r.indicators.testLossTurnaround?.leadTime, undefined);
});

test("generalization without delay: test accuracy follows train accuracy", () => {
  const together: Curve = { ...GROK, memCentre: 1000, memWidth: 80, genCentre: 1100, genWidth: 80 };
  const steps = range(0, 5000, 25);
  const r = analyzeGrokking(run(together, steps), { chanceAccuracy: together.chance, testSetSize: 5000 });
  assert.equal(r.verdict.kind, "generalized-without-delay");
  assert.ok(r.ratio! < 2 && r.ratio! > 0.5);
  assert.equal(r.testAccAtChance, false, `test accuracy at t_mem is ${r.testAccAtMem}: well above chance`);
  // Test accuracy crossing 0.95 before train reaches 0.99: still no delay, phases skip circuit formation.
  const early: Curve = { ...together, genCentre: 900 };
  const e = analyzeGrokking(run(early, steps));
  assert.equal(e.verdict.kind, "generalized-without-delay");
  assert.deepEqual(
    e.phases.map((p) => p.kind),
    ["pre-memorization", "generalized"],
  );
});

test("not memorized: train accuracy plateaus below the threshold", () => {
  const stuck: Curve = { ...GROK, trainCeiling: 0.9, genCentre: Infinity };
  const r = analyzeGrokking(run(stuck, range(0, 5000, 50)));
  assert.deepEqual(r.verdict, { kind: "not-memorized", tGen: undefined });
  assert.equal(r.tMem, undefined);
  assert.deepEqual(r.phases, [{ kind: "pre-memorization", startStep: 0, endStep: 5000 }]);
  assert.equal(r.indicators.testLossTurnaround, undefined);
  // A lower threshold makes the same run memorized: the setting is honoured.
  assert.equal(analyzeGrokking(run(stuck, range(0, 5000, 50)), { trainThreshold: 0.85 }).verdict.kind, "memorized");
});

test("missing and null values are not evaluations: they neither break nor extend a held run", () => {
  const steps = range(0, 10000, 10);
  const recs = run(GROK, steps).map((r, i): MetricsRecord => {
    // The trainer's shape: train metrics every 10 steps, evaluations every 100, some nulls.
    const out: MetricsRecord = { step: r.step, time: r.time, train_loss: r["train_loss"]!, train_acc: r["train_acc"]! };
    if (r.step % 100 === 0) {
      out["test_acc"] = i % 7 === 3 ? null : r["test_acc"]!;
      out["test_loss"] = r["test_loss"]!;
      out["param_norm"] = r["param_norm"]!;
    }
    if (i % 5 === 1) delete out["train_acc"];
    if (i % 11 === 2) out["train_acc"] = null;
    return out;
  });
  const evalSteps = (name: string): number[] => recs.filter((r) => typeof r[name] === "number").map((r) => r.step);
  const r = analyzeGrokking(recs);
  assert.equal(
    r.tMem,
    firstStepAtOrAfter(evalSteps("train_acc"), crossing(GROK.chance, GROK.memCentre, GROK.memWidth, 0.99)),
  );
  assert.equal(
    r.tGen,
    firstStepAtOrAfter(evalSteps("test_acc"), crossing(GROK.chance, GROK.genCentre, GROK.genWidth, 0.95)),
  );
  assert.equal(r.verdict.kind, "grokked");
  // A null between two above-threshold evaluations does not reset the run.
  const tiny: MetricsRecord[] = [
    { step: 0, time: 0, test_acc: 0.1 },
    { step: 10, time: 1, test_acc: 0.96 },
    { step: 20, time: 2, test_acc: null },
    { step: 30, time: 3, test_acc: 0.97 },
    { step: 40, time: 4 },
    { step: 50, time: 5, test_acc: 0.98 },
  ];
  assert.equal(analyzeGrokking(tiny).tGen, 10);
  assert.deepEqual(analyzeGrokking([]).verdict, { kind: "not-memorized", tGen: undefined });
  assert.deepEqual(analyzeGrokking([]).phases, []);
});

test("uneven evaluation cadence: dense early, sparse late", () => {
  const steps = [...range(0, 1000, 10), ...range(1250, 10000, 250)];
  const r = analyzeGrokking(run(GROK, steps), { jumpMetrics: ["kta"] });
  assert.equal(r.tMem, firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.memCentre, GROK.memWidth, 0.99)));
  assert.equal(r.tGen, firstStepAtOrAfter(steps, crossing(GROK.chance, GROK.genCentre, GROK.genWidth, 0.95)));
  const jump = r.indicators.jumps[0]!.indicator;
  assert.ok(jump && Math.abs(jump.step - GROK.jumpAt) <= 250, `jump ${jump?.step}`);
  assert.ok(r.indicators.weightNormPeak && Math.abs(r.indicators.weightNormPeak.step - GROK.normPeak) <= 250);
});

test("t_mem = 0: the ratio is Infinity, and the verdict still says grokked", () => {
  const recs: MetricsRecord[] = range(0, 1000, 100).map((step) => ({
    step,
    time: 0,
    train_acc: 1,
    test_acc: step >= 600 ? 1 : 0.01,
  }));
  const r = analyzeGrokking(recs);
  assert.equal(r.tMem, 0);
  assert.equal(r.tGen, 600);
  assert.equal(r.ratio, Infinity);
  assert.equal(r.verdict.kind, "grokked");
  assert.deepEqual(r.phases, [
    { kind: "circuit-formation", startStep: 0, endStep: 600 },
    { kind: "generalized", startStep: 600, endStep: 1000 },
  ]);
});

test("live use: batches give the same t_mem/t_gen as the whole run, and the crossing is reported once, in the right batch", () => {
  const steps = range(0, 10000, 50);
  const recs = run(GROK, steps, { seed: 9, n: 2000 });
  const whole = analyzeGrokking(recs);
  const rng = new Rng(3, "batches");
  let state = INITIAL_DETECTOR_STATE;
  const events: GrokkingEvent[] = [];
  let crossings = 0;
  for (let i = 0; i < recs.length; ) {
    const batch = recs.slice(i, i + 1 + rng.int(12));
    i += batch.length;
    const step = advanceGrokkingDetector(state, batch);
    const generalized = step.events.find(
      (e): e is Extract<GrokkingEvent, { kind: "generalized" }> => e.kind === "generalized",
    );
    if (generalized) {
      crossings++;
      assert.equal(generalized.step, whole.tGen);
      assert.equal(generalized.tMem, whole.tMem);
      // The batch holds the evaluation that completed the hold (t_gen plus two more evaluations).
      const completing = steps[steps.indexOf(whole.tGen!) + 2]!;
      assert.ok(batch.some((r) => r.step === completing));
    }
    events.push(...step.events);
    state = step.state;
  }
  assert.equal(crossings, 1);
  assert.deepEqual(events, [
    { kind: "memorized", step: whole.tMem },
    { kind: "generalized", step: whole.tGen, tMem: whole.tMem, delay: whole.delay },
  ]);
});

test("chance band: z binomial standard deviations, or an assumed 100 examples per class", () => {
  const b = chanceTolerance(0.1, 900);
  assert.equal(b.basis, "binomial");
  assert.ok(Math.abs(b.tolerance - 3 * Math.sqrt((0.1 * 0.9) / 900)) < 1e-15);
  const a = chanceTolerance(0.5, undefined, 2);
  assert.equal(a.basis, "assumed-test-size");
  assert.ok(Math.abs(a.tolerance - 2 * Math.sqrt(0.25 / 200)) < 1e-15);
  assert.throws(() => chanceTolerance(0, 10), RangeError);
});

test("jump detector: the steepest rise (or fall), undefined for a series that never moves that way", () => {
  const steps = range(0, 2000, 20);
  const up = steps.map((t) => sigmoid((t - 1200) / 40));
  const j = detectJump(steps, up);
  assert.ok(j && Math.abs(j.step - 1200) <= 20, `jump ${j?.step}`);
  assert.ok(j.rate > 0);
  const down = detectJump(
    steps,
    up.map((v) => -v),
    0.8,
    "down",
  );
  assert.equal(down?.step, j.step);
  assert.equal(
    detectJump(
      steps,
      steps.map((t) => -t),
    ),
    undefined,
  );
  assert.equal(detectJump([0, 1], [0, 1]), undefined);
});

test("smoothing: the debiased EMA starts at the first value, is exact on constants, and the zero-lag form keeps a symmetric peak in place", () => {
  const steps = range(0, 100, 1);
  const ema = debiasedEma(
    steps,
    steps.map(() => 5),
    0.9,
  );
  assert.ok(ema.every((v) => Math.abs(v - 5) < 1e-12));
  assert.equal(debiasedEma([0, 1], [3, 7], 0.9)[0], 3);
  const bump = steps.map((t) => Math.exp(-(((t - 50) / 8) ** 2)));
  const smooth = smoothSeries(steps, bump, 0.8);
  let m = 0;
  for (let i = 0; i < smooth.length; i++) if (smooth[i]! > smooth[m]!) m = i;
  assert.equal(m, 50);
  const forward = debiasedEma(steps, bump, 0.8);
  let f = 0;
  for (let i = 0; i < forward.length; i++) if (forward[i]! > forward[f]!) f = i;
  assert.ok(f > 50, "a one-sided EMA lags: the reason for the two-sided form");
});

test("jump indicators are looked for after memorization: the fast change while fitting the training set does not count", () => {
  const records: MetricsRecord[] = [];
  for (let step = 0; step <= 6000; step += 100)
    records.push({ step, time: 0, train_acc: step >= 300 ? 1 : 0.1, test_acc: step >= 5000 ? 1 : 0.01 });
  // Rises by 0.5 between steps 100 and 200 (memorization), then by 0.2 between 3000 and 3100.
  const steps = records.map((r) => r.step);
  const values = steps.map((s) => (s >= 200 ? 0.5 : 0) + (s >= 3100 ? 0.2 : 0));
  const report = analyzeGrokking(records, { hold: 3 }, [{ name: "kta", steps, values }]);
  assert.equal(report.tMem, 300);
  assert.equal(report.tGen, 5000);
  const jump = report.indicators.jumps.find((j) => j.name === "kta")!.indicator!;
  assert.ok(jump.step >= 3000 && jump.step <= 3200, `jump at ${jump.step}`);
  assert.equal(jump.leadTime, 5000 - jump.step);
});

test("a 300,000-point run (issue 8): the detector answers, the norm peak included, without spreading the series into arguments", () => {
  // The planted curves evaluated every 1/30 step, with the norm peaking late (at 80% of the
  // points), so the stretch before the peak alone has 240,000 values.
  const steps = Array.from({ length: 300_001 }, (_, i) => i / 30);
  const late: Curve = { ...GROK, normPeak: 8000, genCentre: 9000, genWidth: 100 };
  const r = analyzeGrokking(run(late, steps), { chanceAccuracy: late.chance, testSetSize: 6000 });
  const peak = r.indicators.weightNormPeak;
  assert.ok(peak && Math.abs(peak.step - late.normPeak) <= 50, `norm peak ${peak?.step}`);
  assert.equal(r.verdict.kind, "grokked");
});
