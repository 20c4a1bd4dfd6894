// TensorBoard event files: TFRecord framing with CRC-32C (src/shared/tfRecord.ts), Event decoding
// (src/shared/tensorboardEvents.ts) and a log folder followed live with bounded memory
// (src/shared/tensorboardLog.ts). Files written here with the same framing; the real writers
// (PyTorch, tensorboard) are in test/integration/tensorboard.test.ts.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { RunIndex } from "../../src/extension/runIndex";
import { crc32c, maskedCrc32c } from "../../src/shared/crc32c";
import { type EventFields, decodeEvent, encodeEvent } from "../../src/shared/tensorboardEvents";
import { TensorBoardLog, eventFileNames } from "../../src/shared/tensorboardLog";
import { TfRecordTailer, frameRecord, readTfRecordsSync } from "../../src/shared/tfRecord";
import { tempDir } from "../support";

const EVENT_FILE = "events.out.tfevents.1700000000.host.1.0";

function record(e: EventFields): Buffer {
  return frameRecord(encodeEvent(e));
}

/** An event file in a fresh log folder: the version record, then these events. */
function logWith(t: Parameters<typeof tempDir>[0], events: EventFields[]): { dir: string; file: string } {
  const dir = tempDir(t);
  const file = path.join(dir, EVENT_FILE);
  fs.writeFileSync(
    file,
    Buffer.concat([
      record({ wallTime: 1_700_000_000, step: 0, fileVersion: "brain.Event:2" }),
      ...events.map((e) => record(e)),
    ]),
  );
  return { dir, file };
}

const scalar = (
  step: number,
  tag: string,
  value: number,
  as?: "simple" | "float_val" | "double_val" | "tensor_content",
): EventFields => ({
  wallTime: 1_700_000_000 + step,
  step,
  values: [{ tag, value, ...(as !== undefined ? { as } : {}) }],
});

