import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import {
  AnalysisCache,
  AnalysisFileError,
  AnalysisFileReader,
  analysisPath,
  canonicalJson,
  parseAnalysisText,
  readAnalysis,
  readAnalysisAsync,
  type WeightsRecord,
} from "../../src/shared/analysisFormat";
import { weightsRecord } from "../../src/trainer/analyzer/weights";
import { AnalysisWriter, dueSteps } from "../../src/trainer/analyzer/writer";
import { childJob, runChildJob } from "../childRun";

// Reads of FIFOs and /dev/zero links run in a child killed at a time limit: a regression fails
// the test instead of hanging the suite or exhausting memory.
childJob({ readAnalysis: ([run, name]) => readAnalysis(run as string, name as "kernel")?.records.length ?? null });

const header = (settings: Record<string, unknown>) =>
  JSON.stringify({
    format: "learning-mechanics/analysis",
    formatVersion: 1,
    analysis: "weights",
    settings,
    producer: "test",
    createdAt: "2026-01-01T00:00:00Z",
  });

describe("analysis files", () => {
  test("parse: header, records by step (a rewritten step keeps its last record), partial tail, bad lines", () => {
    const text = [
      header({ every: 1 }),
      '{"step":0,"x":1}',
      "not json",
      '{"step":10,"x":2}',
      '{"step":0,"x":3}',
      '{"step":20,"x',
    ].join("\n");
    const f = parseAnalysisText(text, "weights");
    assert.deepEqual(
      f.records.map((r) => [r.step, (r as unknown as { x: number }).x]),
      [
        [0, 3],
        [10, 2],
      ],
    );
    assert.equal(f.partialTail, true);
    assert.deepEqual(f.badLines, [3]);
    assert.deepEqual(f.header.settings, { every: 1 });
  });

  test("parse: Python's NaN / Infinity tokens are values; bad lines are counted with reasons", () => {
    const text = [
      header({ every: 1 }),
      '{"step":0,"paramNorm":NaN,"relChange":Infinity}',
      "[1]",
      '{"x":1}',
      '{"step":10,"paramNorm":-Infinity}',
      "garbage",
      "",
    ].join("\n");
    const f = parseAnalysisText(text, "weights");
    assert.deepEqual(
      f.records.map((r) => r.step),
      [0, 10],
    );
    assert.ok(Number.isNaN(f.records[0]!.paramNorm));
    assert.equal(f.records[0]!.relChange, Infinity);
    assert.equal(f.records[1]!.paramNorm, -Infinity);
    assert.deepEqual(f.badLines, [3, 4, 6]);
    assert.equal(f.badLineCount, 3);
    assert.deepEqual(f.badLineDetails, [
      { line: 3, reason: "not a JSON object" },
      { line: 4, reason: "no finite numeric step" },
      { line: 6, reason: "not valid JSON: unexpected character at line 1, column 1" },
    ]);
  });

  test("incremental reads: only what was appended is parsed, and every read equals a whole one", (t) => {
    const run = mkdtempSync(join(tmpdir(), "lm-analyses-inc-"));
    t.after(() => rmSync(run, { recursive: true, force: true }));
    mkdirSync(join(run, "analyses"));
    const file = analysisPath(run, "weights");
    const reader = new AnalysisFileReader(run, "weights", { chunkBytes: 5 });
    const check = (steps: number[], reads: { whole: number; appended: number }, what: string) => {
      const got = reader.read();
      const whole = readAnalysis(run, "weights");
      assert.deepEqual(got, whole, `${what}: the same as a whole read`);
      assert.deepEqual(
        got?.records.map((r) => r.step),
        steps,
        what,
      );
      assert.deepEqual(reader.reads, reads, `${what}: reads`);
      return got;
    };
    assert.equal(reader.read(), undefined, "no file yet");
    writeFileSync(file, [header({ every: 1 }), '{"step":0}', '{"step":10}', ""].join("\n"));
    check([0, 10], { whole: 1, appended: 0 }, "first read");
    appendFileSync(file, '{"step":20}\nnot json\n{"step":3');
    let f = check([0, 10, 20], { whole: 1, appended: 1 }, "appended, with a bad line and a partial tail");
    assert.equal(f?.partialTail, true);
    assert.deepEqual(f?.badLines, [5]);
    appendFileSync(file, '0}\n{"step":10,"again":true}\n');
    f = check([0, 10, 20, 30], { whole: 1, appended: 2 }, "the tail completed; step 10 rewritten");
    assert.equal(f?.partialTail, false);
    assert.deepEqual(f?.records[1], { step: 10, again: true });
    check([0, 10, 20, 30], { whole: 1, appended: 3 }, "nothing new");
    // Replaced (the analyzer archives and restarts): another inode, read whole.
    writeFileSync(`${file}.new`, [header({ every: 2 }), '{"step":0}', ""].join("\n"));
    renameSync(`${file}.new`, file);
    f = check([0], { whole: 2, appended: 3 }, "replaced");
    assert.deepEqual(f?.header.settings, { every: 2 });
    // Shrunk in place: read whole.
    appendFileSync(file, '{"step":2}\n{"step":4}\n');
    check([0, 2, 4], { whole: 2, appended: 4 }, "appended again");
    truncateSync(file, readFileSync(file).length - '{"step":4}\n'.length);
    check([0, 2], { whole: 3, appended: 4 }, "shrunk");
    // The header rewritten in place (same inode, longer file): read whole.
    writeFileSync(file, [header({ every: 3 }), '{"step":0}', '{"step":3}', '{"step":6}', ""].join("\n"));
    f = check([0, 3, 6], { whole: 4, appended: 4 }, "header changed");
    assert.deepEqual(f?.header.settings, { every: 3 });
    rmSync(file);
    assert.equal(reader.read(), undefined, "removed");
    // The cache keeps one reader per run and analysis, at most `capacity` of them.
    writeFileSync(file, [header({}), '{"step":0}', ""].join("\n"));
    const cache = new AnalysisCache(1);
    assert.deepEqual(cache.read(run, "weights")?.records, [{ step: 0 }]);
    assert.equal(cache.read(run, "kernel"), undefined);
    assert.deepEqual(cache.read(run, "weights")?.records, [{ step: 0 }]);
  });

  test("read: in chunks, lines over the limit skipped; FIFOs and /dev/zero links refused at once", async (t) => {
    const run = mkdtempSync(join(tmpdir(), "lm-analyses-"));
    t.after(() => rmSync(run, { recursive: true, force: true }));
    mkdirSync(join(run, "analyses"));
    const big = `{"step":5,"pad":"${"p".repeat(400)}"}`;
    writeFileSync(analysisPath(run, "weights"), [header({}), '{"step":0}', big, '{"step":10}', ""].join("\n"));
    for (const f of [
      readAnalysis(run, "weights", { maxLineBytes: 256, chunkBytes: 7 })!,
      (await readAnalysisAsync(run, "weights", { maxLineBytes: 256, chunkBytes: 7 }))!,
    ]) {
      assert.deepEqual(
        f.records.map((r) => r.step),
        [0, 10],
      );
      assert.deepEqual(f.badLineDetails, [{ line: 3, reason: "longer than the 256-byte line limit" }]);
    }
    assert.deepEqual(
      readAnalysis(run, "weights")!.records.map((r) => r.step),
      [0, 5, 10],
    );
    assert.equal(await readAnalysisAsync(run, "kernel"), undefined);
    execFileSync("mkfifo", [analysisPath(run, "kernel")]);
    symlinkSync("/dev/zero", analysisPath(run, "tracin"));
    for (const [name, kind] of [
      ["kernel", "a FIFO"],
      ["tracin", "a character device"],
    ] as const) {
      const r = runChildJob(__filename, "readAnalysis", [run, name], 10_000);
      assert.equal(r.timedOut, false);
      assert.deepEqual(r.error, {
        name: "FileRefusedError",
        message: `${analysisPath(run, name)}: is ${kind}, not a regular file`,
      });
    }
    // A header line over the limit is a header error naming the file.
    writeFileSync(analysisPath(run, "fourier"), big);
    assert.throws(
      () => readAnalysis(run, "fourier", { maxLineBytes: 256 }),
      /fourier\.jsonl: the first line is longer than the 256-byte line limit/,
    );
  });

  test("parse: a missing or foreign header is an error naming the file", () => {
    assert.throws(
      () => parseAnalysisText('{"step":0}\n', "weights", "w.jsonl"),
      (e: unknown) => e instanceof AnalysisFileError && /w\.jsonl: format must be/.test((e as Error).message),
    );
    assert.throws(
      () => parseAnalysisText(`${header({}).replace('"weights"', '"kernel"')}\n`, "weights"),
      /analysis is "kernel", expected "weights"/,
    );
    assert.throws(() => parseAnalysisText("", "weights"), /empty or being written/);
  });

  test("writer: continues a file with the same settings, dropping a cut line; archives one with other settings", () => {
    const run = mkdtempSync(join(tmpdir(), "lm-writer-"));
    const w1 = new AnalysisWriter(run, "weights", { settings: { every: 1 } });
    assert.equal(w1.opened.kind, "new");
    w1.append({ step: 0, tensors: {}, paramNorm: 1, relChange: 0 });
    w1.append({ step: 10, tensors: {}, paramNorm: Number.NaN, relChange: null });
    appendFileSync(w1.path, '{"step":20,"tens'); // a crash mid-line

    const w2 = new AnalysisWriter(run, "weights", { settings: { every: 1 } });
    assert.deepEqual(w2.opened, { kind: "continued", done: 2 });
    assert.ok(w2.has(10) && !w2.has(20));
    w2.append({ step: 20, tensors: {}, paramNorm: 3, relChange: 0.5 });
    const read = readAnalysis(run, "weights")!;
    assert.deepEqual(
      read.records.map((r) => r.step),
      [0, 10, 20],
    );
    assert.equal(read.partialTail, false);
    assert.deepEqual(read.badLines, []);
    assert.equal(read.records[1]!.paramNorm, null, "NaN is written as null");

    const w3 = new AnalysisWriter(run, "weights", { settings: { every: 2 } }, new Date("2026-02-03T04:05:06.789Z"));
    assert.equal(w3.opened.kind, "archived");
    assert.deepEqual(readdirSync(join(run, "analyses", "archive")), ["weights-2026-02-03T04-05-06-789Z.jsonl"]);
    assert.equal(
      readFileSync(join(run, "analyses", "archive", "weights-2026-02-03T04-05-06-789Z.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean).length,
      4,
      "nothing lost",
    );
    assert.equal(readAnalysis(run, "weights")!.records.length, 0);
  });

  test("writer: a file of its own it cannot read is archived, not overwritten; a file that is not its own is left alone", () => {
    const run = mkdtempSync(join(tmpdir(), "lm-writer-"));
    const path = analysisPath(run, "weights");
    new AnalysisWriter(run, "weights", { settings: {} });
    // Its own header, but a format version this reader does not know: archived.
    const own = JSON.stringify({
      format: "learning-mechanics/analysis",
      formatVersion: 99,
      analysis: "weights",
      settings: {},
      producer: "t",
      createdAt: "",
    });
    writeFileSync(path, `${own}\n`);
    const w = new AnalysisWriter(run, "weights", { settings: {} });
    assert.equal(w.opened.kind, "archived");
    assert.equal(readdirSync(join(run, "analyses", "archive")).length, 1);
    // Not its header (issue 8: an unrelated file was moved into archive/): refused, untouched.
    writeFileSync(path, "garbage\n");
    assert.throws(
      () => new AnalysisWriter(run, "weights", { settings: {} }),
      /weights\.jsonl is not a "weights" analysis file of Learning Mechanics \(.*first line is not a JSON header\); the analyzer leaves it alone/,
    );
    assert.equal(readFileSync(path, "utf8"), "garbage\n");
    assert.equal(readdirSync(join(run, "analyses", "archive")).length, 1);
  });

  test("canonical JSON ignores key order", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: 3 } }),
      canonicalJson({ a: { c: 3, d: [2, { x: 0, y: 1 }] }, b: 1 }),
    );
    assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
  });

  test("due steps: every k-th checkpoint from the first, the last once the run has ended", () => {
    const steps = [0, 100, 200, 300, 400, 500, 600];
    assert.deepEqual(dueSteps(steps, 1), steps);
    assert.deepEqual(dueSteps(steps, 4), [0, 400, 600]);
    assert.deepEqual(dueSteps(steps, 4, false), [0, 400]);
    assert.deepEqual(dueSteps(steps, 3), [0, 300, 600]);
    assert.deepEqual(dueSteps(steps, 0), []);
    assert.deepEqual(dueSteps([], 2), []);
  });
});

