import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { parseJsonTolerant, tryParseJson } from "../../src/shared/jsonText";
import { readManifest, readManifestSync } from "../../src/shared/manifestFile";
import {
  type RunManifest,
  checkpointFiles,
  manifestProblems,
  parseCheckpointFileName,
  parseManifest,
} from "../../src/shared/runFormat";
import { childJob, runChildJob } from "../childRun";
import { tempDir } from "../support";

// Reads of FIFOs and /dev/zero links run in a child killed at a time limit: a regression fails
// the test instead of hanging the suite or exhausting memory.
childJob({ readManifestSync: ([p]) => readManifestSync(p as string) });

function manifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  const m: RunManifest = {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "r",
    system: "s",
    experiment: { path: "/e.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: "failed",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:00:00.000Z",
    totalSteps: 10,
    step: 3,
    producer: "test",
  };
  return { ...m, ...over };
}

test("manifestProblems checks the type of every field readers use", () => {
  assert.deepEqual(manifestProblems(manifest()), []);
  assert.deepEqual(
    manifestProblems(
      manifest({
        error: { message: "m", location: { file: "/f.ts", line: 1, column: 2 } },
        divergedAtStep: 3,
        pid: 5,
        endedAt: "t",
        resumedFrom: [1],
        gelu: "erf",
        branchOf: { run: "../parent", runId: "parent", step: 20, change: { dataSeed: 3 } },
      }),
    ),
    [],
  );
  const cases: Array<[Record<string, unknown>, string[]]> = [
    [{ backend: undefined }, ["backend must be an object"]],
    [{ backend: { name: 7, reason: "r" } }, ["backend.name must be a string"]],
    [{ backend: { name: "n" } }, ["backend.reason must be a string"]],
    [{ backend: { name: "n", reason: "r", versions: { tfjs: 4 } } }, ["backend.versions must be an object of strings"]],
    [{ error: null }, ["error must be an object"]],
    [{ error: { message: 3 } }, ["error.message must be a string"]],
    [
      { error: { message: "m", location: { file: 1, line: "2", column: 1.5 } } },
      [
        "error.location.file must be a string",
        "error.location.line must be a number",
        "error.location.column must be an integer",
      ],
    ],
    [{ error: { message: "m", location: null } }, ["error.location must be an object"]],
    [{ divergedAtStep: "[link](http://x)" }, ["divergedAtStep must be a number"]],
    [{ step: 1.5, totalSteps: Number.NaN }, ["step must be an integer", "totalSteps must be an integer"]],
    [{ experiment: { sha256: "x" } }, ["experiment.path must be a string"]],
    [{ experiment: null }, ["experiment.path must be a string"]],
    [{ experiment: undefined }, []], // a run from elsewhere: only the analyses that need the model need it
    [{ system: ["a"], producer: undefined }, ["system must be a string", "producer must be a string"]],
    [{ config: [] }, ["config must be an object"]],
    [{ resumedFrom: [1, "2"] }, ["resumedFrom must be an array of integers"]],
    [{ pid: -0.5 }, ["pid must be an integer"]],
    [{ endedAt: 5 }, ["endedAt must be a string"]],
    [{ gelu: "exact" }, ['gelu must be "erf" or "tanh"']],
    [{ branchOf: null }, ["branchOf must be an object"]],
    [
      { branchOf: { run: 1, step: -1, change: { dataSeed: 0.5 } } },
      [
        "branchOf.run must be a string",
        "branchOf.runId must be a string",
        "branchOf.step must be an integer ≥ 0",
        "branchOf.change.dataSeed must be an integer",
      ],
    ],
    [{ branchOf: { run: "..", runId: "p", step: 0 } }, ["branchOf.change must be an object"]],
  ];
  for (const [over, problems] of cases)
    assert.deepEqual(manifestProblems(manifest(over)), problems, JSON.stringify(over));
});

test("parseManifest names the problem and never quotes the text", () => {
  const ok = parseManifest(JSON.stringify(manifest()));
  assert.equal(ok.ok, true);
  if (ok.ok) assert.equal(ok.manifest.backend.name, "cpu");
  const secret = "AWS_SECRET_ACCESS_KEY=abcd1234 password hunter2";
  const r = parseManifest(secret);
  assert.deepEqual(r, {
    ok: false,
    problems: ["run.json is not valid JSON: unexpected character at line 1, column 1"],
  });
  assert.deepEqual(parseManifest('{\n  "format": "learning-mechanics/run",\n  "id": hunter2\n}'), {
    ok: false,
    problems: ["run.json is not valid JSON: unexpected character at line 3, column 9"],
  });
  assert.deepEqual(parseManifest('{"format": "learning-mechanics/run", '), {
    ok: false,
    problems: ["run.json is not valid JSON: unexpected end of the text (cut short?) at line 1, column 38"],
  });
  assert.deepEqual(parseManifest("  \n"), { ok: false, problems: ["run.json is empty"] });
  assert.deepEqual(parseManifest("[1]"), { ok: false, problems: ["run.json is not a JSON object"] });
  // V8's own message would have quoted it: ours must not.
  assert.throws(() => JSON.parse(secret), /hunter2|AWS/);
});