test("CRC-32C: the RFC 3720 check values, and TFRecord's mask", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  // Slicing-by-8 and the byte tail agree at every length and offset.
  const bytes = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff));
  for (let start = 0; start < 9; start++)
    for (let end = start; end <= 40; end += 3) {
      let crc = 0xffffffff;
      for (let i = start; i < end; i++) {
        crc ^= bytes[i] as number;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      assert.equal(crc32c(bytes, start, end), (crc ^ 0xffffffff) >>> 0, `[${start}, ${end})`);
    }
  // tensorflow/core/lib/hash/crc32c.h: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
  const c = crc32c(Buffer.from("abc"));
  assert.equal(maskedCrc32c(Buffer.from("abc")), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

test("events: simple_value, float_val, double_val and tensor_content scalars decode to their stored values", () => {
  for (const as of ["simple", "float_val", "tensor_content"] as const) {
    const e = decodeEvent(encodeEvent(scalar(12, "loss/train", 0.1, as)));
    assert.deepEqual(e.scalars, [{ tag: "loss/train", value: Math.fround(0.1) }], as);
    assert.equal(e.step, 12);
  }
  assert.deepEqual(decodeEvent(encodeEvent(scalar(3, "lr", 0.1, "double_val"))).scalars, [{ tag: "lr", value: 0.1 }]);
  const v = decodeEvent(encodeEvent({ wallTime: 5, step: 0, fileVersion: "brain.Event:2" }));
  assert.deepEqual([v.fileVersion, v.scalars, v.wallTime], ["brain.Event:2", [], 5]);
  assert.throws(() => decodeEvent(Buffer.from([0xff, 0xff, 0xff])));
});

test("a record with a bad data checksum is skipped and counted; the records around it are read", (t) => {
  const { dir, file } = logWith(t, [scalar(1, "loss", 1), scalar(2, "loss", 2), scalar(3, "loss", 3)]);
  const bytes = fs.readFileSync(file);
  const second =
    record({ wallTime: 0, step: 0, fileVersion: "brain.Event:2" }).length + record(scalar(1, "loss", 1)).length;
  bytes[second + 14] = (bytes[second + 14] as number) ^ 0x01; // a bit of the 2nd event's data
  fs.writeFileSync(file, bytes);
  const r = readTfRecordsSync(file);
  assert.equal(r.records.length, 3); // version, step 1, step 3
  assert.deepEqual(r.bad, [{ offset: second, reason: "data checksum mismatch" }]);
  const log = new TensorBoardLog(dir);
  assert.equal(log.poll().kind, "reset");
  const p = log.snapshot();
  assert.deepEqual(p.step, [1, 3]);
  assert.deepEqual(p.values["loss"], [1, 3]);
  assert.equal(log.badRecords, 1);
});

test("a broken length checksum: counted once, reading resumes at the next valid header", (t) => {
  const { file } = logWith(t, [scalar(1, "loss", 1), scalar(2, "loss", 2), scalar(3, "loss", 3)]);
  const bytes = fs.readFileSync(file);
  const second =
    record({ wallTime: 0, step: 0, fileVersion: "brain.Event:2" }).length + record(scalar(1, "loss", 1)).length;
  bytes[second + 9] = (bytes[second + 9] as number) ^ 0x80; // the 2nd event's length checksum
  fs.writeFileSync(file, bytes);
  const r = readTfRecordsSync(file);
  assert.deepEqual(
    r.records.map((b) => decodeEvent(b).step),
    [0, 1, 3],
  );
  assert.equal(r.badRecords, 1);
  assert.match(r.bad[0]?.reason ?? "", /length checksum mismatch/);
});

test("a torn last record is no error: waited for, and read once it is whole", (t) => {
  const { dir, file } = logWith(t, [scalar(1, "loss/train", 0.5)]);
  const last = record(scalar(2, "loss/train", 0.25));
  for (const cut of [3, 12, last.length - 1]) {
    const log = new TensorBoardLog(dir);
    const size = fs.statSync(file).size;
    fs.appendFileSync(file, last.subarray(0, cut));
    assert.equal(log.poll().kind, "reset");
    assert.deepEqual(log.snapshot().step, [1], `cut at ${cut}`);
    assert.equal(log.badRecords, 0);
    assert.deepEqual(log.problems, []);
    fs.appendFileSync(file, last.subarray(cut));
    const next = log.poll();
    assert.equal(next.kind, "append");
    if (next.kind === "append") {
      assert.deepEqual(next.points.step, [2]);
      assert.deepEqual(next.points.values["loss/train"], [0.25]);
    }
    fs.truncateSync(file, size);
  }
});

test("appended events are picked up live: only the new points, tag namespaces kept", (t) => {
  const { dir, file } = logWith(t, [scalar(0, "loss/train", 1), scalar(0, "loss/test", 1.5)]);
  const log = new TensorBoardLog(dir);
  assert.equal(log.poll().kind, "reset");
  const first = log.snapshot();
  assert.deepEqual(first.step, [0]);
  assert.deepEqual(Object.keys(first.values).sort(), ["loss/test", "loss/train"]);
  assert.deepEqual(first.values["loss/test"], [1.5]);
  fs.appendFileSync(
    file,
    Buffer.concat([record(scalar(10, "loss/train", 0.5)), record(scalar(10, "acc/train", 0.75))]),
  );
  const next = log.poll();
  assert.equal(next.kind, "append");
  if (next.kind !== "append") return;
  assert.deepEqual(next.points.step, [10]);
  assert.deepEqual(next.points.values["loss/train"], [0.5]);
  assert.deepEqual(next.points.values["acc/train"], [0.75]);
  assert.equal(next.points.values["loss/test"], undefined);
  assert.deepEqual(next.points.time, [10]);
  const idle = log.poll();
  assert.deepEqual(idle.kind === "append" ? idle.points.step : "reset", []);
});

test("several event files of one log are merged by step; a file that goes away resets", (t) => {
  const { dir } = logWith(t, [scalar(5, "loss", 5), scalar(6, "loss", 6)]);
  fs.writeFileSync(
    path.join(dir, "events.out.tfevents.1600000000.host.2.0"),
    Buffer.concat([record(scalar(1, "loss", 1)), record(scalar(2, "loss", 2))]),
  );
  assert.equal(eventFileNames(dir).length, 2);
  const log = new TensorBoardLog(dir);
  log.poll();
  const p = log.snapshot();
  assert.deepEqual(p.step, [1, 2, 5, 6]);
  assert.deepEqual(p.values["loss"], [1, 2, 5, 6]);
  fs.rmSync(path.join(dir, "events.out.tfevents.1600000000.host.2.0"));
  assert.equal(log.poll().kind, "reset");
  assert.deepEqual(log.snapshot().step, [5, 6]);
});

test("memory is bounded per tag: past compactAt points a tag is min/max-decimated, its spike and last point kept", (t) => {
  const events: EventFields[] = [];
  for (let s = 0; s < 20_000; s++) events.push(scalar(s, "loss", s === 12_345 ? 1000 : 1 / (s + 1)));
  const { dir } = logWith(t, events);
  const log = new TensorBoardLog(dir, { pointsPerTag: 400, compactAt: 800 });
  log.poll();
  const p = log.snapshot();
  assert.ok(log.pointsKept <= 800, `${log.pointsKept} points kept`);
  assert.equal(log.scalarsRead, 20_000);
  const loss = p.values["loss"] as number[];
  assert.ok(loss.includes(1000), "the spike survives");
  assert.equal(p.step[p.step.length - 1], 19_999);
  assert.equal(p.step[0], 0);
  assert.ok(
    p.step.every((s, i) => i === 0 || s >= (p.step[i - 1] as number)),
    "rows sorted by step",
  );
});

test("tags past maxTags are counted, not kept", (t) => {
  const { dir } = logWith(t, [scalar(1, "a", 1), scalar(1, "b", 2), scalar(1, "c", 3)]);
  const log = new TensorBoardLog(dir, { maxTags: 2 });
  log.poll();
  assert.deepEqual(Object.keys(log.snapshot().values), ["a", "b"]);
  assert.equal(log.ignoredTags, 1);
});

test("hostile: a FIFO, a symlink loop and a huge length prefix are refused with a clear reason, never read", (t) => {
  const { dir, file } = logWith(t, [scalar(1, "loss", 1)]);
  execFileSync("mkfifo", [path.join(dir, "events.out.tfevents.2.fifo")]);
  fs.symlinkSync("events.out.tfevents.3.loop", path.join(dir, "events.out.tfevents.3.loop"));
  // A header whose checksum holds but whose length is 2⁶⁰ bytes.
  const huge = Buffer.alloc(12);
  huge.writeUInt32LE(0, 0);
  huge.writeUInt32LE(2 ** 28, 4);
  huge.writeUInt32LE(maskedCrc32c(huge, 0, 8), 8);
  fs.appendFileSync(file, Buffer.concat([huge, Buffer.alloc(100)]));
  const log = new TensorBoardLog(dir);
  log.poll();
  assert.deepEqual(log.snapshot().values["loss"], [1]);
  const problems = log.problems.join("\n");
  assert.match(problems, /events\.out\.tfevents\.2\.fifo: is a FIFO, not a regular file/);
  assert.match(problems, /events\.out\.tfevents\.3\.loop: cannot be read \(ELOOP\)/);
  assert.match(
    problems,
    /events\.out\.tfevents\.1700000000\.host\.1\.0: the record at byte \d+ claims 1152921504606846976 bytes, over the 16777216-byte record limit, and the file ends before it/,
  );
});

test("hostile: an over-limit record the file holds is skipped unread; garbage stops reading with a reason", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, EVENT_FILE);
  const big = frameRecord(Buffer.alloc(5000, 7));
  fs.writeFileSync(file, Buffer.concat([big, record(scalar(4, "x", 4))]));
  const tailer = new TfRecordTailer(file, { maxRecordBytes: 1000 });
  const steps: number[] = [];
  const r = tailer.poll((b, s, e) => steps.push(decodeEvent(b, s, e).step));
  assert.deepEqual(steps, [4]);
  assert.equal(r.badRecords, 1);
  assert.deepEqual(tailer.badRecordDetails, [
    { offset: 0, reason: "5000 bytes long, over the 1000-byte record limit" },
  ]);
  fs.writeFileSync(file, Buffer.alloc(4096, 0x41)); // not a TFRecord file at all (replaced: read afresh)
  const g = new TfRecordTailer(file, { resyncBytes: 1024 });
  const gr = g.poll(() => assert.fail("no record in garbage"));
  assert.match(gr.stalled ?? "", /no valid record header in the 1024 bytes after the broken one at byte 0/);
});

