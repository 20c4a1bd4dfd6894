import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { execFileSync, spawnSync } from "node:child_process";
import {
  appendLine,
  isTempFileName,
  openAtomicWriterSync,
  readJsonFile,
  readJsonFileSync,
  removeStaleTempFiles,
  tempFileOwner,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
} from "../../src/shared/atomicFile";
import { parseCheckpointFileName } from "../../src/shared/runFormat";
import { childJob, runChildJob } from "../childRun";
import { tempDir } from "../support";

// Reads of FIFOs and /dev/zero links run in a child killed at a time limit: a regression fails
// the test instead of hanging the suite or exhausting memory.
childJob({ readJsonFileSync: ([p]) => readJsonFileSync(p as string) });

type Writer = (p: string, data: string | Uint8Array) => Promise<void>;
const writers: Array<[string, Writer]> = [
  ["writeFileAtomic", writeFileAtomic],
  ["writeFileAtomicSync", async (p, d) => writeFileAtomicSync(p, d)],
];

for (const [label, write] of writers) {
  test(`${label}: creates and replaces the target, leaving no temporary file`, async (t) => {
    const dir = tempDir(t);
    const target = path.join(dir, "run.json");
    await write(target, '{"a":1}');
    assert.equal(fs.readFileSync(target, "utf8"), '{"a":1}');
    await write(target, new Uint8Array([0, 1, 2, 255]));
    assert.deepEqual(Array.from(fs.readFileSync(target)), [0, 1, 2, 255]);
    await write(target, "");
    assert.equal(fs.statSync(target).size, 0);
    assert.deepEqual(fs.readdirSync(dir), ["run.json"]);
  });

  test(`${label}: a parent that is a file fails with ENOTDIR, the code kept and nothing left`, async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, "afile"), "x");
    const target = path.join(dir, "afile", "run.json");
    await assert.rejects(write(target, "data"), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, "ENOTDIR");
      assert.equal(e.path, target);
      assert.match(e.message, /could not write .*afile\/run\.json: ENOTDIR/);
      assert.ok(e.cause instanceof Error);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), ["afile"]);
    assert.equal(fs.readFileSync(path.join(dir, "afile"), "utf8"), "x");
  });

  test(`${label}: a missing directory fails with ENOENT`, async (t) => {
    const dir = tempDir(t);
    await assert.rejects(write(path.join(dir, "nope", "x.json"), "data"), { code: "ENOENT" });
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test(`${label}: when the rename fails the temporary file is removed and the target untouched`, async (t) => {
    // The target is a non-empty directory: the temp file is written, then rename(2) fails.
    const dir = tempDir(t);
    const target = path.join(dir, "step-00000000.safetensors");
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, "inside"), "keep");
    await assert.rejects(write(target, "new bytes"), (e: NodeJS.ErrnoException) => {
      assert.ok(e.code === "EISDIR" || e.code === "ENOTEMPTY" || e.code === "EEXIST", String(e.code));
      assert.equal((e.cause as NodeJS.ErrnoException).syscall, "rename");
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), ["step-00000000.safetensors"]);
    assert.equal(fs.readFileSync(path.join(target, "inside"), "utf8"), "keep");
  });
}

test("readers never see a partial target during writeFileAtomic", async (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, "big.bin");
  const oldData = new Uint8Array(4 << 20).fill(0x61);
  const newData = new Uint8Array(5 << 20).fill(0x62);
  fs.writeFileSync(target, oldData);
  let reads = 0;
  let done = false;
  const seen = new Set<string>();
  const poll = (): void => {
    const b = fs.readFileSync(target);
    const kind =
      b.length === oldData.length && b.every((x) => x === 0x61)
        ? "old"
        : b.length === newData.length && b.every((x) => x === 0x62)
          ? "new"
          : `partial(${b.length})`;
    seen.add(kind);
    reads++;
    if (!done) setImmediate(poll);
  };
  setImmediate(poll);
  for (let i = 0; i < 3; i++) {
    await writeFileAtomic(target, i % 2 === 0 ? newData : oldData);
  }
  done = true;
  await new Promise((r) => setImmediate(r));
  assert.ok(reads > 0);
  assert.deepEqual(
    [...seen].filter((k) => k.startsWith("partial")),
    [],
  );
  assert.equal(fs.readFileSync(target).length, newData.length);
  assert.deepEqual(fs.readdirSync(dir), ["big.bin"]);
});

