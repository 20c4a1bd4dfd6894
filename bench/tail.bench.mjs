#!/usr/bin/env node
// Memory while following a big metrics.jsonl with the extension's own code (`LatestMetrics`, which
// the code lenses and hovers call, over `MetricsTailer`): is it bounded by the file's size or not?
//
//   node bench/tail.bench.mjs [--sizes 64,256,1024] [--grow-mb 1024]
//
// A run folder is made in the OS temp folder and deleted at the end. For each size, the file is
// grown to that many MiB (lines like the trainer's: step, time, train loss and lr every line, test
// loss/accuracy every 10th) and a fresh child process reads it from the start in one
// `LatestMetrics.get` ("full"); then a child follows the file with a `get` every 50 ms while this
// process appends to it as fast as it can up to --grow-mb ("grow"). Each child reports its peak
// RSS (getrusage maxrss: the true peak, also inside one synchronous call), its RSS before reading,
// the largest heapUsed it sampled, the time taken, and whether the latest values it ended with are
// those of the last line written. Prints a table and one JSON line per measurement.
import * as esbuild from "esbuild";
import { fork } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "dist", "bench", "tail.cjs");
const MiB = 1 << 20;

// ---- the child: reads with the extension's code and reports ---------------------------------

async function child(mode, runDir, expectStep) {
  const { LatestMetrics } = createRequire(import.meta.url)(bundle);
  const rssBefore = process.memoryUsage().rss;
  let maxHeap = process.memoryUsage().heapUsed;
  const sample = () => (maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed));
  const latest = new LatestMetrics();
  const t0 = performance.now();
  let last;
  if (mode === "full") {
    last = latest.get(runDir);
    sample();
  } else {
    // Follow until the parent says the writer is done, then one last read.
    let done = false;
    process.on("message", (m) => {
      if (m && m.type === "done") {
        done = true;
        expectStep = m.lastStep;
      }
    });
    process.send({ type: "following" });
    while (!done) {
      last = latest.get(runDir);
      sample();
      await new Promise((r) => setTimeout(r, 50));
    }
    last = latest.get(runDir);
    sample();
  }
  const ms = performance.now() - t0;
  process.send({
    type: "result",
    ms,
    rssBefore,
    peakRss: process.resourceUsage().maxRSS * 1024,
    maxHeapUsed: maxHeap,
    lastStep: last?.step,
    correct:
      last?.step === expectStep && typeof last?.["test_acc"] === "number" && typeof last?.["train_loss"] === "number",
  });
  process.disconnect(); // the IPC channel (with a message listener) would keep this process alive
}

// ---- the parent ------------------------------------------------------------------------------

/** Appends lines until the file reaches `targetBytes`; returns the next step. Writes 4 MiB at a time. */
function appendUntil(fd, fromStep, currentBytes, targetBytes, onChunk) {
  let step = fromStep;
  let size = currentBytes;
  while (size < targetBytes) {
    const lines = [];
    let len = 0;
    while (len < 4 * MiB) {
      const rec = {
        step,
        time: step * 0.0123,
        train_loss: 4.6 * Math.exp(-step / 2e6) + 0.01 * Math.sin(step),
        lr: 1e-3,
      };
      if (step % 10 === 0)
        Object.assign(rec, {
          test_loss: 4.7 * Math.exp(-step / 3e6),
          train_acc: Math.min(1, step / 5e6),
          test_acc: Math.min(1, step / 8e6),
        });
      const line = `${JSON.stringify(rec)}\n`;
      lines.push(line);
      len += line.length;
      step++;
    }
    // The last line of a size always carries every metric (the check reads test_acc from it).
    if ((step - 1) % 10 !== 0) {
      const rec = {
        step,
        time: step * 0.0123,
        train_loss: 0.5,
        lr: 1e-3,
        test_loss: 0.6,
        train_acc: 0.9,
        test_acc: 0.8,
      };
      const line = `${JSON.stringify(rec)}\n`;
      lines.push(line);
      len += line.length;
      step++;
    }
    size += writeSync(fd, lines.join(""));
    if (onChunk) onChunk(size);
  }
  return step;
}

function runChild(mode, runDir, expectStep, onFollowing) {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ["--child", mode, "--run-dir", runDir, `--expect=${expectStep}`], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result;
    c.on("message", (m) => {
      if (m.type === "following") onFollowing?.(c);
      if (m.type === "result") result = m;
    });
    c.on("error", reject);
    c.on("exit", (code) =>
      result ? resolve(result) : reject(new Error(`child ${mode} exited with ${code} and no result`)),
    );
  });
}

const mb = (b) => (b / MiB).toFixed(0);

async function parent(sizesMb, growMb) {
  mkdirSync(dirname(bundle), { recursive: true });
  await esbuild.build({
    stdin: {
      contents: 'export { LatestMetrics } from "./src/extension/latestMetrics";',
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: bundle,
    logLevel: "warning",
  });
  const dir = mkdtempSync(join(tmpdir(), "lm-tail-bench-"));
  const rows = [];
  try {
    // Full reads of the same file at growing sizes.
    const runDir = join(dir, "run-full");
    mkdirSync(runDir);
    const file = join(runDir, "metrics.jsonl");
    const fd = openSync(file, "a");
    let step = 0;
    let size = 0;
    for (const target of sizesMb) {
      step = appendUntil(fd, step, size, target * MiB);
      size = statSync(file).size;
      const r = await runChild("full", runDir, step - 1);
      rows.push({ mode: "full", fileBytes: size, ...r });
      console.log(JSON.stringify(rows.at(-1)));
    }
    closeSync(fd);
    rmSync(runDir, { recursive: true });

    // Following a file while it grows to growMb.
    const growDir = join(dir, "run-grow");
    mkdirSync(growDir);
    const growFile = join(growDir, "metrics.jsonl");
    const gfd = openSync(growFile, "a");
    const r = await runChild("grow", growDir, -1, async (c) => {
      // Yield between 4 MiB writes so the follower's polls interleave with the growth.
      let s = 0;
      let st = 0;
      while (s < growMb * MiB) {
        st = appendUntil(gfd, st, s, Math.min(growMb * MiB, s + 32 * MiB));
        s = statSync(growFile).size;
        await new Promise((res) => setTimeout(res, 10));
      }
      c.send({ type: "done", lastStep: st - 1 });
    });
    closeSync(gfd);
    rows.push({ mode: "grow", fileBytes: statSync(growFile).size, ...r });
    console.log(JSON.stringify(rows.at(-1)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log("\nmode  file MiB  peak RSS MiB  RSS before MiB  max heapUsed MiB  time s  MiB/s  latest = last line");
  for (const r of rows) {
    console.log(
      `${r.mode.padEnd(5)} ${mb(r.fileBytes).padStart(8)}  ${mb(r.peakRss).padStart(12)}  ${mb(r.rssBefore).padStart(14)}  ${mb(r.maxHeapUsed).padStart(16)}  ${(r.ms / 1000).toFixed(1).padStart(6)}  ${(r.fileBytes / MiB / (r.ms / 1000)).toFixed(0).padStart(5)}  ${r.correct ? "yes" : `NO (step ${r.lastStep})`}`,
    );
  }
  if (rows.some((r) => !r.correct)) process.exitCode = 1;
}

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    "run-dir": { type: "string" },
    expect: { type: "string" },
    sizes: { type: "string", default: "64,256,1024" },
    "grow-mb": { type: "string", default: "1024" },
  },
});
if (values.child) await child(values.child, values["run-dir"], Number(values.expect));
else await parent(values.sizes.split(",").map(Number), Number(values["grow-mb"]));
