// The Bayesian influence function and its SGLD sampler against closed forms.
// Linear regression with squared loss ℓ_i(θ) = ½(z_iᵀθ − y_i)² (z = [x, 1], θ = [w; b]) makes the
// localized posterior Gaussian: precision P = nβ·H + γI with H = ZᵀZ/n, mean
// μ = P⁻¹(nβ·Zᵀy/n + γ·θ*). Full-batch SGLD is then a Gaussian AR(1) process whose stationary law
// is exactly N(μ, S_ε) with S_ε = (P − εP²/4)⁻¹ (→ P⁻¹ as ε → 0), and every ℓ_i and φ_j is a
// quadratic form, so Cov(ℓ_i, φ_j) has the closed form 2 tr(AΣBΣ) + (2Aμ + a)ᵀΣ(2Bμ + b).
// Tolerances come from the number of draws: per-chain estimates give a standard error, and each
// test also checks that this error is small against the value, so a loose estimate cannot pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../src/sdk/rng";
import type { AnalysisTarget, Examples } from "../../src/trainer/methods/target";
import { computeBif, resolveSgldOptions, type BifResult } from "../../src/trainer/methods/bif";
import { runSgld } from "../../src/trainer/methods/sgld";
import { CrossCovariance } from "../../src/trainer/methods/crossCovariance";
import { effectiveSampleSize, splitRhat } from "../../src/trainer/methods/mcmcDiagnostics";
import { useBackend } from "../tensorAnalysisSupport";

type Mat = number[][];
const D = 2; // features; θ has D + 1 entries

// ---------- small dense linear algebra (test-side closed forms, float64)
const matMul = (a: Mat, b: Mat): Mat => a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const matVec = (a: Mat, v: number[]): number[] => a.map((r) => r.reduce((s, x, k) => s + x * v[k]!, 0));
const dot = (a: number[], b: number[]): number => a.reduce((s, x, k) => s + x * b[k]!, 0);
const trace = (a: Mat): number => a.reduce((s, r, i) => s + r[i]!, 0);
function inverse(m: Mat): Mat {
  const n = m.length;
  const a = m.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const pv = a[c]![c]!;
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= pv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((r) => r.slice(n));
}

// ---------- the linear-regression target
interface Problem {
  target: AnalysisTarget;
  train: Examples;
  /** θ* (the checkpoint), rows z_i = [x_i, 1], targets y_i of the training set. */
  thetaStar: number[];
  z: Mat;
  y: number[];
  dispose(): void;
}

function examples(z: Mat, y: number[], first: number): Examples {
  return {
    x: tf.tensor2d(z.map((r) => r.slice(0, D))),
    y: tf.tensor2d(y.map((v) => [v])),
    indices: Int32Array.from(z, (_, i) => first + i),
  };
}

function randomRows(rng: Rng, n: number): { z: Mat; y: number[] } {
  const z: Mat = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = [rng.normal(), 0.5 * rng.normal() + 0.3];
    z.push([...x, 1]);
    y.push(0.8 * x[0]! - 0.4 * x[1]! + 0.2 + 0.3 * rng.normal());
  }
  return { z, y };
}

function linearProblem(n: number, seed = 1): Problem {
  const rng = new Rng(seed, "problem");
  const { z, y } = randomRows(rng, n);
  // θ* away from the least-squares fit, so the localization visibly moves the mean.
  const thetaStar = [0.5, -0.1, 0.4];
  const w = tf.variable(tf.tensor2d([[thetaStar[0]!], [thetaStar[1]!]]), true, "lin.w");
  const b = tf.variable(tf.tensor1d([thetaStar[2]!]), true, "lin.b");
  const target: AnalysisTarget = {
    params: [
      { name: "w", variable: w },
      { name: "b", variable: b },
    ],
    output: (x) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b),
    perExampleLoss: (out, yy) => tf.mul(0.5, tf.sum(tf.square(tf.sub(out, yy)), 1)) as tf.Tensor1D,
  };
  const train = examples(z, y, 0);
  return { target, train, thetaStar, z, y, dispose: () => tf.dispose([w, b, train.x, train.y]) };
}

/** Posterior precision P = nβ·ZᵀZ/n + γI and mean μ. */
function posterior(p: Problem, nBeta: number, gamma: number): { P: Mat; mu: number[] } {
  const n = p.z.length;
  const k = D + 1;
  const P: Mat = Array.from({ length: k }, (_, i) =>
    Array.from(
      { length: k },
      (_, j) => (nBeta / n) * p.z.reduce((s, r) => s + r[i]! * r[j]!, 0) + (i === j ? gamma : 0),
    ),
  );
  const rhs = Array.from(
    { length: k },
    (_, i) => (nBeta / n) * p.z.reduce((s, r, m) => s + r[i]! * p.y[m]!, 0) + gamma * p.thetaStar[i]!,
  );
  return { P, mu: matVec(inverse(P), rhs) };
}

