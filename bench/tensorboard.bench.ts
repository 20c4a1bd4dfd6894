// Opening and following a TensorBoard event file of 10⁶ scalars with the extension's own reader
// (src/shared/tensorboardLog.ts), against a raw sequential read of the same file in the same run.
//
//   npm run build --silent && node dist/bench/tensorboard.js [--scalars 1000000] [--tags 4] [--follow 2000000]
//
// Writes an event file in the OS temp folder (one scalar per event, as PyTorch's add_scalar
// does; tags cycling through `loss/train`, `loss/test`, `acc/train`, `lr`, ...), deleted at the end.
// Prints, each the best of 3 in this process (the file is in the page cache for all of them):
//   raw read      — fs.readSync of the whole file in 4 MiB chunks (the floor: bytes off the cache);
//   metrics.jsonl — the project's own readMetrics over the same scalars written as JSON lines;
//   framing + CRC — TfRecordTailer alone (records checked and dropped);
//   open          — TensorBoardLog.poll() + snapshot(): framing, CRC, protobuf decoding, per-tag
//                   store and decimation, and the panel's rows: what opening the log costs;
// then follows the file while it grows by --follow more scalars in 100,000-scalar appends, printing
// the points kept and the heap after each poll (bounded: at most tags × 2 × TB_POINTS_PER_TAG).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { readMetrics } from "../src/shared/metricsReader";
import { encodeEvent } from "../src/shared/tensorboardEvents";
import { TB_COMPACT_AT, TensorBoardLog } from "../src/shared/tensorboardLog";
import { TfRecordTailer, frameRecord } from "../src/shared/tfRecord";

const { values: args } = parseArgs({
  options: {
    scalars: { type: "string", default: "1000000" },
    tags: { type: "string", default: "4" },
    follow: { type: "string", default: "2000000" },
  },
});
const SCALARS = Number(args.scalars);
const TAGS = Number(args.tags);
const FOLLOW = Number(args.follow);
const TAG_NAMES = ["loss/train", "loss/test", "acc/train", "lr"];
const tagName = (i: number): string => TAG_NAMES[i] ?? `extra/tag_${i}`;

/** Event records for scalars [from, to): scalar k is tag k % TAGS at step ⌊k / TAGS⌋. */
function eventBytes(from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  for (let k = from; k < to; k++) {
    const step = Math.floor(k / TAGS);
    const value = Math.exp(-step / 50_000) + 0.01 * Math.sin(k);
    parts.push(
      frameRecord(encodeEvent({ wallTime: 1.7e9 + step * 0.01, step, values: [{ tag: tagName(k % TAGS), value }] })),
    );
  }
  return Buffer.concat(parts);
}

/** Best wall time of `runs`, and the CPU time (user + system) of that run: on a shared machine the wall time includes waiting for a core. */
function best<T>(runs: number, f: () => T): { ms: number; cpuMs: number; result: T } {
  let ms = Number.POSITIVE_INFINITY;
  let cpuMs = Number.POSITIVE_INFINITY;
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = f();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (wall < ms) {
      ms = wall;
      cpuMs = (c.user + c.system) / 1000;
    }
  }
  return { ms, cpuMs, result: result as T };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-tb-bench-"));