test("run index: log folders found at every run position, beside runs; a directory symlink loop ends the scan; update and remove keep them current", async (t) => {
  const root = tempDir(t);
  const put = (dir: string): void => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, EVENT_FILE), record(scalar(1, "loss", 1)));
  };
  put(path.join(root, "Dec03_host"));
  put(path.join(root, "keras", "train"));
  put(path.join(root, "keras", "validation"));
  fs.symlinkSync(root, path.join(root, "loop")); // root/loop/loop/... never ends
  fs.symlinkSync(path.join(root, "keras", "self"), path.join(root, "keras", "self"));
  const index = new RunIndex([root]);
  assert.deepEqual(await index.scan(), { kind: "done", runs: 0 });
  assert.deepEqual(
    index.tensorboardLogs().map((l) => l.label),
    ["Dec03_host", "keras/train", "keras/validation", "loop/Dec03_host"],
  );
  assert.deepEqual(index.invalid(), [], "a log folder is no invalid run");
  // A new log appears, one goes away (update), a group is deleted (remove).
  put(path.join(root, "late"));
  assert.equal(index.update(path.join(root, "late")), undefined, "no run.json: no run entry");
  assert.equal(index.getTensorBoard(path.join(root, "late"))?.label, "late");
  fs.rmSync(path.join(root, "Dec03_host", EVENT_FILE));
  index.update(path.join(root, "Dec03_host"));
  assert.equal(index.getTensorBoard(path.join(root, "Dec03_host")), undefined);
  assert.equal(index.remove(path.join(root, "keras")), 2);
  assert.deepEqual(
    index.tensorboardLogs().map((l) => l.label),
    ["late", "loop/Dec03_host"],
  );
});

test("hostile: a folder of more event files than maxFiles reads only the newest, and says so", (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 5; i++)
    fs.writeFileSync(path.join(dir, `events.out.tfevents.${1000 + i}.host`), record(scalar(i, "loss", i)));
  const log = new TensorBoardLog(dir, { maxFiles: 2 });
  log.poll();
  assert.deepEqual(log.snapshot().step, [3, 4]);
  assert.deepEqual(log.problems, ["5 event files; only the newest 2 are read"]);
});
