// Helpers shared by tests (not a test file itself: only `*.test.ts` are entries).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type * as tf from "@tensorflow/tfjs-core";

/** The repository root: the nearest folder above the (bundled) test whose package.json is ours. */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "learning-mechanics")
      return dir;
    if (dirname(dir) === dir) throw new Error(`no learning-mechanics package.json above ${__dirname}`);
  }
}

/**
 * A fresh folder under the system's temporary folder, removed when the test ends. Its real path
 * (symbolic links resolved), since watchers and run indexes report real paths.
 */
export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "lm-test-")));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Largest absolute difference between two tensors of the same shape. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The Python with PyTorch the torch tests use: LM_TEST_PYTHON, then the repository's
 * .venv/bin/python (which .ci/run makes), then python3 on PATH; the first that imports torch. A
 * synchronous look, since node:test decides skips when the file loads. Without one the tests skip
 * with the reason, unless LM_REQUIRE_TORCH=1 (CI), where that is an error.
 */
export function torchPython(): { python: string; skip: false } | { python: undefined; skip: string } {
  const reasons: string[] = [];
  for (const py of [process.env["LM_TEST_PYTHON"], join(repoRoot(), ".venv", "bin", "python"), "python3"]) {
    if (!py) continue;
    const r = spawnSync(py, ["-c", "import torch"], { encoding: "utf8", timeout: 120_000 });
    if (r.status === 0) return { python: py, skip: false };
    reasons.push(
      `${py}: ${r.error ? r.error.message : (r.stderr.trim().split("\n").pop() ?? `exit ${String(r.status)}`)}`,
    );
  }
  const reason = `no Python with PyTorch (set LM_TEST_PYTHON): ${reasons.join("; ")}`;
  if (process.env["LM_REQUIRE_TORCH"] === "1") throw new Error(`LM_REQUIRE_TORCH=1: ${reason}`);
  return { python: undefined, skip: reason };
}

/**
 * Asserts that `work(size)` takes time linear in `size`, not quadratic, robustly under CI load:
 * sixteen times the input takes about 16 times the time when linear and 256 times when quadratic,
 * so the bound is their geometric mean, 64. Each size is timed as the best of several interleaved
 * runs after a warm-up, and a ratio over the bound is measured again (up to three times): noise
 * passes on a second try, a quadratic scan fails every time. (A fourfold input against a bound of 8
 * failed under CI load at 8.2.)
 */
export function assertLinearTime(what: string, work: (size: number) => void, size: number): void {
  const ms = (n: number): number => {
    const t0 = performance.now();
    work(n);
    return performance.now() - t0;
  };
  const ratios: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    work(size); // warm up the JIT before timing either
    let small = Infinity;
    let large = Infinity;
    for (let i = 0; i < 5; i++) {
      small = Math.min(small, ms(size));
      large = Math.min(large, ms(16 * size));
    }
    const ratio = large / Math.max(small, 1e-3);
    ratios.push(ratio);
    if (ratio < 64) return;
  }
  assert.fail(`${what}: sixteen times the input multiplied the time by ${ratios.map((r) => r.toFixed(1)).join(", ")}`);
}
