import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { appendLine } from "../../src/shared/atomicFile";
import { scanLinesSync } from "../../src/shared/lineScanner";
import {
  describeBadLines,
  forEachMetricsRecord,
  forEachMetricsRecordAsync,
  readMetrics,
  readMetricsAsync,
  readMetricsTail,
  truncateMetricsAfter,
} from "../../src/shared/metricsReader";
import { type MetricsRecord, formatMetricsLine, parseMetricsLine } from "../../src/shared/runFormat";
import { childJob, runChildJob } from "../childRun";

// Jobs run in a child process (killed at a time limit), for reads that could block or exhaust
// memory if the reader regressed, and to measure peak memory apart from the test runner.
childJob({
  readMetrics: ([p]) => {
    const r = readMetrics(p as string);
    return {
      steps: r.records.map((x) => x.step),
      badLineCount: r.badLineCount,
      badLineDetails: r.badLineDetails,
      partialTail: r.partialTail,
    };
  },
  countRecords: ([p]) => {
    let n = 0;
    const scan = forEachMetricsRecord(p as string, () => n++);
    return { n, badLineCount: scan.badLineCount };
  },
  tail: ([p, count]) => readMetricsTail(p as string, Number(count)).records.map((x) => x.step),
  truncate: ([p, step]) => truncateMetricsAfter(p as string, Number(step)),
});

function tmpFile(t: { after: (fn: () => void) => void }, content?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-metrics-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = path.join(dir, "metrics.jsonl");
  if (content !== undefined) fs.writeFileSync(p, content);
  return p;
}

test("reads records with their values, nulls and file order", (t) => {
  const p = tmpFile(
    t,
    '{"step":0,"time":0,"train_loss":2.5,"lr":0.001}\n{"step":10,"time":1.5,"train_loss":null,"note":"text"}\n',
  );
  const r = readMetrics(p);
  assert.deepEqual(r, {
    records: [
      { step: 0, time: 0, train_loss: 2.5, lr: 0.001 },
      { step: 10, time: 1.5, train_loss: null },
    ],
    partialTail: false,
    badLines: [],
    badLineCount: 0,
    badLineDetails: [],
  });
});

test("a partial last line is left out and flagged; a complete unterminated one is kept", (t) => {
  const p = tmpFile(t, '{"step":0,"time":0}\n{"step":10,"time":1}\n{"step":20,"ti');
  const r = readMetrics(p);
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 10],
  );
  assert.equal(r.partialTail, true);
  assert.deepEqual(r.badLines, []);

  fs.writeFileSync(p, '{"step":0,"time":0}\n{"step":10,"time":1}');
  const r2 = readMetrics(p);
  assert.deepEqual(
    r2.records.map((x) => x.step),
    [0, 10],
  );
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
  const p = tmpFile(t, `${lines.join("\n")}\n`);
  const r = readMetrics(p);
  assert.deepEqual(r.badLines, [2, 4, 6, 7]);
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 2, 6, 7],
  );
  assert.equal(r.records[3]?.["train_loss"], 0.25);
  assert.equal(r.partialTail, false);
});