test("temporary names sit beside the target and are ignored by run-folder readers", () => {
  const tmp = tempPathFor("/runs/r1/checkpoints/step-00000100.safetensors");
  assert.equal(path.dirname(tmp), "/runs/r1/checkpoints");
  const name = path.basename(tmp);
  assert.match(name, new RegExp(`^\\.step-00000100\\.safetensors\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
  assert.ok(isTempFileName(name));
  assert.equal(parseCheckpointFileName(name), undefined);
  assert.equal(parseCheckpointFileName("step-00000100.safetensors"), 100);
  assert.notEqual(tempPathFor("/a/b"), tempPathFor("/a/b"));
});

test("appendLine writes whole lines and never glues a line onto a broken one", (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, "metrics.jsonl");
  appendLine(p, '{"step":0,"time":0}');
  appendLine(p, '{"step":1,"time":1}\n');
  assert.equal(fs.readFileSync(p, "utf8"), '{"step":0,"time":0}\n{"step":1,"time":1}\n');
  // A writer crashed mid-line: the next line starts on a line of its own.
  fs.appendFileSync(p, '{"step":2,"ti');
  appendLine(p, '{"step":3,"time":3}');
  assert.equal(
    fs.readFileSync(p, "utf8"),
    '{"step":0,"time":0}\n{"step":1,"time":1}\n{"step":2,"ti\n{"step":3,"time":3}\n',
  );
  assert.throws(() => appendLine(p, "a\nb"), /contains a newline/);
  assert.throws(() => appendLine(path.join(dir, "missing", "m.jsonl"), "{}"), { code: "ENOENT" });
  assert.throws(() => appendLine(path.join(p, "child"), "{}"), { code: "ENOTDIR" });
});

test("readJsonFile and readJsonFileSync return a result naming the file", async (t) => {
  const dir = tempDir(t);
  const good = path.join(dir, "run.json");
  const bad = path.join(dir, "bad.json");
  const missing = path.join(dir, "missing.json");
  fs.writeFileSync(good, '{"format":"learning-mechanics/run","n":[1,2]}');
  fs.writeFileSync(bad, '{"format": "learning-mechanics/run",');
  for (const read of [readJsonFile, async (p: string) => readJsonFileSync(p)]) {
    assert.deepEqual(await read(good), { ok: true, value: { format: "learning-mechanics/run", n: [1, 2] } });
    const b = await read(bad);
    assert.equal(b.ok, false);
    if (!b.ok) assert.match(b.error, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid JSON: `));
    const m = await read(missing);
    assert.equal(m.ok, false);
    if (!m.ok) assert.equal(m.error, `${missing}: cannot read: file not found`);
    const d = await read(dir);
    assert.equal(d.ok, false);
    if (!d.ok) assert.equal(d.error, `${dir}: cannot read: is a directory, not a regular file`);
  }
});

