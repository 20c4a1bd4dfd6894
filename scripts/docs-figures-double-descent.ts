// The double-descent figure of docs/experiments.md: trains every point of a sweep of
// examples/double-descent.experiment.ts with `lm train` (one run folder per point and seed, two at a
// time), then, for each run, the minimum-norm least-squares readout of the same fixed features in
// float64 (src/measures/leastSquares.ts), so the figure shows how close training got. Draws test
// error against the swept field (mean and range over seeds, log axes) as SVG and saves it as a PNG
// through Debian's Chromium; writes the numbers as JSON beside the runs.
//
//   npm run build --silent
//   npx esbuild scripts/docs-figures-double-descent.ts --bundle --platform=node --format=cjs \
//     --target=node20 --main-fields=module,main --log-level=warning --external:esbuild \
//     --outfile=dist/scripts/docs-figures-double-descent.cjs
//   node dist/scripts/docs-figures-double-descent.cjs --system width [--out DIR] [--parallel 2] [--png FILE]
//
// Each point is its resolved spec (the sweep applied, src/sdk/sweep.ts) written as a one-system
// experiment file, so `lm train` trains exactly what `lm sweep` would.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import { meanSquaredError, minNormLeastSquares } from "../src/measures/leastSquares";
import type { SystemSpec } from "../src/sdk/spec";
import { applySweepPoint, expandSweep } from "../src/sdk/sweep";
import { validateSystem } from "../src/sdk/validate/system";
import { selectBackend } from "../src/trainer/backend";
import { loadExperiment } from "../src/trainer/loadExperiment";
import type { RandomFeaturesModel } from "../src/trainer/models/index";
import { SystemInstance } from "../src/trainer/system";
import { launchChromium } from "../test/webview/panelHarness";

interface PointResult {
  value: number;
  seed: number;
  runDir: string;
  trainLoss: number;
  testLoss: number;
  minNormTestLoss: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function resolvedOrThrow(input: unknown, what: string): SystemSpec {
  const r = validateSystem(input);
  if (!r.ok) throw new Error(`${what}: ${r.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
  return r.spec;
}

function runCli(cli: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`lm ${args.join(" ")}: ${err}`))));
  });
}

function lastMetric(runDir: string, key: string): number {
  const lines = fs.readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").trim().split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const rec = JSON.parse(lines[i]!) as Record<string, unknown>;
    if (typeof rec[key] === "number") return rec[key];
  }
  throw new Error(`${runDir}: no ${key} in metrics.jsonl`);
}

/** The float64 minimum-norm readout's test error for the run's own features (same seed, same data). */
function minNormTestLoss(spec: SystemSpec): number {
  const system = new SystemInstance(spec, "/");
  try {
    const model = system.model as RandomFeaturesModel;
    const f64 = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());
    const phiTrain = f64(model.features(system.train.x));
    const p = phiTrain.length / system.train.n;
    const a = minNormLeastSquares(phiTrain, f64(system.train.y), system.train.n, p);
    return meanSquaredError(f64(model.features(system.test.x)), a, f64(system.test.y), p);
  } finally {
    system.dispose();
  }
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, "../..");
  const systemName = arg("--system", "width");
  const out = path.resolve(arg("--out", `/tmp/lm-double-descent-${systemName}`));
  const parallel = Math.max(1, Number(arg("--parallel", "2")));
  const png = path.resolve(root, arg("--png", `docs/figures/double-descent-${systemName}.png`));
  // Loaded as `lm` loads it (bundled, the SDK mapped to the trainer's), so the points are the file's.
  const loaded = await loadExperiment(path.join(root, "examples/double-descent.experiment.ts"));
  const system = loaded.systems.find((s) => s.name === systemName)?.system;
  if (system === undefined) throw new Error(`no system ${systemName} in examples/double-descent.experiment.ts`);
  const sweep = system.input.sweep;
  if (sweep === undefined || !("grid" in sweep)) throw new Error(`${systemName} declares no grid sweep`);
  const base = resolvedOrThrow(system.input, systemName);
  const plan = expandSweep(sweep, base);
  const field = plan.fields[0]!;
  fs.mkdirSync(out, { recursive: true });
  const cli = path.join(root, "dist/trainer/cli.js");

  const jobs = plan.points.map((pt) => {
    const spec = resolvedOrThrow(applySweepPoint(base, pt.values, pt.seed), `point ${pt.index}`);
    const name = String(pt.index).padStart(4, "0");
    const file = path.join(out, `${name}.experiment.ts`);
    const runDir = path.join(out, name);
    fs.writeFileSync(
      file,
      `import { modelSystem } from "learning-mechanics";\nexport const point = modelSystem(${JSON.stringify(spec)});\n`,
    );
    return { pt, spec, file, runDir };
  });
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      if (
        fs.existsSync(path.join(job.runDir, "metrics.jsonl")) &&
        JSON.parse(fs.readFileSync(path.join(job.runDir, "run.json"), "utf8")).status === "finished"
      )
        continue;
      fs.rmSync(job.runDir, { recursive: true, force: true });
      const t0 = Date.now();
      await runCli(cli, ["train", job.file, "--system", "point", "--run-dir", job.runDir, "--backend", "wasm"]);
      console.log(`${field}=${job.pt.values[field]} seed ${job.pt.seed}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));