test("empty and missing files", (t) => {
  const p = tmpFile(t, "");
  assert.deepEqual(readMetrics(p), {
    records: [],
    partialTail: false,
    badLines: [],
    badLineCount: 0,
    badLineDetails: [],
  });
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

test("truncateMetricsAfter removes records after S atomically and keeps every other line byte for byte", (t) => {
  const kept = [0, 10, 20, 30, 40, 50].map((s) => `{"step": ${s}, "time": ${s / 10}, "train_loss": ${1 / (s + 1)}}`);
  const later = [60, 70, 80].map((s) => `{"step":${s},"time":${s / 10}}`);
  const content = `${[kept[0], kept[1], "not json", ...kept.slice(2), ...later].join("\n")}\n{"step":90,"ti`;
  const p = tmpFile(t, content);
  const before = readMetrics(p);
  assert.deepEqual(before.badLines, [3]);
  assert.equal(before.partialTail, true);

  // Lines that are not records are never deleted (readers count and show them); the cut last
  // line is kept too, terminated, so it is now a bad line like any other.
  assert.deepEqual(truncateMetricsAfter(p, 50), { kept: 6, removed: 3, badLinesKept: 2, rewritten: true });
  const cut = '{"step":90,"ti';
  assert.equal(fs.readFileSync(p, "utf8"), `${[kept[0], kept[1], "not json", ...kept.slice(2), cut].join("\n")}\n`);
  assert.deepEqual(fs.readdirSync(path.dirname(p)), ["metrics.jsonl"]);
  const after = readMetrics(p);
  assert.deepEqual(
    after.records.map((r) => r.step),
    [0, 10, 20, 30, 40, 50],
  );
  assert.deepEqual(after.badLines, [3, 8]);
  assert.equal(after.badLineCount, 2);
  assert.equal(after.partialTail, false);

  // Nothing later than S: left untouched (same inode, same bytes).
  const ino = fs.statSync(p).ino;
  assert.deepEqual(truncateMetricsAfter(p, 50), { kept: 6, removed: 0, badLinesKept: 2, rewritten: false });
  assert.deepEqual(truncateMetricsAfter(p, 1000), { kept: 6, removed: 0, badLinesKept: 2, rewritten: false });
  assert.equal(fs.statSync(p).ino, ino);

  // Resuming: the run appends again from S+1 and no step appears twice.
  appendLine(p, formatMetricsLine({ step: 60, time: 7, train_loss: 0.01 }));
  const resumed = readMetrics(p).records.map((r) => r.step);
  assert.deepEqual(resumed, [0, 10, 20, 30, 40, 50, 60]);

  // Truncating to before the first record removes every record, and only the records.
  assert.deepEqual(truncateMetricsAfter(p, -1), { kept: 0, removed: 7, badLinesKept: 2, rewritten: true });
  assert.equal(fs.readFileSync(p, "utf8"), `not json\n${cut}\n`);
});

test("truncateMetricsAfter terminates a complete last line and ignores a missing file", (t) => {
  const p = tmpFile(t, '{"step":0,"time":0}\n{"step":5,"time":1}');
  assert.deepEqual(truncateMetricsAfter(p, 5), { kept: 2, removed: 0, badLinesKept: 0, rewritten: true });
  assert.equal(fs.readFileSync(p, "utf8"), '{"step":0,"time":0}\n{"step":5,"time":1}\n');
  const missing = path.join(path.dirname(p), "other.jsonl");
  assert.deepEqual(truncateMetricsAfter(missing, 3), { kept: 0, removed: 0, badLinesKept: 0, rewritten: false });
  assert.equal(fs.existsSync(missing), false);
});

test("Python's NaN, Infinity and -Infinity tokens are non-finite values, not bad lines; null stays null", (t) => {
  // What Python's json.dumps writes for float('nan') / float('inf'), and what our trainer writes (null).
  const p = tmpFile(
    t,
    '{"step": 0, "time": 0.5, "train_loss": NaN, "test_loss": Infinity, "lr": -Infinity, "note": "NaN"}\n{"step":1,"time":1,"train_loss":null}\n[NaN]\n{"step": NaN, "time": 1}\n',
  );
  const r = readMetrics(p);
  assert.equal(r.records.length, 2);
  const [a, b] = r.records as [MetricsRecord, MetricsRecord];
  assert.ok(Number.isNaN(a["train_loss"]));
  assert.equal(a["test_loss"], Infinity);
  assert.equal(a["lr"], -Infinity);
  assert.equal("note" in a, false, "strings are not scalars, even 'NaN'");
  assert.equal(b["train_loss"], null);
  assert.deepEqual(r.badLines, [3, 4]);
  assert.deepEqual(r.badLineDetails, [
    { line: 3, reason: "a JSON value that is an array, not an object" },
    { line: 4, reason: "step is a non-finite number, not a finite number" },
  ]);
  // The tokens count only outside strings, and only as whole tokens.
  assert.equal(parseMetricsLine('{"step":1,"x":"NaN","y":NaNa}'), undefined);
  assert.equal(parseMetricsLine('{"step":1,"x":Infinit}'), undefined);
  assert.deepEqual(parseMetricsLine('{"step":1,"s":"a \\"NaN\\" b","y":-Infinity}'), {
    step: 1,
    time: Number.NaN,
    y: -Infinity,
  });
});

test("bad lines are counted, with the first few numbers and reasons, and described in one line", (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 1500; i++) lines.push(i % 2 === 0 ? `{"step":${i},"time":0}` : "garbage");
  lines.push('{"time":3}', '{"step":"7"}');
  const p = tmpFile(t, `${lines.join("\n")}\n`);
  const r = readMetrics(p);
  assert.equal(r.records.length, 750);
  assert.equal(r.badLineCount, 752);
  assert.equal(r.badLines.length, 752);
  assert.deepEqual(r.badLines.slice(0, 3), [2, 4, 6]);
  assert.deepEqual(
    r.badLineDetails,
    [2, 4, 6, 8, 10].map((line) => ({ line, reason: "not valid JSON: unexpected character at line 1, column 1" })),
  );
  assert.equal(
    describeBadLines(r),
    "752 lines of metrics.jsonl are not valid records and were skipped (line 2: not valid JSON: unexpected character at line 1, column 1; line 4: not valid JSON: unexpected character at line 1, column 1; line 6: not valid JSON: unexpected character at line 1, column 1; line 8: not valid JSON: unexpected character at line 1, column 1; line 10: not valid JSON: unexpected character at line 1, column 1; …)",
  );
  const tail = readMetrics(tmpFile(t, '{"step":0}\n{"time":3}\n{"step":"7"}\n'));
  assert.deepEqual(tail.badLineDetails, [
    { line: 2, reason: "no step" },
    { line: 3, reason: "step is a string, not a finite number" },
  ]);
  assert.equal(describeBadLines(readMetrics(tmpFile(t, '{"step":0}\n'))), undefined);
  // At most 1000 line numbers are kept, whatever the count.
  const many = tmpFile(t, "x\n".repeat(5000));
  const m = readMetrics(many);
  assert.equal(m.badLineCount, 5000);
  assert.equal(m.badLines.length, 1000);
  assert.equal(m.badLines[999], 1000);
});

test("a line over the line limit is skipped as a bad line without being held", (t) => {
  const big = `{"step":1,"time":0,"pad":"${"x".repeat(200)}"}`;
  const p = tmpFile(t, `{"step":0,"time":0}\n${big}\n{"step":2,"time":0}\n${big}`);
  const r = readMetrics(p, { maxLineBytes: 100, chunkBytes: 16 });
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 2],
  );
  assert.deepEqual(r.badLineDetails, [{ line: 2, reason: "longer than the 100-byte line limit" }]);
  assert.equal(r.partialTail, true, "an unterminated over-long last line is a partial tail");
  // The default limit is READ_LIMITS.lineBytes (16 MiB): a 17 MiB line is skipped.
  const huge = tmpFile(t, `{"step":0,"time":0}\n{"step":1,"pad":"${"y".repeat(17 << 20)}"}\n{"step":2,"time":0}\n`);
  const h = readMetrics(huge);
  assert.deepEqual(
    h.records.map((x) => x.step),
    [0, 2],
  );
  assert.deepEqual(h.badLineDetails, [{ line: 2, reason: "longer than the 16777216-byte line limit" }]);
});