try {
  const file = path.join(dir, "events.out.tfevents.1700000000.bench.1.0");
  const version = frameRecord(encodeEvent({ wallTime: 1.7e9, step: 0, fileVersion: "brain.Event:2" }));
  fs.writeFileSync(file, version);
  const tw = performance.now();
  for (let k = 0; k < SCALARS; k += 100_000) fs.appendFileSync(file, eventBytes(k, Math.min(SCALARS, k + 100_000)));
  const size = fs.statSync(file).size;
  console.log(
    `event file: ${SCALARS.toLocaleString("en")} scalars, ${TAGS} tags, ${(size / 2 ** 20).toFixed(1)} MiB (written in ${((performance.now() - tw) / 1000).toFixed(1)} s)`,
  );

  const raw = best(3, () => {
    const fd = fs.openSync(file, "r");
    const buf = Buffer.allocUnsafe(4 << 20);
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, total);
      if (n === 0) break;
      total += n;
    }
    fs.closeSync(fd);
    return total;
  });
  const framing = best(3, () => {
    const t = new TfRecordTailer(file);
    let n = 0;
    t.poll(() => n++);
    return n;
  });
  const open = best(3, () => {
    const log = new TensorBoardLog(dir);
    log.poll();
    const points = log.snapshot();
    return { log, rows: points.step.length };
  });
  // A second reference: the same scalars as a metrics.jsonl (one line per step, every tag a key),
  // read by the project's own metrics reader.
  const jsonl = path.join(dir, "metrics.jsonl");
  const lines: string[] = [];
  for (let step = 0; step * TAGS < SCALARS; step++) {
    const rec: Record<string, number> = { step, time: step * 0.01 };
    for (let j = 0; j < TAGS && step * TAGS + j < SCALARS; j++)
      rec[tagName(j)] = Math.exp(-step / 50_000) + 0.01 * Math.sin(step * TAGS + j);
    lines.push(JSON.stringify(rec));
  }
  fs.writeFileSync(jsonl, `${lines.join("\n")}\n`);
  lines.length = 0; // not to count in the heap while following
  const metrics = best(3, () => readMetrics(jsonl).records.length);
  fs.rmSync(jsonl);

  const ratio = (ms: number): string => `${(ms / raw.ms).toFixed(0)}× the raw read`;
  const times = (r: { ms: number; cpuMs: number }): string =>
    `${r.ms.toFixed(0).padStart(6)} ms wall ${r.cpuMs.toFixed(0).padStart(6)} ms CPU`;
  console.log(`raw read       ${times(raw)}  (${((size / 2 ** 20 / raw.ms) * 1000).toFixed(0)} MiB/s)`);
  console.log(
    `metrics.jsonl  ${times(metrics)}  readMetrics of the same scalars as JSON lines (${metrics.result} lines)`,
  );
  console.log(`framing + CRC  ${times(framing)}  ${ratio(framing.ms)}  (${framing.result} records)`);
  console.log(
    `open           ${times(open)}  ${ratio(open.ms)}, ${(open.ms / metrics.ms).toFixed(2)}× readMetrics  (${open.result.log.scalarsRead} scalars read, ${open.result.log.pointsKept} points kept, ${open.result.rows} rows sent; ≤ 2000 ms: ${open.ms <= 2000 ? "met" : "MISSED"} by the wall time, ${open.cpuMs <= 2000 ? "met" : "MISSED"} by the CPU time)`,
  );
  console.log(`load average   ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores`);
  console.log(
    JSON.stringify({
      bench: "tensorboard-open",
      scalars: SCALARS,
      tags: TAGS,
      bytes: size,
      rawMs: raw.ms,
      metricsJsonlMs: metrics.ms,
      framingMs: framing.ms,
      framingCpuMs: framing.cpuMs,
      openMs: open.ms,
      openCpuMs: open.cpuMs,
      load: os.loadavg()[0],
    }),
  );

  // Following: the same log object polled after each append.
  const log = open.result.log;
  const g = (globalThis as { gc?: () => void }).gc;
  let peakHeap = 0;
  for (let k = SCALARS; k < SCALARS + FOLLOW; k += 100_000) {
    fs.appendFileSync(file, eventBytes(k, Math.min(SCALARS + FOLLOW, k + 100_000)));
    const t0 = performance.now();
    const r = log.poll();
    if (r.kind === "reset") log.snapshot();
    const ms = performance.now() - t0;
    g?.();
    const heap = process.memoryUsage().heapUsed;
    peakHeap = Math.max(peakHeap, heap);
    console.log(
      `follow: ${(k + 100_000).toLocaleString("en").padStart(10)} scalars  poll ${ms.toFixed(0).padStart(4)} ms (${r.kind})  kept ${log.pointsKept} (≤ ${TAGS * TB_COMPACT_AT})  heap ${(heap / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "tensorboard-follow",
      scalars: SCALARS + FOLLOW,
      pointsKept: log.pointsKept,
      peakHeapMiB: peakHeap / 2 ** 20,
    }),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