/** Exact stationary covariance of full-batch SGLD with step ε on a Gaussian of precision P. */
const discreteCov = (P: Mat, eps: number): Mat =>
  inverse(P.map((r, i) => r.map((v, j) => v - (eps / 4) * matMul(P, P)[i]![j]!)));

function paramsNow(t: AnalysisTarget): number[] {
  return t.params.flatMap((p) => Array.from(p.variable.dataSync()));
}

test("CrossCovariance equals the two-pass covariance, also after merging", () => {
  const rng = new Rng(3, "cc");
  const xs = Array.from({ length: 57 }, () => [rng.normal() + 100, rng.normal() * 3]);
  const ys = xs.map((x) => [x[0]! * 2 + rng.normal(), -x[1]! + 5, rng.normal()]);
  const one = new CrossCovariance(2, 3);
  const a = new CrossCovariance(2, 3);
  const b = new CrossCovariance(2, 3);
  xs.forEach((x, k) => {
    one.push(x, ys[k]!);
    (k < 20 ? a : b).push(x, ys[k]!);
  });
  a.merge(b);
  const mx = [0, 1].map((i) => xs.reduce((s, x) => s + x[i]!, 0) / xs.length);
  const my = [0, 1, 2].map((j) => ys.reduce((s, y) => s + y[j]!, 0) / ys.length);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      const ref = xs.reduce((s, x, k) => s + (x[i]! - mx[i]!) * (ys[k]![j]! - my[j]!), 0) / (xs.length - 1);
      assert.ok(Math.abs(one.covariance()[i * 3 + j]! - ref) < 1e-9 * (1 + Math.abs(ref)), `push (${i},${j})`);
      assert.ok(Math.abs(a.covariance()[i * 3 + j]! - ref) < 1e-9 * (1 + Math.abs(ref)), `merge (${i},${j})`);
    }
  }
  assert.ok(Math.abs(a.meanX[0]! - mx[0]!) < 1e-9 && Math.abs(a.meanY[2]! - my[2]!) < 1e-9);
});

test("split R-hat and ESS: ≈1 and ≈N for independent draws, ESS ≈ N(1−ρ)/(1+ρ) for AR(1), R-hat large for shifted chains", () => {
  const rng = new Rng(4, "diag");
  const iid = Array.from({ length: 4 }, () => Array.from({ length: 1000 }, () => rng.normal()));
  assert.ok(Math.abs(splitRhat(iid) - 1) < 0.01, `iid R-hat ${splitRhat(iid)}`);
  const essIid = effectiveSampleSize(iid);
  assert.ok(essIid > 3000 && essIid < 5500, `iid ESS ${essIid}`);
  const rho = 0.9;
  const ar = Array.from({ length: 4 }, () => {
    let v = rng.normal() / Math.sqrt(1 - rho * rho);
    return Array.from({ length: 5000 }, () => (v = rho * v + rng.normal()));
  });
  const expected = (20000 * (1 - rho)) / (1 + rho);
  const essAr = effectiveSampleSize(ar);
  assert.ok(Math.abs(essAr / expected - 1) < 0.25, `AR(1) ESS ${essAr} vs ${expected}`);
  const shifted = iid.map((c, k) => c.map((v) => v + 3 * k));
  assert.ok(splitRhat(shifted) > 2, `shifted R-hat ${splitRhat(shifted)}`);
  assert.ok(Number.isNaN(splitRhat([[1, 2, 3]])));
});

test("resolveSgldOptions: nβ = n / ln n, batch capped at n, invalid values refused", () => {
  const o = resolveSgldOptions(1000);
  assert.equal(o.nBeta, 1000 / Math.log(1000));
  assert.equal(resolveSgldOptions(40).batchSize, 40);
  assert.throws(() => resolveSgldOptions(10, { stepSize: 0 }), /stepSize/);
  assert.throws(() => resolveSgldOptions(10, { chains: 1.5 }), /chains/);
});

