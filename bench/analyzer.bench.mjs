#!/usr/bin/env node
// What the analyses cost beside training, both measured here with the real processes: `lm train`
// of the grokking example (examples/grokking.experiment.ts, modAdd), then `lm analyze` of its run
// at the default cadence (every checkpoint; BIF is off by default), on the same backend.
// Prints the wall times, the ratio analyze/train, and each analysis's seconds per checkpoint.
//
//   node scripts/build.mjs && node bench/analyzer.bench.mjs [--steps 2000] [--backend wasm] [--with-bif]
//
// Both costs are per checkpoint (training: checkpointEvery steps; analysis: one record per
// analysis), so the ratio does not depend on --steps; a shorter run just measures it sooner.
// The target (issue 4): analyses add at most 25% to training wall time.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "trainer", "cli.js");
const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "2000" },
    backend: { type: "string", default: "wasm" },
    "with-bif": { type: "boolean", default: false },
  },
});

function run(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`lm ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return { seconds, stdout: r.stdout, stderr: r.stderr };
}

const out = mkdtempSync(join(tmpdir(), "lm-analyzer-bench-"));
try {
  const train = run([
    "train",
    join(root, "examples", "grokking.experiment.ts"),
    "--system",
    "modAdd",
    "--steps",
    values.steps,
    "--backend",
    values.backend,
    "--out",
    out,
  ]);
  const runDir = train.stdout.trim();
  const analyzeArgs = ["analyze", runDir, "--backend", values.backend, "--run-experiment"];
  if (values["with-bif"]) analyzeArgs.push("--set", "bif.every=1");
  const analyze = run(analyzeArgs);

  // "kernel step 250 (0.42 s)" lines: seconds per analysis per checkpoint.
  const per = new Map();
  for (const m of analyze.stderr.matchAll(/^(\w+) step (\d+) \(([\d.]+) s\)$/gm)) {
    const [, name, , s] = m;
    per.set(name, [...(per.get(name) ?? []), Number(s)]);
  }
  const records = [...per.values()].reduce((a, v) => a + v.length, 0);
  const ratio = analyze.seconds / train.seconds;
  console.log(
    `grokking example modAdd, ${values.steps} steps, backend ${values.backend}${values["with-bif"] ? ", BIF on" : ""}`,
  );
  console.log(`  train (lm train, wall):   ${train.seconds.toFixed(1)} s`);
  console.log(`  analyze (lm analyze, wall): ${analyze.seconds.toFixed(1)} s for ${records} records`);
  console.log(`  analyze / train:           ${(100 * ratio).toFixed(1)} %   (target ≤ 25 %)`);
  console.log("  per analysis, seconds per checkpoint (median · max · checkpoints):");
  for (const [name, xs] of per) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(
      `    ${name.padEnd(8)} ${s[Math.floor(s.length / 2)].toFixed(3)} · ${s[s.length - 1].toFixed(3)} · ${s.length}`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "analyzer",
      steps: Number(values.steps),
      backend: values.backend,
      trainSeconds: train.seconds,
      analyzeSeconds: analyze.seconds,
      ratio,
      perAnalysis: Object.fromEntries(per),
    }),
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
