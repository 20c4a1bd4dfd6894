// Shared helpers for the bench scripts: backend setup and median timing.
// Plain .mjs importing tfjs from node_modules, so no build step is needed.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
export const tf = require("@tensorflow/tfjs-core");
require("@tensorflow/tfjs-backend-cpu");
const wasm = require("@tensorflow/tfjs-backend-wasm");

export const wasmDir = `${join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist")}/`;

/** Activates "cpu" or "wasm" (single-threaded SIMD build, as the trainer uses it). */
export async function useBackend(name) {
  if (name === "wasm") {
    wasm.setWasmPaths(wasmDir);
    wasm.setThreadsCount(1);
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed`);
  await tf.ready();
  return tf.getBackend();
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Times fn() (which returns a tensor or array of tensors, disposed after a sync read) and returns ms per call: median, min, max. */
export function timeIt(fn, { warmup = 2, reps = 7, minMs = 0 } = {}) {
  const run = () => {
    const out = fn();
    const ts = Array.isArray(out) ? out : [out];
    ts[0].dataSync();
    tf.dispose(ts);
  };
  for (let i = 0; i < warmup; i++) run();
  const times = [];
  const t0 = performance.now();
  while (times.length < reps || performance.now() - t0 < minMs) {
    const s = performance.now();
    run();
    times.push(performance.now() - s);
  }
  return { ms: median(times), min: Math.min(...times), max: Math.max(...times), n: times.length };
}

export function argValue(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