test("SGLD samples the localized posterior N(μ, (nβH + γI)⁻¹) of linear regression (cpu)", async () => {
  await useBackend("cpu");
  const p = linearProblem(24);
  try {
    const nBeta = 12,
      gamma = 3;
    const { P, mu } = posterior(p, nBeta, gamma);
    const Sigma = inverse(P);
    const pMax = Math.max(...P.map((r, i) => r.reduce((s, v, j) => s + (i === j ? v : Math.abs(v)), 0))); // Gershgorin bound
    // Small ε: the discretization inflates variances by at most 1/(1 − ε·p_max/4) − 1 ≈ 1 %.
    const eps = 0.04 / pMax;
    const k = D + 1;
    const chains = 8;
    const o = resolveSgldOptions(24, {
      stepSize: eps,
      nBeta,
      localization: gamma,
      chains,
      draws: 1500,
      burnIn: 400,
      thin: 5,
      batchSize: 24,
      seed: 11,
    });
    const perChain: CrossCovariance[] = [];
    let cur = new CrossCovariance(k, k);
    const outcomes = await runSgld(p.target, p.train, o, {
      onChainStart: () => (cur = new CrossCovariance(k, k)),
      onDraw: () => {
        const th = paramsNow(p.target);
        cur.push(th, th);
        return undefined;
      },
      onChainEnd: () => perChain.push(cur),
    });
    assert.deepEqual(
      outcomes.map((x) => x.kind),
      Array(chains).fill("completed"),
    );
    const pooled = new CrossCovariance(k, k);
    perChain.forEach((c) => {
      pooled.merge(c);
    });
    assert.equal(pooled.count, chains * 1500);
    const cov = pooled.covariance();
    const bias = 1 / (1 - (eps * pMax) / 4) - 1;
    const trSigma = trace(Sigma);
    for (let i = 0; i < k; i++) {
      // Mean: standard error from the spread of chain means.
      const means = perChain.map((c) => c.meanX[i]!);
      const mMean = means.reduce((s, v) => s + v, 0) / chains;
      const seMean = Math.sqrt(means.reduce((s, v) => s + (v - mMean) ** 2, 0) / (chains - 1) / chains);
      assert.ok(seMean < 0.1 * Math.sqrt(Sigma[i]![i]!), `mean SE ${seMean} too large for the test to mean anything`);
      assert.ok(
        Math.abs(pooled.meanX[i]! - mu[i]!) < 4 * seMean + 1e-4,
        `mean[${i}] ${pooled.meanX[i]} vs μ ${mu[i]} (SE ${seMean})`,
      );
      for (let j = 0; j < k; j++) {
        const vals = perChain.map((c) => c.covariance()[i * k + j]!);
        const m = vals.reduce((s, v) => s + v, 0) / chains;
        const se = Math.sqrt(vals.reduce((s, v) => s + (v - m) ** 2, 0) / (chains - 1) / chains);
        const scale = Math.sqrt(Sigma[i]![i]! * Sigma[j]![j]!);
        assert.ok(se < 0.08 * scale, `cov SE ${se} vs scale ${scale}: too few effective draws`);
        const tol = 4 * se + bias * trSigma; // |S_ε − Σ| entry-wise ≤ bias·λ_max(Σ) ≤ bias·tr Σ
        assert.ok(
          Math.abs(cov[i * k + j]! - Sigma[i]![j]!) < tol,
          `Σ[${i}][${j}]: SGLD ${cov[i * k + j]} vs (nβH+γI)⁻¹ ${Sigma[i]![j]} (tol ${tol})`,
        );
      }
    }
    assert.deepEqual(
      paramsNow(p.target),
      p.thetaStar.map((v) => Math.fround(v)),
      "params back at θ*",
    );
  } finally {
    p.dispose();
  }
});

/** Analytic Cov(θᵀAθ + aᵀθ, θᵀBθ + bᵀθ) under N(μ, S). */
function quadCov(A: Mat, a: number[], B: Mat, b: number[], mu: number[], S: Mat): number {
  const u = matVec(A, mu).map((v, i) => 2 * v + a[i]!);
  const w = matVec(B, mu).map((v, i) => 2 * v + b[i]!);
  return 2 * trace(matMul(matMul(A, S), matMul(B, S))) + dot(u, matVec(S, w));
}
/** ½(zᵀθ − y)² averaged over rows = θᵀAθ + aᵀθ + c. */
function quadForm(z: Mat, y: number[]): { A: Mat; a: number[] } {
  const k = z[0]!.length;
  const A = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => (0.5 * z.reduce((s, r) => s + r[i]! * r[j]!, 0)) / z.length),
  );
  const a = Array.from({ length: k }, (_, i) => -z.reduce((s, r, m) => s + r[i]! * y[m]!, 0) / z.length);
  return { A, a };
}

