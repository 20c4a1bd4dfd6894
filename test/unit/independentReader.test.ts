// Cross-checks our safetensors code and run-folder readers against independent code:
// (1) files from our encoder are parsed by a hand-written numpy reader (struct + json + frombuffer);
// (2) the Python writer example of docs/run-format.md is run, and its run folder is read by our readers.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { isTempFileName, readJsonFile } from "../../src/shared/atomicFile";
import { readMetrics } from "../../src/shared/metricsReader";
import {
  CHECKPOINT_DIR,
  METRICS_FILE,
  OPTIMIZER_TENSOR_PREFIX,
  RUN_MANIFEST,
  checkpointFileName,
  manifestProblems,
  parseCheckpointFileName,
} from "../../src/shared/runFormat";
import {
  type TensorToEncode,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsHeader,
} from "../../src/shared/safetensors";
import { repoRoot } from "../support";

/** Why the Python checks cannot run here, or undefined when python3 with numpy is available. */
function pythonMissing(): string | undefined {
  const r = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
  if (r.error) return `python3 not runnable: ${r.error.message}`;
  if (r.status !== 0) return `python3 has no numpy: ${r.stderr.trim().split("\n").pop() ?? ""}`;
  return undefined;
}
const skip = pythonMissing();

/** The repository root: the nearest ancestor (of this bundle, or of the working directory) holding docs/run-format.md. */

function python(args: string[], input?: string): string {
  const r = spawnSync("python3", args, { encoding: "utf8", input, timeout: 60_000 });
  assert.equal(r.status, 0, `python3 ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function tmpDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-independent-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const NUMPY_READER = `
import json, struct, sys
import numpy as np
DT = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n].decode("utf-8"))
data = raw[8 + n:]
out = {"header_len": n, "metadata": header.pop("__metadata__", {}), "tensors": {}}
ends = []
for name, info in header.items():
    b, e = info["data_offsets"]
    a = np.frombuffer(data[b:e], dtype=DT[info["dtype"]]).reshape(info["shape"])
    ends.append((b, e))
    out["tensors"][name] = {
        "dtype": info["dtype"], "shape": list(a.shape), "aligned": (8 + n + b) % a.itemsize == 0,
        "values": a.astype(np.float64).ravel().tolist(),
        "norm": float(np.linalg.norm(a.astype(np.float64).ravel())),
        "sum": float(a.astype(np.float64).sum()),
    }
