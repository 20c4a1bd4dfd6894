import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { MetricsTailer } from "../../src/extension/metricsTailer";
import { tempDir } from "../support";

// A real gc() so that heap figures measure what is retained, not garbage not yet collected.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const line = (step: number, extra = ""): string => `{"step":${step},"time":${step / 10}${extra}}\n`;

test("reads only appended lines, holds a partial line until its newline", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  const tail = new MetricsTailer(p);
  assert.deepEqual(tail.poll(), { records: [], reset: false, more: false, skipped: 0 }); // missing file
  fs.writeFileSync(p, line(0, ',"train_loss":2.5') + line(10));
  assert.deepEqual(tail.poll(), {
    records: [
      { step: 0, time: 0, train_loss: 2.5 },
      { step: 10, time: 1 },
    ],
    reset: false,
    more: false,
    skipped: 0,
  });
  assert.deepEqual(tail.poll().records, []);
  fs.appendFileSync(p, '{"step":20,"time":2,"train_lo');
  assert.deepEqual(tail.poll().records, []);
  assert.equal(tail.hasPartialLine, true);
  fs.appendFileSync(p, `ss":null}\n${line(30)}`);
  assert.deepEqual(tail.poll().records, [
    { step: 20, time: 2, train_loss: null },
    { step: 30, time: 3 },
  ]);
  assert.equal(tail.hasPartialLine, false);
  assert.equal(tail.position, fs.statSync(p).size);
});

test("partial lines split across several reads and chunks, multi-byte UTF-8 across a chunk edge", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  const text = line(0, ',"é_loss":1') + line(1, ',"ü":2') + line(2);
  fs.writeFileSync(p, "");
  const tail = new MetricsTailer(p, { chunkBytes: 3 }); // every line spans several chunks; é and ü are 2 bytes
  const got: Array<Record<string, unknown>> = [];
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 5) {
    fs.appendFileSync(p, bytes.subarray(i, i + 5));
    got.push(...tail.poll().records);
  }
  assert.deepEqual(got, [
    { step: 0, time: 0, é_loss: 1 },
    { step: 1, time: 0.1, ü: 2 },
    { step: 2, time: 0.2 },
  ]);
});

test("corrupt lines are skipped and counted; blank lines ignored", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  fs.writeFileSync(p, `${line(0)}garbage\n\n{"time":1}\n[1,2]\n${line(1)}`);
  const tail = new MetricsTailer(p);
  const r = tail.poll();
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 1],
  );
  assert.equal(r.skipped, 3);
  assert.equal(tail.badLines, 3);
  assert.equal(tail.records, 2);
});

test("truncation resets and re-reads from the start", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  fs.writeFileSync(p, line(0) + line(10) + line(20));
  const tail = new MetricsTailer(p);
  assert.equal(tail.poll().records.length, 3);
  fs.truncateSync(p, line(0).length); // same inode, smaller
  const r = tail.poll();
  assert.equal(r.reset, true);
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0],
  );
  assert.equal(tail.poll().reset, false);
});

test("replacement by rename (a resume's atomic rewrite) resets, even when the new file is longer", (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, "metrics.jsonl");
  fs.writeFileSync(p, line(0) + line(10));
  const tail = new MetricsTailer(p);
  assert.equal(tail.poll().records.length, 2);
  const tmp = path.join(dir, ".metrics.jsonl.tmp");
  fs.writeFileSync(tmp, line(0) + line(5) + line(6) + line(7));
  fs.renameSync(tmp, p);
  const r = tail.poll();
  assert.equal(r.reset, true);
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 5, 6, 7],
  );
});

test("an in-place rewrite that grows past the offset is noticed by the bytes before the offset", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  fs.writeFileSync(p, line(0) + line(10));
  const tail = new MetricsTailer(p);
  tail.poll();
  const fd = fs.openSync(p, "r+"); // same inode: rewrite the content in place, longer
  fs.writeSync(fd, line(0) + line(11) + line(12), 0);
  fs.closeSync(fd);
  const r = tail.poll();
  assert.equal(r.reset, true);
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 11, 12],
  );
});