test("BIF equals −Cov of the quadratic losses under the exact Gaussian stationary law (cpu)", async () => {
  await useBackend("cpu");
  const p = linearProblem(24);
  const qrng = new Rng(5, "queries");
  const qrows = randomRows(qrng, 5);
  const query = examples(qrows.z, qrows.y, 100);
  try {
    const nBeta = 12,
      gamma = 3,
      eps = 0.12;
    const { P, mu } = posterior(p, nBeta, gamma);
    const S = discreteCov(P, eps);
    // Queries: φ0 = mean loss of query examples {0, 1, 2}, φ1 = loss of example 3, φ2 = loss of example 4.
    const groups = Int32Array.from([0, 0, 0, 1, 2]);
    const rows = Int32Array.from([0, 3, 7, 19]);
    const res = await computeBif(
      p.target,
      p.train,
      { examples: query, groups, names: ["triple", "four", "five"] },
      {
        stepSize: eps,
        nBeta,
        localization: gamma,
        chains: 8,
        draws: 2500,
        burnIn: 100,
        thin: 2,
        batchSize: 24,
        seed: 21,
        rows,
      },
    );
    assert.equal(res.kind, "ok");
    if (res.kind !== "ok") return;
    assert.deepEqual(res.queryNames, ["triple", "four", "five"]);
    assert.deepEqual(Array.from(res.rowIndices), [0, 3, 7, 19]);
    assert.equal(res.bif.length, 4 * 3);
    assert.equal(res.drawsUsed, 8 * 2500);
    const members = [[0, 1, 2], [3], [4]];
    rows.forEach((r, ri) => {
      const li = quadForm([p.z[r]!], [p.y[r]!]);
      members.forEach((m, j) => {
        const phi = quadForm(
          m.map((k) => qrows.z[k]!),
          m.map((k) => qrows.y[k]!),
        );
        const expected = -quadCov(li.A, li.a, phi.A, phi.a, mu, S);
        const got = res.bif[ri * 3 + j]!,
          se = res.stdErr[ri * 3 + j]!;
        // Cauchy–Schwarz scale of this entry: √(Var ℓ_i · Var φ_j).
        const scale = Math.sqrt(quadCov(li.A, li.a, li.A, li.a, mu, S) * quadCov(phi.A, phi.a, phi.A, phi.a, mu, S));
        assert.ok(se < 0.03 * scale, `SE ${se} vs scale ${scale}: too noisy to test`);
        assert.ok(
          Math.abs(got - expected) < 4 * se + 1e-5,
          `BIF(row ${r}, φ${j}) = ${got}, closed form ${expected} (SE ${se})`,
        );
      });
    });
    assert.equal(res.warnings.length, 0, res.warnings.join(" | "));
    assert.ok(res.diagnostics.maxRhat < 1.05, `R-hat ${res.diagnostics.maxRhat}`);
  } finally {
    p.dispose();
    tf.dispose([query.x, query.y]);
  }
});

async function smallBif(p: Problem, query: Examples, opts: Parameters<typeof computeBif>[3]): Promise<BifResult> {
  return computeBif(
    p.target,
    p.train,
    { examples: query },
    { nBeta: 12, localization: 3, stepSize: 0.05, chains: 3, draws: 30, burnIn: 10, batchSize: 8, ...opts },
  );
}

for (const backend of ["cpu", "wasm"] as const) {
  test(`same seed, same BIF and traces; another seed differs (${backend})`, async () => {
    await useBackend(backend);
    const p = linearProblem(24);
    const qr = randomRows(new Rng(6, "q"), 3);
    const query = examples(qr.z, qr.y, 50);
    try {
      const a = await smallBif(p, query, { seed: 7 });
      const b = await smallBif(p, query, { seed: 7 });
      const c = await smallBif(p, query, { seed: 8 });
      assert.ok(a.kind === "ok" && b.kind === "ok" && c.kind === "ok");
      assert.deepEqual(Array.from(a.bif), Array.from(b.bif));
      assert.deepEqual(
        a.traces.map((t) => Array.from(t.loss)),
        b.traces.map((t) => Array.from(t.loss)),
      );
      assert.notDeepEqual(Array.from(a.bif), Array.from(c.bif));
      assert.ok(a.bif.every(Number.isFinite));
      assert.equal(a.traces.length, 3);
      assert.ok(a.traces.every((t) => t.loss.length === 30 && t.query.length === 30 * 3));
    } finally {
      p.dispose();
      tf.dispose([query.x, query.y]);
    }
  });
}