test("lines are split the same whatever the chunk size, reads are bounded by the chunk size", (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 300; i++)
    lines.push(
      i % 17 === 5
        ? "bad"
        : i % 23 === 0
          ? ""
          : formatMetricsLine({ step: i, time: i / 10, train_loss: 1 / (i + 1) }).trimEnd(),
    );
  const text = `${lines.join("\n")}\n{"step":300,"ti`;
  const p = tmpFile(t, text);
  const expected = readMetrics(p, { chunkBytes: 1 << 20 });
  assert.equal(expected.partialTail, true);
  for (const chunkBytes of [1, 2, 3, 7, 64, 1000]) {
    assert.deepEqual(readMetrics(p, { chunkBytes }), expected, `chunk ${chunkBytes}`);
    const size = fs.statSync(p).size;
    const scan = scanLinesSync(p, () => undefined, { chunkBytes });
    assert.equal(scan.reads, Math.ceil(size / chunkBytes), "one read per chunk, each at most chunkBytes");
    assert.equal(scan.size, size);
  }
});

test("forEachMetricsRecord and the async readers agree with readMetrics", async (t) => {
  const p = tmpFile(t, '{"step":0,"time":0}\nbad\n{"step":5,"time":1,"x":NaN}\n{"step":9');
  const seen: Array<[number, number]> = [];
  const scan = forEachMetricsRecord(p, (r, line) => seen.push([r.step, line]));
  assert.deepEqual(seen, [
    [0, 1],
    [5, 3],
  ]);
  const sync = readMetrics(p);
  assert.deepEqual(scan, {
    partialTail: sync.partialTail,
    badLines: sync.badLines,
    badLineCount: 1,
    badLineDetails: sync.badLineDetails,
  });
  assert.deepEqual(await readMetricsAsync(p), sync);
  const steps: number[] = [];
  assert.deepEqual(await forEachMetricsRecordAsync(p, (r) => steps.push(r.step)), scan);
  assert.deepEqual(steps, [0, 5]);
  await assert.rejects(readMetricsAsync(path.join(path.dirname(p), "none")), { code: "ENOENT" });
});