test("a deleted file resets once, then gives nothing until it comes back", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  fs.writeFileSync(p, line(0));
  const tail = new MetricsTailer(p);
  tail.poll();
  fs.rmSync(p);
  assert.deepEqual(tail.poll(), { records: [], reset: true, more: false, skipped: 0 });
  assert.deepEqual(tail.poll(), { records: [], reset: false, more: false, skipped: 0 });
  fs.writeFileSync(p, line(3));
  assert.deepEqual(
    tail.poll().records.map((x) => x.step),
    [3],
  );
});

test("an over-long line without newline is dropped, not buffered without bound", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  fs.writeFileSync(p, line(0) + "x".repeat(5000));
  const tail = new MetricsTailer(p, { chunkBytes: 512, maxLineBytes: 1024 });
  assert.equal(tail.poll().records.length, 1);
  fs.appendFileSync(p, `yyyy\n${line(1)}`);
  const r = tail.poll();
  assert.deepEqual(
    r.records.map((x) => x.step),
    [1],
  );
  assert.equal(r.skipped, 1);
});

test("maxBytesPerPoll splits a long file over several polls", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  let text = "";
  for (let s = 0; s < 1000; s++) text += line(s);
  fs.writeFileSync(p, text);
  const tail = new MetricsTailer(p, { chunkBytes: 1000, maxBytesPerPoll: 4000 });
  const steps: number[] = [];
  let polls = 0;
  for (;;) {
    const r = tail.poll();
    polls++;
    steps.push(...r.records.map((x) => x.step));
    if (!r.more) break;
  }
  assert.equal(steps.length, 1000);
  assert.ok(steps.every((s, i) => s === i));
  assert.equal(polls, Math.ceil(Buffer.byteLength(text) / 4000));
});

test("a ~50 MB file: exact counts, and bounded memory when consumed poll by poll", (t) => {
  const p = path.join(tempDir(t), "metrics.jsonl");
  // Written in blocks so the generator itself holds little.
  const fd = fs.openSync(p, "w");
  const perBlock = 10_000;
  let n = 0;
  let bad = 0;
  while (fs.fstatSync(fd).size < 50 * 1024 * 1024) {
    let block = "";
    for (let k = 0; k < perBlock; k++, n++) {
      block += `{"step":${n},"time":${n * 0.01},"train_loss":${1 / (n + 1)},"lr":0.001,"param_norm":31.4}\n`;
      if (n % 100_000 === 99_999) {
        block += "corrupt\n";
        bad++;
      }
    }
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
  const size = fs.statSync(p).size;

  gc();
  const before = process.memoryUsage();
  const tail = new MetricsTailer(p, { maxBytesPerPoll: 4 << 20 });
  const t0 = performance.now();
  let count = 0;
  let lastStep = -1;
  let inOrder = true;
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  let polls = 0;
  for (;;) {
    const r = tail.poll();
    polls++;
    for (const rec of r.records) {
      if (rec.step !== lastStep + 1) inOrder = false;
      lastStep = rec.step;
    }
    count += r.records.length;
    // Measured while this poll's records are still alive: what the tailer itself retains is small.
    gc();
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    if (!r.more) break;
  }
  const ms = performance.now() - t0;
  assert.equal(count, n);
  assert.equal(tail.badLines, bad);
  assert.ok(inOrder);
  assert.equal(tail.position, size);
  const mb = (x: number): string => (x / 2 ** 20).toFixed(1);
  t.diagnostic(
    `tailed ${mb(size)} MB, ${n} records in ${polls} polls of 4 MB, ${ms.toFixed(0)} ms including a gc() per poll; peak live heap +${mb(peakHeap - before.heapUsed)} MB, peak rss +${mb(peakRss - before.rss)} MB`,
  );
  // A 50 MB file: holding it (as a string) or its 540,000 records would retain far more than this.
  assert.ok(peakHeap - before.heapUsed < 24 * 2 ** 20, `live heap grew by ${mb(peakHeap - before.heapUsed)} MB`);
  assert.ok(peakRss - before.rss < 200 * 2 ** 20, `rss grew by ${mb(peakRss - before.rss)} MB`);

  // One unbounded poll reads it all too (records held by the caller, file bytes never whole).
  const t1 = performance.now();
  const all = new MetricsTailer(p).poll();
  t.diagnostic(
    `one unbounded poll: ${(performance.now() - t1).toFixed(0)} ms (${(size / 2 ** 20 / ((performance.now() - t1) / 1000)).toFixed(0)} MB/s)`,
  );
  assert.equal(all.records.length, n);
  assert.equal(all.skipped, bad);
});