/** The pid of a process that has exited (a child that ran `true`). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  assert.ok(r.pid !== undefined && r.pid > 0);
  return r.pid;
}

test("removeStaleTempFiles removes the temp files of dead writers only", (t) => {
  const dir = tempDir(t);
  const dead = deadPid();
  const mine = path.basename(tempPathFor(path.join(dir, "run.json")));
  assert.equal(tempFileOwner(mine), process.pid);
  const names = {
    deadCheckpoint: `.step-00000020.safetensors.${dead}.0123abcd.tmp`,
    deadManifest: `.run.json.${dead}.ffffffff.tmp`,
    live: mine,
    python: `.run.json.${dead}.tmp`, // another writer's pattern (docs' Python example): not ours to delete
    other: "notes.tmp",
    data: "step-00000020.safetensors",
  };
  for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), "x".repeat(1000));
  fs.mkdirSync(path.join(dir, `.dir.${dead}.0123abcd.tmp`)); // not a regular file: kept
  assert.deepEqual(removeStaleTempFiles(dir), [names.deadManifest, names.deadCheckpoint].sort());
  assert.deepEqual(
    fs.readdirSync(dir).sort(),
    [names.live, names.python, names.other, names.data, `.dir.${dead}.0123abcd.tmp`].sort(),
  );
  assert.deepEqual(removeStaleTempFiles(dir), []);
  assert.deepEqual(removeStaleTempFiles(path.join(dir, "missing")), []);
});

test("removeStaleTempFiles does nothing through a symlinked folder", (t) => {
  const outside = tempDir(t);
  const run = tempDir(t);
  const stale = `.x.${deadPid()}.0123abcd.tmp`;
  fs.writeFileSync(path.join(outside, stale), "x");
  fs.symlinkSync(outside, path.join(run, "checkpoints"));
  assert.deepEqual(removeStaleTempFiles(path.join(run, "checkpoints")), []);
  assert.deepEqual(fs.readdirSync(outside), [stale]);
});

test("openAtomicWriterSync: nothing visible before commit, nothing left after abort", (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, "metrics.jsonl");
  fs.writeFileSync(target, "old\n");
  const w = openAtomicWriterSync(target);
  w.write("new ");
  w.write(new Uint8Array([0x6c, 0x69, 0x6e, 0x65, 0x0a]));
  assert.equal(fs.readFileSync(target, "utf8"), "old\n");
  w.commit();
  assert.equal(fs.readFileSync(target, "utf8"), "new line\n");
  assert.throws(() => w.write("x"), /already finished/);
  const a = openAtomicWriterSync(target);
  a.write("discarded");
  a.abort();
  assert.equal(fs.readFileSync(target, "utf8"), "new line\n");
  assert.deepEqual(fs.readdirSync(dir), ["metrics.jsonl"]);
});

test("readJsonFile refuses FIFOs, devices and oversized files, and never quotes the bytes", async (t) => {
  const dir = tempDir(t);
  const fifo = path.join(dir, "fifo.json");
  execFileSync("mkfifo", [fifo]);
  const zero = path.join(dir, "zero.json");
  fs.symlinkSync("/dev/zero", zero);
  const big = path.join(dir, "big.json");
  fs.writeFileSync(big, `[${"1,".repeat(600_000)}1]`);
  const secret = path.join(dir, "secret.json");
  fs.writeFileSync(secret, "token=hunter2");
  for (const [file, kind] of [
    [fifo, "a FIFO"],
    [zero, "a character device"],
  ] as const) {
    const r = runChildJob(__filename, "readJsonFileSync", [file], 10_000);
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.value, { ok: false, error: `${file}: cannot read: is ${kind}, not a regular file` });
  }
  for (const read of [readJsonFile, async (p: string, max?: number) => readJsonFileSync(p, max)]) {
    assert.deepEqual(await read(big), {
      ok: false,
      error: `${big}: cannot read: is 1200003 bytes, over the limit of 1048576 bytes`,
    });
    assert.equal((await read(big, 2 << 20)).ok, true);
    assert.deepEqual(await read(secret), {
      ok: false,
      error: `${secret}: invalid JSON: unexpected character at line 1, column 1`,
    });
  }
});

test("appendLine refuses a symlink and a FIFO, and writes nothing through them", (t) => {
  const dir = tempDir(t);
  const outside = path.join(dir, "outside.txt");
  fs.writeFileSync(outside, "keep\n");
  const link = path.join(dir, "metrics.jsonl");
  fs.symlinkSync(outside, link);
  assert.throws(
    () => appendLine(link, "{}"),
    (e: Error) => {
      assert.equal(e.message, `could not write ${link}: is a symbolic link; appending through it is refused`);
      return true;
    },
  );
  assert.equal(fs.readFileSync(outside, "utf8"), "keep\n");
  const fifo = path.join(dir, "fifo.jsonl");
  execFileSync("mkfifo", [fifo]);
  assert.throws(
    () => appendLine(fifo, "{}"),
    /could not write .*fifo\.jsonl: not a regular file; appending to it is refused/,
  );
});