  await selectBackend("wasm");
  const results: PointResult[] = jobs.map(({ pt, spec, runDir }) => ({
    value: Number(pt.values[field]),
    seed: pt.seed,
    runDir,
    trainLoss: lastMetric(runDir, "train_loss"),
    testLoss: lastMetric(runDir, "test_loss"),
    minNormTestLoss: minNormTestLoss(spec),
  }));
  fs.writeFileSync(
    path.join(out, "results.json"),
    `${JSON.stringify({ system: systemName, field, results }, null, 1)}\n`,
  );
  const summary = summarize(results);
  for (const s of summary)
    console.log(
      `${field}=${s.value}\ttrained mean ${s.trained.mean.toPrecision(4)} median ${s.trained.median.toPrecision(4)} [${s.trained.min.toPrecision(3)}, ${s.trained.max.toPrecision(3)}]\tmin-norm median ${s.minNorm.toPrecision(4)} (${s.minNormAll.map((v) => v.toPrecision(3)).join(", ")})\ttrain ${s.train.toExponential(2)}`,
    );
  const nTrain = base.task.kind === "teacherStudent" ? base.task.trainSize : 0;
  const width = base.model.kind === "randomFeatures" ? base.model.features : 0;
  const svg = drawSvg(summary, {
    seeds: plan.seeds.length,
    xLabel: field === "model.features" ? "features p (width)" : "training examples n",
    threshold: field === "model.features" ? nTrain : Number(width),
    thresholdLabel: field === "model.features" ? `p = n = ${nTrain}` : `n = p = ${width}`,
    title:
      field === "model.features"
        ? `Random-features regression, n = ${nTrain}: test error against width`
        : `Random-features regression, p = ${width}: test error against training-set size`,
  });
  fs.writeFileSync(png.replace(/\.png$/, ".svg"), svg);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 560 } });
    await page.setContent(`<html><body style="margin:0;background:#fff">${svg}</body></html>`);
    await page.screenshot({ path: png, clip: { x: 0, y: 0, width: 900, height: 560 } });
  } finally {
    await browser.close();
  }
  fs.rmSync(png.replace(/\.png$/, ".svg"));
  console.log(png);
}

interface Summary {
  value: number;
  trained: { mean: number; median: number; min: number; max: number };
  /** The median over seeds: at p = n the minimum-norm risk has no finite mean, and one seed can dominate it. */
  minNorm: number;
  minNormAll: number[];
  train: number;
}

