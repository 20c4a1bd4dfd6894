import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { appendLine } from "../../src/shared/atomicFile";
import { readMetrics, truncateMetricsAfter } from "../../src/shared/metricsReader";
import { formatMetricsLine } from "../../src/shared/runFormat";

function tmpFile(t: { after: (fn: () => void) => void }, content?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-metrics-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = path.join(dir, "metrics.jsonl");
  if (content !== undefined) fs.writeFileSync(p, content);
  return p;
}

test("reads records with their values, nulls and file order", (t) => {
  const p = tmpFile(t, '{"step":0,"time":0,"train_loss":2.5,"lr":0.001}\n{"step":10,"time":1.5,"train_loss":null,"note":"text"}\n');
  const r = readMetrics(p);
  assert.deepEqual(r, {
    records: [
      { step: 0, time: 0, train_loss: 2.5, lr: 0.001 },
      { step: 10, time: 1.5, train_loss: null },
    ],
    partialTail: false,
    badLines: [],
  });
});

test("a partial last line is left out and flagged; a complete unterminated one is kept", (t) => {
  const p = tmpFile(t, '{"step":0,"time":0}\n{"step":10,"time":1}\n{"step":20,"ti');
  const r = readMetrics(p);
  assert.deepEqual(r.records.map((x) => x.step), [0, 10]);
  assert.equal(r.partialTail, true);
  assert.deepEqual(r.badLines, []);

  fs.writeFileSync(p, '{"step":0,"time":0}\n{"step":10,"time":1}');
  const r2 = readMetrics(p);
  assert.deepEqual(r2.records.map((x) => x.step), [0, 10]);
  assert.equal(r2.partialTail, false);
});

test("corrupt lines in the middle are skipped and reported by 1-based line number", (t) => {
  const lines = [
    '{"step":0,"time":0,"train_loss":1}',
    "garbage",
    '{"step":2,"time":2,"train_loss":0.5}',
    '{"time":3}',
    "",
    "[1,2]",
    '{"step":"5","time":5}',
    '{"step":6,"time":6}\r',
    '{"step":7,"time":7,"train_loss":0.25}',
  ];
  const p = tmpFile(t, lines.join("\n") + "\n");
  const r = readMetrics(p);
  assert.deepEqual(r.badLines, [2, 4, 6, 7]);
  assert.deepEqual(r.records.map((x) => x.step), [0, 2, 6, 7]);
  assert.equal(r.records[3]?.["train_loss"], 0.25);
  assert.equal(r.partialTail, false);
});

test("empty and missing files", (t) => {
  const p = tmpFile(t, "");
  assert.deepEqual(readMetrics(p), { records: [], partialTail: false, badLines: [] });
  assert.throws(() => readMetrics(path.join(path.dirname(p), "none.jsonl")), { code: "ENOENT" });
});

test("round trip with formatMetricsLine and appendLine, non-finite values as null", (t) => {
  const p = tmpFile(t);
  appendLine(p, formatMetricsLine({ step: 0, time: 0, train_loss: Number.NaN, lr: 0.1 }));
  appendLine(p, formatMetricsLine({ step: 1, time: 0.5, train_loss: Infinity, lr: 0.1 }));
  const r = readMetrics(p);
  assert.deepEqual(r.records, [
    { step: 0, time: 0, train_loss: null, lr: 0.1 },
    { step: 1, time: 0.5, train_loss: null, lr: 0.1 },
  ]);
});

test("truncateMetricsAfter keeps step <= S byte for byte and drops the rest atomically", (t) => {
  const kept = [0, 10, 20, 30, 40, 50].map((s) => `{"step": ${s}, "time": ${s / 10}, "train_loss": ${1 / (s + 1)}}`);
  const later = [60, 70, 80].map((s) => `{"step":${s},"time":${s / 10}}`);
  const content = [kept[0], kept[1], "not json", ...kept.slice(2), ...later].join("\n") + '\n{"step":90,"ti';
  const p = tmpFile(t, content);
  const before = readMetrics(p);
  assert.deepEqual(before.badLines, [3]);
  assert.equal(before.partialTail, true);

  assert.deepEqual(truncateMetricsAfter(p, 50), { kept: 6, removed: 3, droppedBadLines: 2, rewritten: true });
  assert.equal(fs.readFileSync(p, "utf8"), kept.join("\n") + "\n");
  assert.deepEqual(fs.readdirSync(path.dirname(p)), ["metrics.jsonl"]);
  const after = readMetrics(p);
  assert.deepEqual(after.records.map((r) => r.step), [0, 10, 20, 30, 40, 50]);
  assert.deepEqual(after.badLines, []);
  assert.equal(after.partialTail, false);

  // Nothing later than S: left untouched (same inode, same bytes).
  const ino = fs.statSync(p).ino;
  assert.deepEqual(truncateMetricsAfter(p, 50), { kept: 6, removed: 0, droppedBadLines: 0, rewritten: false });
  assert.deepEqual(truncateMetricsAfter(p, 1000), { kept: 6, removed: 0, droppedBadLines: 0, rewritten: false });
  assert.equal(fs.statSync(p).ino, ino);

  // Resuming: the run appends again from S+1 and no step appears twice.
  appendLine(p, formatMetricsLine({ step: 60, time: 7, train_loss: 0.01 }));
  const resumed = readMetrics(p).records.map((r) => r.step);
  assert.deepEqual(resumed, [0, 10, 20, 30, 40, 50, 60]);

  // Truncating to before the first record empties the file.
  assert.deepEqual(truncateMetricsAfter(p, -1), { kept: 0, removed: 7, droppedBadLines: 0, rewritten: true });
  assert.equal(fs.readFileSync(p, "utf8"), "");
});

test("truncateMetricsAfter terminates a complete last line and ignores a missing file", (t) => {
  const p = tmpFile(t, '{"step":0,"time":0}\n{"step":5,"time":1}');
  assert.deepEqual(truncateMetricsAfter(p, 5), { kept: 2, removed: 0, droppedBadLines: 0, rewritten: true });
  assert.equal(fs.readFileSync(p, "utf8"), '{"step":0,"time":0}\n{"step":5,"time":1}\n');
  const missing = path.join(path.dirname(p), "other.jsonl");
  assert.deepEqual(truncateMetricsAfter(missing, 3), { kept: 0, removed: 0, droppedBadLines: 0, rewritten: false });
  assert.equal(fs.existsSync(missing), false);
});