ends.sort()
out["contiguous"] = all(ends[i][1] == ends[i + 1][0] for i in range(len(ends) - 1)) and (not ends or (ends[0][0] == 0 and ends[-1][1] == len(data)))
print(json.dumps(out))
`;

function pattern<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

test("files from our encoder read back identically with a hand-written numpy reader", { skip }, (t) => {
  const dir = tmpDir(t);
  const tensors: TensorToEncode[] = [
    {
      name: "layers.0.weight",
      dtype: "F32",
      shape: [64, 33],
      data: new Float32Array(pattern(64 * 33, (i) => Math.sin(i * 0.37) * (1 + (i % 7)))),
    },
    { name: "layers.0.bias", dtype: "F32", shape: [33], data: new Float32Array(pattern(33, (i) => i / 3 - 5)) },
    {
      name: "embed",
      dtype: "F64",
      shape: [5, 3],
      data: new Float64Array(pattern(15, (i) => Math.exp(i / 4) * (i % 2 ? -1 : 1) + 1e-17 * i)),
    },
    { name: "labels", dtype: "I32", shape: [2, 2, 3], data: new Int32Array(pattern(12, (i) => (i - 6) * 123456789)) },
    { name: "scalar", dtype: "F32", shape: [], data: new Float32Array([0.1]) },
    { name: "nothing", dtype: "F32", shape: [0, 3], data: new Float32Array(0) },
    {
      name: "optimizer/layers.0.bias/m",
      dtype: "F32",
      shape: [33],
      data: new Float32Array(pattern(33, (i) => 1e-8 * i)),
    },
  ];
  const metadata = {
    format: "learning-mechanics/checkpoint",
    format_version: "1",
    step: "42",
    params: JSON.stringify(["layers.0.weight", "layers.0.bias", "embed"]),
    note: 'ü ✓ "q"',
  };
  const file = path.join(dir, checkpointFileName(42));
  fs.writeFileSync(file, encodeSafetensors(tensors, metadata));
  fs.writeFileSync(path.join(dir, "reader.py"), NUMPY_READER);

  const out = JSON.parse(python([path.join(dir, "reader.py"), file])) as {
    header_len: number;
    metadata: Record<string, string>;
    contiguous: boolean;
    tensors: Record<
      string,
      { dtype: string; shape: number[]; aligned: boolean; values: number[]; norm: number; sum: number }
    >;
  };
  assert.equal(out.header_len % 8, 0);
  assert.equal(out.contiguous, true);
  assert.deepEqual(out.metadata, metadata);
  assert.deepEqual(Object.keys(out.tensors).sort(), tensors.map((x) => x.name).sort());
  for (const x of tensors) {
    const py = out.tensors[x.name];
    assert.ok(py, x.name);
    assert.equal(py.dtype, x.dtype);
    assert.deepEqual(py.shape, x.shape);
    assert.equal(py.aligned, true, `${x.name} aligned`);
    // Every element exactly (float32 and int32 values are exact in float64 and in JSON).
    assert.deepEqual(py.values, Array.from(x.data), x.name);
    let sq = 0;
    let sum = 0;
    for (const v of x.data) {
      sq += v * v;
      sum += v;
    }
    assert.ok(
      Math.abs(py.norm - Math.sqrt(sq)) <= 1e-12 * Math.max(1, Math.sqrt(sq)),
      `${x.name} norm ${py.norm} vs ${Math.sqrt(sq)}`,
    );
    assert.ok(Math.abs(py.sum - sum) <= 1e-9 * Math.max(1, Math.abs(sum)), `${x.name} sum`);
  }
});

/** The first ```python block after the given heading of a Markdown file. */
function pythonBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(heading);
  assert.ok(at >= 0, `heading "${heading}" not found`);
  const m = /```python\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(m?.[1] !== undefined, `no python block after "${heading}"`);
  return m[1];
}

test("the Python writer in docs/run-format.md produces a run folder our readers accept", { skip }, async (t) => {
  const root = repoRoot();
  const doc = fs.readFileSync(path.join(root, "docs", "run-format.md"), "utf8");
  const script = pythonBlockAfter(doc, "## A complete example in Python");
  // The doc shows the example file verbatim.
  assert.equal(script, fs.readFileSync(path.join(root, "docs", "examples", "write_run.py"), "utf8"));

  const dir = tmpDir(t);
  const scriptPath = path.join(dir, "write_run.py");
  fs.writeFileSync(scriptPath, script);
  const runDir = path.join(dir, "run");
  python(["-W", "error", scriptPath, runDir]);

  // run.json
  const manifest = await readJsonFile(path.join(runDir, RUN_MANIFEST));
  assert.ok(manifest.ok, manifest.ok ? "" : manifest.error);
  assert.deepEqual(manifestProblems(manifest.value), []);
  const m = manifest.value as Record<string, unknown>;
  assert.equal(m["status"], "finished");
  assert.equal(m["step"], 200);
  assert.equal(m["totalSteps"], 200);
  assert.equal(m["system"], "linreg");
  assert.match(String((m["experiment"] as Record<string, unknown>)["sha256"]), /^sha256:[0-9a-f]{64}$/);
  assert.ok(Date.parse(String(m["endedAt"])) >= Date.parse(String(m["startedAt"])));

  // metrics.jsonl
  const metrics = readMetrics(path.join(runDir, METRICS_FILE));
  assert.equal(metrics.partialTail, false);
  assert.deepEqual(metrics.badLines, []);
  assert.deepEqual(
    metrics.records.map((r) => r.step),
    pattern(21, (i) => i * 10),
  );
  for (const r of metrics.records) {
    assert.ok(Number.isFinite(r.time) && r.time >= 0);
    assert.equal(typeof r["train_loss"], "number");
    assert.equal(r["lr"], 0.05);
  }
  const byStep = new Map(metrics.records.map((r) => [r.step, r]));

  // checkpoints/: exactly the expected names, step 0 included, no temp files left.
  const names = fs.readdirSync(path.join(runDir, CHECKPOINT_DIR));
  assert.deepEqual(names.filter(isTempFileName), []);
  const steps = names
    .map(parseCheckpointFileName)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
  assert.deepEqual(steps, [0, 50, 100, 150, 200]);

  // The script's dataset, rebuilt here: x[i, j] = sin(0.37 i (j+1)) as float32, y = x·W* + b* + 0.2 cos(1.3 i).
  const wTrue = [
    [1, -2],
    [0.5, 0],
    [-1.5, 1],
  ];
  const bTrue = [0.3, -0.7];
  const x = pattern(64, (i) => pattern(3, (j) => Math.fround(Math.sin(0.37 * i * (j + 1)))));
  const y = x.map((row, i) =>
    pattern(
      2,
      (k) =>
        row.reduce((s, v, j) => s + v * (wTrue[j]?.[k] ?? 0), 0) +
        (bTrue[k] ?? 0) +
        Math.fround(0.2 * Math.cos(1.3 * i)),
    ),
  );

  for (const step of steps) {
    const file = path.join(runDir, CHECKPOINT_DIR, checkpointFileName(step));
    const header = await readSafetensorsHeader(file);
    assert.equal(header.metadata["format"], "learning-mechanics/checkpoint");
    assert.equal(header.metadata["format_version"], "1");
    assert.equal(header.metadata["step"], String(step));
    const params = JSON.parse(header.metadata["params"] ?? "null") as unknown;
    assert.deepEqual(params, ["layers.0.weight", "layers.0.bias"]);
    assert.deepEqual(JSON.parse(header.metadata["optimizer"] ?? "null"), { t: step });
    const info = new Map(header.tensors.map((x) => [x.name, x]));
    assert.deepEqual(info.get("layers.0.weight")?.shape, [3, 2]); // [in, out]
    assert.deepEqual(info.get("layers.0.bias")?.shape, [2]);
    const optimizerNames = header.tensors
      .map((x) => x.name)
      .filter((n) => n.startsWith(OPTIMIZER_TENSOR_PREFIX))
      .sort();
    assert.deepEqual(optimizerNames, ["optimizer/momentum/layers.0.bias", "optimizer/momentum/layers.0.weight"]);
    assert.ok(header.tensors.every((x) => x.dtype === "F32"));

    const decoded = await readSafetensors(file);
    const w = decoded.byName.get("layers.0.weight")?.data;
    const b = decoded.byName.get("layers.0.bias")?.data;
    assert.ok(w instanceof Float32Array && b instanceof Float32Array);
    // param_norm in the metrics line of this step = L2 norm of the checkpoint's parameters.
    let sq = 0;
    for (const v of [...w, ...b]) sq += v * v;
    const rec = byStep.get(step);
    assert.ok(rec);
    assert.ok(
      Math.abs(Math.sqrt(sq) - (rec["param_norm"] as number)) < 1e-9 * Math.sqrt(sq),
      `param_norm at step ${step}`,
    );
    // train_loss = MSE of y = x·W + b with W read as [in, out]: checks values and orientation.
    let loss = 0;
    x.forEach((row, i) => {
      for (let k = 0; k < 2; k++) {
        let pred = b[k] as number;
        for (let j = 0; j < 3; j++) pred += (row[j] as number) * (w[j * 2 + k] as number);
        loss += (pred - (y[i]?.[k] as number)) ** 2;
      }
    });
    loss /= 128;
    const logged = rec["train_loss"] as number;
    assert.ok(
      Math.abs(loss - logged) <= 1e-4 * logged,
      `train_loss at step ${step}: ${loss} recomputed vs ${logged} logged`,
    );
  }
  // Training did something: the loss fell by two orders of magnitude.
  assert.ok((byStep.get(200)?.["train_loss"] as number) < (byStep.get(0)?.["train_loss"] as number) / 100);
});

test("the run.json and metrics.jsonl examples in docs/run-format.md are valid and complete", () => {
  const doc = fs.readFileSync(path.join(repoRoot(), "docs", "run-format.md"), "utf8");
  const section = (heading: string): string => {
    const at = doc.indexOf(`\n## ${heading}\n`);
    assert.ok(at >= 0, heading);
    const next = doc.indexOf("\n## ", at + 1);
    return doc.slice(at, next < 0 ? undefined : next);
  };
  const manifestSection = section("run.json");
  const json = /```json\n([\s\S]*?)```/.exec(manifestSection)?.[1];
  assert.ok(json !== undefined);
  const example = JSON.parse(json) as Record<string, unknown>;
  assert.deepEqual(manifestProblems(example), []);
  // The example shows every field of the table, and the table lists every field of the example.
  const tableFields = [...manifestSection.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...tableFields].sort(), Object.keys(example).sort());
  assert.equal(tableFields.length, 22); // every field of RunManifest (sweep and branchOf included)

  const metricsLines = /\n```\n(\{[\s\S]*?)```/.exec(section("metrics.jsonl"))?.[1];
  assert.ok(metricsLines !== undefined);
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lm-doc-")), "metrics.jsonl");
  try {
    fs.writeFileSync(p, metricsLines);
    const r = readMetrics(p);
    assert.deepEqual(r.badLines, []);
    assert.equal(r.partialTail, false);
    assert.deepEqual(
      r.records.map((x) => x.step),
      [0, 10, 20],
    );
    assert.equal(r.records[2]?.["train_loss"], null);
  } finally {
    fs.rmSync(path.dirname(p), { recursive: true, force: true });
  }
});
