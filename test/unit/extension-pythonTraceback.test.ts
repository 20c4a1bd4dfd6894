// The traceback at the end of a Python script's stderr, read for Problems. The texts are what
// CPython 3.11 printed for these scripts (copied from real runs), with paths kept.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isLibraryFile, parsePythonTraceback } from "../../src/extension/pythonTraceback";

test("an error inside torch: the innermost frame in the user's files, below it torch's own", () => {
  const stderr = `/tmp/pyt/torchy.py:3: UserWarning: a warning printed before
  warnings.warn("x")
Traceback (most recent call last):
  File "/tmp/pyt/torchy.py", line 4, in <module>
    helper.run(model)
  File "/tmp/pyt/helper.py", line 4, in run
    return model(x)
           ^^^^^^^^
  File "/work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1778, in _wrapped_call_impl
    return self._call_impl(*args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/linear.py", line 134, in forward
    return F.linear(input, self.weight, self.bias)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x20 and 10x4)
`;
  const e = parsePythonTraceback(stderr, { lineText: () => "    return model(x)" });
  assert.ok(e);
  assert.equal(e.type, "RuntimeError");
  assert.equal(e.message, "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x20 and 10x4)");
  assert.equal(e.frames.length, 4);
  assert.deepEqual(e.location, { file: "/tmp/pyt/helper.py", line: 4, column: 12 });
});

test("chained exceptions: the last one (the one that ended the script), with its whole message", () => {
  const stderr = `Traceback (most recent call last):
  File "/tmp/pyt/chained.py", line 4, in <module>
    f({})
  File "/tmp/pyt/chained.py", line 2, in f
    return d["a"]
           ~^^^^^
KeyError: 'a'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/tmp/pyt/chained.py", line 6, in <module>
    raise RuntimeError("wrapped\\nsecond line") from e
RuntimeError: wrapped
second line
`;
  const e = parsePythonTraceback(stderr);
  assert.ok(e);
  assert.equal(e.message, "RuntimeError: wrapped\nsecond line");
  assert.deepEqual(e.location, { file: "/tmp/pyt/chained.py", line: 6, column: 1 });
  assert.equal(e.frames.length, 1);
});

test("'During handling of the above exception': the later exception", () => {
  const stderr = `Traceback (most recent call last):
  File "/tmp/pyt/during.py", line 2, in <module>
    1/0
    ~^~
ZeroDivisionError: division by zero

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/tmp/pyt/during.py", line 4, in <module>
    undefined_name
NameError: name 'undefined_name' is not defined
`;
  const e = parsePythonTraceback(stderr);
  assert.equal(e?.message, "NameError: name 'undefined_name' is not defined");
  assert.deepEqual(e?.location, { file: "/tmp/pyt/during.py", line: 4, column: 1 });
});

test("a SyntaxError in the script itself (no traceback header): its line, the caret's column with the indentation", () => {
  const stderr = `  File "/tmp/pyt/syn2.py", line 4
    y = (1,
        ^
SyntaxError: '(' was never closed
`;
  const lines = ["import torch", "def g():", "    if True:", "        y = (1,"];
  const e = parsePythonTraceback(stderr, { lineText: (_f, n) => lines[n - 1] });
  assert.equal(e?.type, "SyntaxError");
  assert.equal(e?.message, "SyntaxError: '(' was never closed");
  // The caret is under `(`: 4 columns into the shown (unindented) line, which had 8 spaces.
  assert.deepEqual(e?.location, { file: "/tmp/pyt/syn2.py", line: 4, column: 13 });
  // Without the file's text the column is the shown line's.
  assert.equal(parsePythonTraceback(stderr)?.location?.column, 5);
});

test("a SyntaxError in an imported module: the module's line; an IndentationError without a caret", () => {
  const imported = `Traceback (most recent call last):
  File "/tmp/pyt/imp.py", line 1, in <module>
    import syn2
  File "/tmp/pyt/syn2.py", line 4
    y = (1,
        ^
SyntaxError: '(' was never closed
`;
  assert.deepEqual(parsePythonTraceback(imported)?.location, { file: "/tmp/pyt/syn2.py", line: 4, column: 5 });
  const indent = `  File "/tmp/pyt/syn.py", line 2
    def f(:
IndentationError: unexpected indent
`;
  const e = parsePythonTraceback(indent);
  assert.equal(e?.message, "IndentationError: unexpected indent");
  assert.deepEqual(e?.location, { file: "/tmp/pyt/syn.py", line: 2, column: 1 });
});

test("a deep recursion with repeated lines; a KeyboardInterrupt is returned as such", () => {
  const stderr = `Traceback (most recent call last):
  File "/w/rec.py", line 3, in <module>
    f(1)
  File "/w/rec.py", line 2, in f
    def f(n): return f(n + 1)
                     ^^^^^^^^
  File "/w/rec.py", line 2, in f
    def f(n): return f(n + 1)
                     ^^^^^^^^
  [Previous line repeated 996 more times]
RecursionError: maximum recursion depth exceeded
`;
  const e = parsePythonTraceback(stderr);
  assert.equal(e?.type, "RecursionError");
  assert.deepEqual(e?.location, { file: "/w/rec.py", line: 2, column: 18 });
  const stop = `Traceback (most recent call last):
  File "/w/train.py", line 9, in <module>
    time.sleep(0.01)
  File "/py/learning_mechanics/logger.py", line 480, in _sigterm_to_interrupt
    raise KeyboardInterrupt("SIGTERM")
KeyboardInterrupt: SIGTERM
`;
  const k = parsePythonTraceback(stop, { isUserFile: (f) => !isLibraryFile(f, "/py") });
  assert.equal(k?.type, "KeyboardInterrupt");
  assert.deepEqual(k?.location, { file: "/w/train.py", line: 9, column: 1 });
});

test("no traceback: undefined; the user's own stderr lines before a traceback are skipped", () => {
  assert.equal(parsePythonTraceback(""), undefined);
  assert.equal(parsePythonTraceback("epoch 1 loss 0.3\nall done\n"), undefined);
  const e =
    parsePythonTraceback(`epoch 1\n  File "looks like a frame" but is a print\nTraceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/w/m.py", line 1, in <module>
    raise SystemError("x")
SystemError: x
`);
  assert.deepEqual(e?.location, { file: "/w/m.py", line: 1, column: 1 });
});

test("library files: site-packages, dist-packages, the standard library, frozen modules, our package", () => {
  assert.ok(isLibraryFile("/usr/lib/python3/dist-packages/torch/nn/functional.py"));
  assert.ok(isLibraryFile("/home/u/.venv/lib/python3.12/site-packages/numpy/core.py"));
  assert.ok(isLibraryFile("/usr/lib/python3.11/json/decoder.py"));
  assert.ok(isLibraryFile("C:\\Python311\\Lib\\json\\decoder.py"));
  assert.ok(isLibraryFile("<frozen importlib._bootstrap>"));
  assert.ok(isLibraryFile("/ext/python/learning_mechanics/logger.py", "/ext/python"));
  assert.ok(!isLibraryFile("/home/u/project/train.py", "/ext/python"));
  assert.ok(!isLibraryFile("/home/u/library/train.py"));
});