function stats(xs: number[]): { mean: number; median: number; min: number; max: number } {
  return {
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
    median: median(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function summarize(results: PointResult[]): Summary[] {
  const values = [...new Set(results.map((r) => r.value))].sort((a, b) => a - b);
  return values.map((value) => {
    const at = results.filter((r) => r.value === value);
    return {
      value,
      trained: stats(at.map((r) => r.testLoss)),
      minNorm: median(at.map((r) => r.minNormTestLoss)),
      minNormAll: at.map((r) => r.minNormTestLoss),
      train: stats(at.map((r) => r.trainLoss)).mean,
    };
  });
}

/**
 * Log–log axes: test error against the swept value, trained (median and range over seeds) and the
 * min-norm closed form (median: at p = n its mean is dominated by the most singular seed).
 */
function drawSvg(
  rows: Summary[],
  o: { xLabel: string; threshold: number; thresholdLabel: string; title: string; seeds: number },
): string {
  const W = 900;
  const H = 560;
  const m = { l: 80, r: 30, t: 50, b: 60 };
  const xs = rows.map((r) => r.value);
  const ys = rows.flatMap((r) => [r.trained.min, r.trained.max, r.minNorm]);
  const [x0, x1] = [Math.log10(Math.min(...xs)) - 0.05, Math.log10(Math.max(...xs)) + 0.05];
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...ys)) * 4) / 4, Math.ceil(Math.log10(Math.max(...ys)) * 4) / 4];
  const X = (v: number) => m.l + ((Math.log10(v) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v: number) => H - m.b - ((Math.log10(v) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, extra = "") =>
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${s}</text>`);
  for (let e = Math.floor(x0); e <= Math.floor(x1); e++)
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) < x0 || Math.log10(v) > x1) continue;
      parts.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${m.t}" y2="${H - m.b}" stroke="#e4e4e4"/>`);
      text(X(v), H - m.b + 20, String(v), 'text-anchor="middle"');
    }
  for (let e = Math.floor(y0); e <= Math.ceil(y1); e++)
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) < y0 || Math.log10(v) > y1) continue;
      parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e4e4e4"/>`);
      text(m.l - 8, Y(v) + 4, String(Number(v.toPrecision(3))), 'text-anchor="end"');
    }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#888"/>`,
  );
  const tx = X(o.threshold);
  parts.push(`<line x1="${tx}" x2="${tx}" y1="${m.t}" y2="${H - m.b}" stroke="#999" stroke-dasharray="5 4"/>`);
  text(tx + 6, m.t + 16, o.thresholdLabel, 'fill="#666"');
  const band = [
    ...rows.map((r) => `${X(r.value).toFixed(1)},${Y(r.trained.max).toFixed(1)}`),
    ...[...rows].reverse().map((r) => `${X(r.value).toFixed(1)},${Y(r.trained.min).toFixed(1)}`),
  ].join(" ");
  parts.push(`<polygon points="${band}" fill="#1f77b4" fill-opacity="0.18" stroke="none"/>`);
  const line = (pick: (r: Summary) => number) =>
    rows.map((r) => `${X(r.value).toFixed(1)},${Y(pick(r)).toFixed(1)}`).join(" ");
  parts.push(
    `<polyline points="${line((r) => r.minNorm)}" fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>`,
  );
  parts.push(`<polyline points="${line((r) => r.trained.median)}" fill="none" stroke="#1f77b4" stroke-width="2.5"/>`);
  for (const r of rows) parts.push(`<circle cx="${X(r.value)}" cy="${Y(r.trained.median)}" r="3.5" fill="#1f77b4"/>`);
  text(W / 2, H - 18, o.xLabel, 'text-anchor="middle" font-size="15"');
  text(
    22,
    H / 2,
    "test error (MSE, clean labels)",
    `text-anchor="middle" font-size="15" transform="rotate(-90 22 ${H / 2})"`,
  );
  text(W / 2, 28, o.title, 'text-anchor="middle" font-size="17" font-weight="600"');
  const lx = m.l + 16;
  parts.push(
    `<line x1="${lx}" x2="${lx + 30}" y1="${m.t + 20}" y2="${m.t + 20}" stroke="#1f77b4" stroke-width="2.5"/>`,
  );
  text(lx + 38, m.t + 25, `trained (lm train): median and range over ${o.seeds} seeds`);
  parts.push(
    `<line x1="${lx}" x2="${lx + 30}" y1="${m.t + 42}" y2="${m.t + 42}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>`,
  );
  text(lx + 38, m.t + 47, "minimum-norm least squares (float64): median");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="13">${parts.join("")}</svg>`;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
