// Full-batch MLP training step in tfjs, per backend and variant; prints one JSON line per run.
//   node bench/mlp.bench.mjs [--backends cpu,wasm] [--variants baseline,dense,dense+ce,dense+ce+adam]
//                            [--seconds 2] [--repeats 5] [--profile] [--torch-threads 1]
// With --torch-threads N it also runs bench/reference_torch.py (Debian's /usr/bin/python3, or
// $LM_TORCH_PYTHON) on the same system right after, and prints tfjs/pytorch ratios.
// Bundles bench/mlpStep.ts with esbuild first (tfjs-core registers gradients only in its ESM build).
import * as esbuild from "esbuild";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(tmpdir(), `lm-bench-${process.pid}`, "mlpStep.cjs");
mkdirSync(dirname(out), { recursive: true });
await esbuild.build({
  entryPoints: [join(root, "bench/mlpStep.ts")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  outfile: out,
  absWorkingDir: root,
  logLevel: "error",
});
const require = createRequire(import.meta.url);
// Only the bundle loads tfjs (importing ./common.mjs here too would load a second copy of every kernel).
const { makeMlp, useBackend, VARIANTS, tf } = require(out);
const wasmDir = `${join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist")}/`;
const argValue = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const backends = argValue("backends", "wasm,cpu").split(",");
const variants = argValue("variants", VARIANTS.join(",")).split(",");
const seconds = Number(argValue("seconds", "2"));
const repeats = Number(argValue("repeats", "5"));
const profile = process.argv.includes("--profile");
const torchThreads = argValue("torch-threads", "");
const results = [];

for (const backend of backends) {
  await useBackend(backend, wasmDir);
  for (const variant of variants) {
    const m = makeMlp(variant);
    m.step();
    const firstLoss = m.lossNow();
    for (let i = 0; i < 2; i++) m.step();
    m.lossNow();
    const rates = [];
    let steps = 3;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      let n = 0;
      do {
        m.step();
        m.lossNow(); // sync each step, as a trainer reading the loss would
        n++;
      } while (performance.now() - t0 < seconds * 1000);
      rates.push(n / ((performance.now() - t0) / 1000));
      steps += n;
    }
    const sps = median(rates);
    const rec = {
      system: "mlp",
      impl: "tfjs",
      backend: tf.getBackend(),
      variant,
      steps_per_s: +sps.toFixed(2),
      steps_per_s_all: rates.map((r) => +r.toFixed(2)),
      gflops_per_s: +((m.flopsPerStep * sps) / 1e9).toFixed(2),
      total_steps: steps,
      first_loss: +firstLoss.toFixed(5),
      final_loss: +m.lossNow().toFixed(5),
      tensors: tf.memory().numTensors,
    };
    if (profile) {
      const prof = await tf.profile(() => {
        m.step();
      });
      const by = new Map();
      for (const k of prof.kernels) {
        const ms = await k.kernelTimeMs;
        const e = by.get(k.name) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += typeof ms === "number" ? ms : 0;
        by.set(k.name, e);
      }
      rec.kernels = [...by].sort((a, b) => b[1].ms - a[1].ms).map(([k, e]) => `${k} x${e.n} ${e.ms.toFixed(1)}ms`);
      rec.kernels_total_ms = +[...by.values()].reduce((s, e) => s + e.ms, 0).toFixed(1);
    }
    console.log(JSON.stringify(rec));
    results.push(rec);
    m.dispose();
  }
}

if (torchThreads) {
  const py = process.env.LM_TORCH_PYTHON ?? "/usr/bin/python3";
  const line = execFileSync(
    py,
    [join(root, "bench/reference_torch.py"), "mlp", "--threads", torchThreads, "--repeats", String(repeats)],
    { encoding: "utf8" },
  ).trim();
  const ref = JSON.parse(line.split("\n").pop());
  console.log(line);
  for (const r of results) {
    console.log(
      JSON.stringify({
        compare: `tfjs ${r.backend}/${r.variant} vs pytorch ${ref.threads}t`,
        tfjs_steps_per_s: r.steps_per_s,
        pytorch_steps_per_s: ref.steps_per_s,
        ratio: +(r.steps_per_s / ref.steps_per_s).toFixed(3),
      }),
    );
  }
}
