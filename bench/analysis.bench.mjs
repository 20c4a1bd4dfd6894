#!/usr/bin/env node
// Timing of the pure analysis math (src/measures) at the sizes the panels use, to show it is cheap
// enough for the extension host. Bundles src/measures in memory with esbuild (no build step).
//   node bench/analysis.bench.mjs [--reps 7]
// Prints ms per call: median (min–max) over reps.
import * as esbuild from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { argValue, median } from "./common.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const reps = Number(argValue("reps", "7"));
const built = await esbuild.build({
  entryPoints: [join(root, "src/measures/index.ts")],
  bundle: true,
  write: false,
  format: "esm",
  platform: "node",
  target: "node20",
});
const dir = mkdtempSync(join(tmpdir(), "lm-analysis-bench-"));
const file = join(dir, "analysis.mjs");
writeFileSync(file, built.outputFiles[0].contents);
const A = await import(pathToFileURL(file).href);
rmSync(dir, { recursive: true, force: true });

let seed = 12345;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) | 0;
  return (seed >>> 0) / 4294967296 - 0.5;
};
const randomMatrix = (r, c) => A.matrix(r, c, Float64Array.from({ length: r * c }, rand));

function time(label, fn) {
  fn();
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  console.log(
    `${label.padEnd(62)} ${median(ms).toFixed(2).padStart(9)} ms  (${Math.min(...ms).toFixed(2)}–${Math.max(...ms).toFixed(2)})`,
  );
}

// A grokking run logged every 10 steps for 100k steps, evaluated every 100.
const sig = (x) => 1 / (1 + Math.exp(-x));
const records = [];
for (let t = 0; t <= 100000; t += 10) {
  const r = { step: t, time: t / 50, train_loss: 1 - sig((t - 2000) / 300), train_acc: sig((t - 2000) / 300) };
  if (t % 100 === 0)
    Object.assign(r, {
      test_acc: sig((t - 60000) / 2000),
      test_loss: 4 + Math.exp(-(((t - 30000) / 10000) ** 2)) - 4 * sig((t - 60000) / 2000),
      param_norm: 30 + 10 * Math.exp(-(((t - 35000) / 15000) ** 2)),
    });
  records.push(r);
}
time(`analyzeGrokking, ${records.length} records (1,001 evaluations)`, () =>
  A.analyzeGrokking(records, { chanceAccuracy: 1 / 113 }),
);
time(`advanceGrokkingDetector, one batch of 10 records`, () =>
  A.advanceGrokkingDetector(A.INITIAL_DETECTOR_STATE, records.slice(5000, 5010)),
);

const n = 512;
const k0 = A.matMulTransB(randomMatrix(n, 64), randomMatrix(n, 64));
const kt = A.matMulTransB(randomMatrix(n, 64), randomMatrix(n, 64));
time(`kernelDistance, n = ${n}`, () => A.kernelDistance(kt, k0));
const y = A.matrix(n, 10);
for (let i = 0; i < n; i++) y.data[i * 10 + (i % 10)] = 1;
time(`centeredKernelTargetAlignment, n = ${n}, 10 classes`, () => A.centeredKernelTargetAlignment(kt, y));
const x1 = randomMatrix(4096, 128),
  x2 = randomMatrix(4096, 128);
time(`linearCka feature form, n = 4096, p = q = 128`, () => A.linearCkaFeatureForm(x1, x2));
const x3 = randomMatrix(1024, 128),
  x4 = randomMatrix(1024, 128);
time(`linearCka feature form, n = 1024, p = q = 128`, () => A.linearCkaFeatureForm(x3, x4));
time(`linearCka Gram form,    n = 1024, p = q = 128 (the slower form here)`, () => A.linearCkaGramForm(x3, x4));
const w1 = randomMatrix(256, 2048),
  w2 = randomMatrix(256, 2048);
time(`linearCka (dispatch), n = 256, p = q = 2048 → Gram form`, () => A.linearCka(w1, w2));

const p = 113;
const logits = randomMatrix(p * p, p);
const train = Int32Array.from({ length: Math.round(0.3 * p * p) }, (_, i) => (i * 7919) % (p * p));
time(`embeddingFourierGini, p = ${p}, d = 128`, () => A.embeddingFourierGini(randomMatrix(p, 128)));
time(`logitFrequencyShares, p = ${p} (12,769 × 113 table)`, () => A.logitFrequencyShares(logits, p));
time(`restrictedLoss, p = ${p}, 5 key frequencies`, () => A.restrictedLoss(logits, p, [14, 35, 41, 42, 52]));
time(`excludedLoss, p = ${p}, 5 key frequencies, 30% train`, () =>
  A.excludedLoss(logits, p, [14, 35, 41, 42, 52], train),
);
