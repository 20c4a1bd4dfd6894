import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  FileRefusedError,
  READ_LIMITS,
  openRegularSync,
  readAtSync,
  readRegularFile,
  readRegularFileSync,
  readRegularText,
  readRegularTextSync,
} from "../../src/shared/safeRead";
import { childJob, inChild, runChildJob } from "../childRun";
import { tempDir } from "../support";

// Reads that would block forever (a FIFO) run in a child process killed after a few seconds, so a
// regression fails the test instead of hanging the suite.
childJob({
  readSync: ([p, max]) => readRegularTextSync(p as string, Number(max)),
  readAsync: ([p, max]) => readRegularText(p as string, Number(max)),
});

const CHILD_TIMEOUT_MS = 10_000;

function mkfifo(p: string): void {
  execFileSync("mkfifo", [p]);
}

if (!inChild()) {
  test("a FIFO is refused at once, by the sync and the async reader, naming the file", (t) => {
    const dir = tempDir(t);
    const fifo = path.join(dir, "run.json");
    mkfifo(fifo);
    for (const job of ["readSync", "readAsync"]) {
      const started = Date.now();
      const r = runChildJob(__filename, job, [fifo, String(READ_LIMITS.manifestBytes)], CHILD_TIMEOUT_MS);
      assert.equal(r.timedOut, false, `${job} blocked on the FIFO`);
      assert.deepEqual(
        r.error,
        { message: `${fifo}: is a FIFO, not a regular file`, name: "FileRefusedError" },
        r.stderr,
      );
      assert.ok(Date.now() - started < CHILD_TIMEOUT_MS);
    }
  });

  test("a symlink to /dev/zero is refused without reading, with the link's name", async (t) => {
    const dir = tempDir(t);
    const link = path.join(dir, "metrics.jsonl");
    fs.symlinkSync("/dev/zero", link);
    const refused = (e: unknown): boolean => {
      assert.ok(e instanceof FileRefusedError);
      assert.equal(e.reason, "not-regular");
      assert.equal(e.path, link);
      assert.equal(e.detail, "is a character device, not a regular file");
      assert.equal(e.message, `${link}: is a character device, not a regular file`);
      return true;
    };
    assert.throws(() => readRegularFileSync(link, 1 << 20), refused);
    assert.throws(() => openRegularSync(link), refused);
    await assert.rejects(readRegularFile(link, 1 << 20), refused);
    // In a child too: peak memory stays small (a reader that tried would grow until killed).
    const r = runChildJob(__filename, "readSync", [link, String(Number.MAX_SAFE_INTEGER)], CHILD_TIMEOUT_MS);
    assert.equal(r.error?.name, "FileRefusedError");
    assert.ok((r.maxRssBytes ?? Infinity) < 200 << 20, `maxRSS ${r.maxRssBytes}`);
  });

  test("directories are refused and missing files keep their fs error", async (t) => {
    const dir = tempDir(t);
    assert.throws(() => readRegularFileSync(dir, 100), {
      name: "FileRefusedError",
      message: `${dir}: is a directory, not a regular file`,
    });
    await assert.rejects(readRegularFile(dir, 100), { name: "FileRefusedError" });
    assert.throws(() => readRegularFileSync(path.join(dir, "none"), 100), { code: "ENOENT" });
    await assert.rejects(readRegularFile(path.join(dir, "none"), 100), { code: "ENOENT" });
  });

  test("a file over the limit is refused with both numbers; at the limit it is read", async (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, "run.json");
    fs.writeFileSync(p, "x".repeat(2000));
    const tooLarge = {
      name: "FileRefusedError",
      reason: "too-large",
      message: `${p}: is 2000 bytes, over the limit of 1999 bytes`,
    };
    assert.throws(() => readRegularFileSync(p, 1999), tooLarge);
    await assert.rejects(readRegularFile(p, 1999), tooLarge);
    assert.equal(readRegularTextSync(p, 2000).length, 2000);
    assert.equal((await readRegularText(p, 2000)).length, 2000);
  });

  test("a growing file is read up to the size fstat gave when it was opened", (t) => {
    const dir = tempDir(t);
    const p = path.join(dir, "metrics.jsonl");
    fs.writeFileSync(p, "first\n");
    const { fd, size } = openRegularSync(p, 100);
    try {
      fs.appendFileSync(p, "second line, written after the open\n");
      assert.equal(size, 6);
      assert.equal(readAtSync(fd, size, 0).toString(), "first\n");
      // Shrunk under us: fewer bytes, no error.
      fs.truncateSync(p, 3);
      assert.equal(readAtSync(fd, size, 0).toString(), "fir");
    } finally {
      fs.closeSync(fd);
    }
  });
}