test("a file growing while it is read is read up to its size at the open", (t) => {
  const p = tmpFile(t, '{"step":0,"time":0}\n{"step":1,"time":0}\n');
  const steps: number[] = [];
  forEachMetricsRecord(
    p,
    (r) => {
      steps.push(r.step);
      if (r.step === 0) fs.appendFileSync(p, '{"step":2,"time":0}\n');
    },
    { chunkBytes: 8 },
  );
  assert.deepEqual(steps, [0, 1]);
  assert.deepEqual(
    readMetrics(p).records.map((r) => r.step),
    [0, 1, 2],
  );
});

test("readMetricsTail gives the last records, reading only the end of the file", (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) lines.push(i % 13 === 4 ? "oops" : i % 31 === 0 ? "" : `{"step":${i},"time":${i}}`);
  for (const [ending, partial] of [
    ["\n", false],
    ["", true], // the last line, "oops", has no newline: a partial tail
    ['\n{"step":9', true],
    ['\n{"step":200}', false],
  ] as const) {
    const p = tmpFile(t, lines.join("\n") + ending);
    const all = readMetrics(p).records;
    assert.equal(readMetrics(p).partialTail, partial);
    for (const chunkBytes of [1, 5, 64, 4096]) {
      for (const count of [0, 1, 3, 50, 1000]) {
        const tail = readMetricsTail(p, count, { chunkBytes });
        assert.deepEqual(tail.records, count === 0 ? [] : all.slice(-count), `chunk ${chunkBytes} count ${count}`);
        if (count > 0) assert.equal(tail.partialTail, partial);
      }
    }
    assert.equal(readMetricsTail(p, 1000).badLineCount, readMetrics(p).badLineCount);
  }
  // Over-long lines are skipped from the end too.
  const p = tmpFile(t, `{"step":0}\n{"step":1,"pad":"${"z".repeat(300)}"}\n{"step":2}\n`);
  const r = readMetricsTail(p, 5, { chunkBytes: 7, maxLineBytes: 100 });
  assert.deepEqual(
    r.records.map((x) => x.step),
    [0, 2],
  );
  assert.equal(r.badLineCount, 1);
  assert.throws(() => readMetricsTail(path.join(path.dirname(p), "none"), 3), { code: "ENOENT" });
});