describe("weight-space analysis", () => {
  const t = (shape: number[], values: number[]) => ({ shape, values: Float32Array.from(values) });
  test("per-tensor norm and relative change, and the totals, against hand values", () => {
    const ref = new Map([
      ["w", t([2, 2], [3, 0, 0, 4])],
      ["b", t([2], [0, 0])],
    ]);
    const now = new Map([
      ["w", t([2, 2], [3, 0, 0, 1])],
      ["b", t([2], [2, 0])],
    ]);
    const r = weightsRecord(7, now, ref);
    assert.equal(r.step, 7);
    assert.ok(Math.abs(r.tensors["w"]!.norm - Math.sqrt(10)) < 1e-12);
    assert.ok(Math.abs(r.tensors["w"]!.relChange! - 3 / 5) < 1e-12);
    assert.equal(r.tensors["b"]!.relChange, null, "a tensor that starts at zero has no relative change");
    assert.ok(Math.abs(r.paramNorm - Math.sqrt(14)) < 1e-12);
    // ‖Δ‖² = 9 (w) + 4 (b), ‖w0‖² = 25: the bias's movement counts in the total.
    assert.ok(Math.abs(r.relChange! - Math.sqrt(13 / 25)) < 1e-12);
    assert.deepEqual(r.tensors["w"]!.shape, [2, 2]);
  });

  test("a tensor absent from the reference or resized gives null, not a wrong number", () => {
    const r = weightsRecord(1, new Map([["w", t([3], [1, 2, 3])]]), new Map([["w", t([2], [1, 2])]]));
    assert.equal(r.tensors["w"]!.relChange, null);
    assert.equal(r.relChange, null);
    assert.ok(Math.abs(r.paramNorm - Math.sqrt(14)) < 1e-12);
  });
});

test("the writer continues a file cut mid-line: the partial line is dropped by its byte offset, records kept", () => {
  const runDir = mkdtempSync(join(tmpdir(), "lm-writer-"));
  const settings = { every: 1, label: "α→∞ «lazy»" }; // non-ASCII before the cut: byte and character offsets differ
  const first = new AnalysisWriter(runDir, "weights", { settings });
  const record = (step: number): WeightsRecord => ({ step, tensors: {}, paramNorm: 1.5, relChange: 0.25 });
  first.append(record(0));
  first.append(record(10));
  // A crash in the middle of a record (the truncation offset is in bytes, not characters).
  appendFileSync(first.path, '{"step":20,"note":"é…');
  const again = new AnalysisWriter(runDir, "weights", { settings });
  assert.deepEqual(again.opened, { kind: "continued", done: 2 });
  assert.ok(readFileSync(first.path, "utf8").endsWith("}\n"), "the cut line is gone");
  again.append(record(20));
  const read = readAnalysis(runDir, "weights");
  assert.deepEqual(
    read?.records.map((r) => r.step),
    [0, 10, 20],
  );
  assert.equal(read?.partialTail, false);
  assert.equal(read?.badLineCount, 0);
  rmSync(runDir, { recursive: true, force: true });
});