test("readManifest reads run.json through safeRead: FIFO, /dev/zero and oversized files refused, never quoted", async (t) => {
  const dir = tempDir(t);
  const good = path.join(dir, "good.json");
  fs.writeFileSync(good, JSON.stringify(manifest()));
  const fifo = path.join(dir, "fifo.json");
  execFileSync("mkfifo", [fifo]);
  const zero = path.join(dir, "zero.json");
  fs.symlinkSync("/dev/zero", zero);
  const big = path.join(dir, "big.json");
  fs.writeFileSync(big, `{"x":"${"a".repeat(1 << 20)}"}`);
  const secretTarget = path.join(dir, "id_rsa");
  fs.writeFileSync(secretTarget, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n");
  const link = path.join(dir, "link.json");
  fs.symlinkSync(secretTarget, link);
  for (const [file, problem] of [
    [fifo, "run.json is a FIFO, not a regular file"],
    [zero, "run.json is a character device, not a regular file"],
  ] as const) {
    const r = runChildJob(__filename, "readManifestSync", [file], 10_000);
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.value, { ok: false, problems: [problem] });
  }
  for (const read of [readManifestSync, readManifest]) {
    const g = await read(good);
    assert.equal(g.ok, true);
    assert.deepEqual(await read(big), {
      ok: false,
      problems: [`run.json is ${fs.statSync(big).size} bytes, over the limit of 1048576 bytes`],
    });
    assert.deepEqual(await read(path.join(dir, "none.json")), {
      ok: false,
      missing: true,
      problems: ["run.json not found"],
    });
    const l = await read(link);
    assert.deepEqual(l, { ok: false, problems: ["run.json is not valid JSON: invalid number at line 1, column 1"] });
    assert.doesNotMatch(JSON.stringify(l), /BEGIN|OPENSSH|b3Bl/);
  }
});

test("the tolerant JSON parser: Python's tokens outside strings, JSON.parse's result otherwise", () => {
  assert.deepEqual(parseJsonTolerant('{"a": [1, -2.5e3, true, false, null, "x\\"y\\u00e9"], "b": {}}'), {
    a: [1, -2500, true, false, null, 'x"yé'],
    b: {},
  });
  const v = parseJsonTolerant('{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN", "__proto__": 1}') as Record<
    string,
    unknown
  >;
  assert.ok(Number.isNaN(v["a"]));
  assert.deepEqual(v["b"], [Infinity, -Infinity]);
  assert.equal(v["c"], "NaN");
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(v, "__proto__")?.value, 1);
  for (const [text, problem] of [
    ["", "empty text at line 1, column 1"],
    ["{NaN: 1}", "expected a property name in double quotes at line 1, column 2"],
    ["[1,]", "unexpected character at line 1, column 4"],
    ["[1 2]", "expected ',' or ']' at line 1, column 4"],
    ['{"a" 1}', "expected ':' after a property name at line 1, column 6"],
    ['"a\\x"', "invalid escape in a string at line 1, column 1"],
    ['"a\tb"', "control character in a string at line 1, column 3"],
    ["nan", "unexpected character at line 1, column 1"],
    ["1 2", "unexpected text after the value at line 1, column 3"],
    ["[".repeat(600), "nested deeper than 512 levels at line 1, column 514"],
  ] as const) {
    assert.deepEqual(tryParseJson(text), { ok: false, problem }, text.slice(0, 20));
  }
});

test("unpadded checkpoint names are accepted and kept as they are", () => {
  assert.equal(parseCheckpointFileName("step-20.safetensors"), 20);
  assert.equal(parseCheckpointFileName("step-99999999999999999999.safetensors"), undefined);
  assert.deepEqual(
    checkpointFiles([
      "step-20.safetensors",
      "step-00000005.safetensors",
      "notes.txt",
      ".step-1.safetensors.1.abcd0123.tmp",
      "step-00000020.safetensors",
      "step-7.safetensors",
    ]),
    [
      { step: 5, name: "step-00000005.safetensors" },
      { step: 7, name: "step-7.safetensors" },
      { step: 20, name: "step-00000020.safetensors" },
    ],
  );
});

test("manifestProblems checks an intervention branch's change (docs/interventions.md)", () => {
  const branchOf = (change: Record<string, unknown>) => ({ branchOf: { run: "../p", runId: "p", step: 2, change } });
  const good = {
    kind: "intervention",
    action: { kind: "upweight", weight: 3 },
    examples: [1, 4],
    selection: { kind: "explicit" },
  };
  assert.deepEqual(manifestProblems(manifest(branchOf(good))), []);
  assert.deepEqual(manifestProblems(manifest(branchOf({ ...good, action: { kind: "shuffle" }, examples: [] }))), [
    "branchOf.change.action must be an object whose kind is remove, upweight, moveFrom or moveBefore",
    "branchOf.change.examples must be a non-empty list of integers ≥ 0",
  ]);
  assert.deepEqual(manifestProblems(manifest(branchOf({ ...good, action: { kind: "moveFrom", step: -1 } }))), [
    "branchOf.change.action.step must be an integer ≥ 0",
  ]);
});