test("a large metrics.jsonl is read in chunks with bounded memory (was: read whole; 2 GiB gave 4.1 GB, then ERR_STRING_TOO_LONG)", (t) => {
  const p = tmpFile(t);
  // A sparse file: a record, 64 MiB of NUL bytes (one over-long line), a record. The old reader
  // held the bytes, then a string of them, then the split lines (~200 MiB at its peak); a 2 GiB
  // hole (too slow to read in the suite on a busy machine) ended in ERR_STRING_TOO_LONG.
  fs.writeFileSync(p, '{"step":0,"time":0}\n');
  const hole = 64 << 20;
  const fd = fs.openSync(p, "r+");
  fs.writeSync(fd, '\n{"step":7,"time":1}\n', 20 + hole);
  fs.closeSync(fd);
  const r = runChildJob(__filename, "readMetrics", [p], 60_000);
  assert.equal(r.timedOut, false);
  assert.deepEqual(
    r.value,
    {
      steps: [0, 7],
      badLineCount: 1,
      badLineDetails: [{ line: 2, reason: "longer than the 16777216-byte line limit" }],
      partialTail: false,
    },
    JSON.stringify(r.error),
  );
  assert.ok((r.maxRssBytes ?? Infinity) < 100 << 20, `peak RSS ${((r.maxRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
  t.diagnostic(`64 MiB line in metrics.jsonl: peak RSS ${((r.maxRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
  // Its tail costs a few chunks, not a pass.
  const tail = runChildJob(__filename, "tail", [p, "1"], 20_000);
  assert.deepEqual(tail.value, [7]);
});

test("a 60 MB metrics.jsonl streamed through forEachMetricsRecord: memory does not grow with the file", (t) => {
  const p = tmpFile(t);
  const line = formatMetricsLine({
    step: 0,
    time: 0,
    train_loss: 0.123456789,
    test_loss: 0.23456789,
    train_acc: 0.5,
    test_acc: 0.25,
    lr: 0.001,
    param_norm: 31.4,
  });
  const block = line.repeat(10_000);
  const fd = fs.openSync(p, "w");
  let bytes = 0;
  while (bytes < 60e6) bytes += fs.writeSync(fd, block);
  fs.closeSync(fd);
  const r = runChildJob(__filename, "countRecords", [p], 120_000);
  const n = Math.round(bytes / line.length);
  assert.deepEqual(r.value, { n, badLineCount: 0 });
  assert.ok((r.maxRssBytes ?? Infinity) < 120 << 20, `peak RSS ${((r.maxRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
  t.diagnostic(`60 MB, ${n} records streamed: peak RSS ${((r.maxRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
});

test("a FIFO or a /dev/zero link as metrics.jsonl is refused at once, naming the file", (t) => {
  const dir = path.dirname(tmpFile(t));
  const fifo = path.join(dir, "fifo.jsonl");
  execFileSync("mkfifo", [fifo]);
  const zero = path.join(dir, "zero.jsonl");
  fs.symlinkSync("/dev/zero", zero);
  for (const [file, kind] of [
    [fifo, "a FIFO"],
    [zero, "a character device"],
  ] as const) {
    for (const [job, arg] of [
      ["readMetrics", []],
      ["tail", ["3"]],
      ["truncate", ["3"]],
    ] as const) {
      const r = runChildJob(__filename, job, [file, ...arg], 10_000);
      assert.equal(r.timedOut, false, `${job} blocked on ${file}`);
      assert.deepEqual(r.error, { message: `${file}: is ${kind}, not a regular file`, name: "FileRefusedError" }, job);
    }
  }
});

test("truncateMetricsAfter copies an over-long line through byte for byte", (t) => {
  const long = `{"note":"${"q".repeat(500)}"}`;
  const p = tmpFile(t, `{"step":0}\n${long}\n{"step":5}\n{"step":9}\n`);
  assert.deepEqual(truncateMetricsAfter(p, 5, { maxLineBytes: 64, chunkBytes: 10 }), {
    kept: 2,
    removed: 1,
    badLinesKept: 1,
    rewritten: true,
  });
  assert.equal(fs.readFileSync(p, "utf8"), `{"step":0}\n${long}\n{"step":5}\n`);
});