test("params are restored to w* after a run, after an error in the model, and after an abort (cpu)", async () => {
  await useBackend("cpu");
  const p = linearProblem(24);
  const qr = randomRows(new Rng(6, "q"), 2);
  const query = examples(qr.z, qr.y, 50);
  const star = paramsNow(p.target);
  const before = tf.memory().numTensors;
  try {
    const ok = await smallBif(p, query, { seed: 1 });
    assert.equal(ok.kind, "ok");
    assert.deepEqual(paramsNow(p.target), star);
    assert.equal(tf.memory().numTensors, before, "no tensors leaked by a run");
    // The model throws on its 40th evaluation, mid-chain.
    let calls = 0;
    const inner = p.target.perExampleLoss;
    const failing: AnalysisTarget = {
      ...p.target,
      perExampleLoss: (o, y) =>
        ++calls === 40
          ? (() => {
              throw new Error("boom");
            })()
          : inner(o, y),
    };
    await assert.rejects(
      computeBif(
        failing,
        p.train,
        { examples: query },
        { nBeta: 12, localization: 3, stepSize: 0.05, chains: 2, draws: 30 },
      ),
      /boom/,
    );
    assert.ok(calls >= 40);
    assert.deepEqual(paramsNow(p.target), star);
    // (tfjs itself keeps the tensors its gradient tape saved when the forward pass throws, so the
    // tensor count is not compared after this case.)
    const afterError = tf.memory().numTensors;
    const ac = new AbortController();
    await assert.rejects(
      smallBif(p, query, { seed: 1, signal: ac.signal, onProgress: (done) => done >= 25 && ac.abort() }),
      (e: Error) => e.name === "AbortError",
    );
    assert.deepEqual(paramsNow(p.target), star);
    assert.equal(tf.memory().numTensors, afterError, "no tensors leaked by an aborted run");
  } finally {
    p.dispose();
    tf.dispose([query.x, query.y]);
  }
});

test("a step size that diverges gives the diverged result with a message, not NaNs (cpu)", async () => {
  await useBackend("cpu");
  const p = linearProblem(24);
  const qr = randomRows(new Rng(6, "q"), 2);
  const query = examples(qr.z, qr.y, 50);
  try {
    const star = paramsNow(p.target);
    // ε·p_max far above 4: the Gaussian AR(1) recursion is unstable and overflows float32.
    const res = await smallBif(p, query, { stepSize: 5, chains: 2, draws: 200, burnIn: 0 });
    assert.equal(res.kind, "diverged");
    if (res.kind !== "diverged") return;
    assert.match(res.message, /All 2 SGLD chains diverged/);
    assert.match(res.message, /chain 0 diverged at step \d+: .*step size ε = 5 is too large/);
    assert.ok(res.traces.every((t) => t.outcome.kind === "diverged" && t.loss.every(Number.isFinite)));
    assert.ok(!("bif" in res));
    assert.deepEqual(paramsNow(p.target), star);
  } finally {
    p.dispose();
    tf.dispose([query.x, query.y]);
  }
});

test("the R-hat warning fires for chains started far apart with too few draws, not for mixed ones (cpu)", async () => {
  await useBackend("cpu");
  const p = linearProblem(24);
  const qr = randomRows(new Rng(6, "q"), 2);
  const query = examples(qr.z, qr.y, 50);
  try {
    const apart = await smallBif(p, query, {
      initSpread: 3,
      stepSize: 0.002,
      draws: 12,
      burnIn: 0,
      chains: 4,
      seed: 2,
    });
    assert.equal(apart.kind, "ok");
    if (apart.kind !== "ok") return;
    assert.ok(apart.diagnostics.maxRhat > 1.1, `R-hat ${apart.diagnostics.maxRhat}`);
    assert.ok(
      apart.warnings.some((w) => /not mixed: split R-hat/.test(w)),
      apart.warnings.join(" | "),
    );
    const mixed = await smallBif(p, query, {
      stepSize: 0.1,
      draws: 400,
      burnIn: 50,
      chains: 4,
      seed: 2,
      batchSize: 24,
    });
    assert.equal(mixed.kind, "ok");
    if (mixed.kind !== "ok") return;
    assert.ok(mixed.diagnostics.maxRhat < 1.1, `mixed R-hat ${mixed.diagnostics.maxRhat}`);
    assert.ok(!mixed.warnings.some((w) => /R-hat/.test(w)), mixed.warnings.join(" | "));
  } finally {
    p.dispose();
    tf.dispose([query.x, query.y]);
  }
});
