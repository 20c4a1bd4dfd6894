// Which Python files get ▶ Run: calls of the logger's `init(` through the package's names, outside
// comments and strings; linear in the file's size; scanned once per document version.
import assert from "node:assert/strict";
import { test } from "node:test";
import { VersionCache } from "../../src/extension/experimentScanner";
import { maskPythonNonCode, scanPythonInitCalls } from "../../src/extension/pythonScanner";
import { assertLinearTime } from "../support";

test("finds lm.init( and learning_mechanics.init( with 0-based positions", () => {
  const text = [
    "import torch", // 0
    "import learning_mechanics as lm", // 1
    "import learning_mechanics", // 2
    "with lm.init(name='mlp') as run:", // 3
    "    pass",
    "run2 = learning_mechanics . init (", // 5
    "    name='b')",
  ].join("\n");
  assert.deepEqual(scanPythonInitCalls(text), [
    { line: 3, column: 5 },
    { line: 5, column: 7 },
  ]);
});

test("an alias from `import learning_mechanics as NAME` counts; other modules' init( does not", () => {
  const text = [
    "import os, learning_mechanics as logger",
    "torch.distributed.init_process_group()",
    "wandb.init(project='x')",
    "nn.init.zeros_(w)",
    "my.lm.init(x)", // an attribute chain ending in lm is not the package
    "run = logger.init(name='x')", // 5
    "initialize = lm.initialize()",
  ].join("\n");
  assert.deepEqual(scanPythonInitCalls(text), [{ line: 5, column: 6 }]);
});

test("comments, strings, triple-quoted strings and prefixed strings are not code", () => {
  const text = [
    "# lm.init(name='comment')",
    "s = 'lm.init(\"single\")'",
    'd = "lm.init(\\"escaped\\")"',
    '"""',
    "lm.init(name='docstring')",
    '"""',
    "f = rf'{lm.init()}'",
    "b = b'''lm.init(",
    "'''",
    "x = 1  # then code: lm.init( in a comment", // 9
    "run = lm.init(name='real')", // 10
  ].join("\n");
  assert.deepEqual(scanPythonInitCalls(text), [{ line: 10, column: 6 }]);
  const masked = maskPythonNonCode(text);
  assert.equal(masked.length, text.length);
  assert.equal(masked.split("\n").length, text.split("\n").length);
});

test("an unterminated one-line string ends at its line; an unterminated triple-quoted one hides the rest", () => {
  assert.deepEqual(scanPythonInitCalls("s = 'open\nrun = lm.init()\n"), [{ line: 1, column: 6 }]);
  assert.deepEqual(scanPythonInitCalls('s = """open\nrun = lm.init()\n'), []);
});

test("linear in the file's size", () => {
  const file = (lines: number): string => `${"x = 'lm.init(' # lm.init(\n".repeat(lines)}run = lm.init()\n`;
  assert.deepEqual(scanPythonInitCalls(file(40_000)), [{ line: 40_000, column: 6 }]);
  const texts = new Map([5_000, 80_000].map((n) => [n, file(n)]));
  assertLinearTime("Python init scanner", (n) => scanPythonInitCalls(texts.get(n)!), 5_000);
});

test("scanned once per document version", () => {
  const cache = new VersionCache(scanPythonInitCalls);
  let reads = 0;
  const read = (): string => {
    reads++;
    return "run = lm.init()\n";
  };
  for (let i = 0; i < 5; i++) assert.equal(cache.get("file:///t.py", 1, read).length, 1);
  assert.equal(cache.scans, 1);
  assert.equal(reads, 1);
  assert.deepEqual(
    cache.get("file:///t.py", 2, () => "print(1)\n"),
    [],
  );
  assert.equal(cache.scans, 2);
});
