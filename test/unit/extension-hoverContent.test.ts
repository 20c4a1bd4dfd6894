import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkpointHover,
  escapeMarkdown,
  findCheckpointPaths,
  formatBytes,
  formatDuration,
  formatInteger,
  formatValue,
  latestValues,
  systemHover,
} from "../../src/extension/hoverContent";
import type { RunManifest } from "../../src/shared/runFormat";
import { encodeSafetensors, parseSafetensorsHeader, type TensorToEncode } from "../../src/shared/safetensors";

function manifest(over: Partial<RunManifest> = {}): RunManifest {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "modAdd-20250601T120000Z-3fa2",
    system: "modAdd",
    experiment: { path: "/exp/grokking.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "wasm", reason: "auto" },
    status: "running",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:01:05.000Z",
    totalSteps: 10000,
    step: 1200,
    producer: "test",
    ...over,
  };
}

test("escapeMarkdown escapes every ASCII punctuation mark and flattens line breaks", () => {
  assert.equal(
    escapeMarkdown("a_b*c [x](javascript:alert(1)) <img> $(zap) | `t`\nnext"),
    "a\\_b\\*c \\[x\\]\\(javascript\\:alert\\(1\\)\\) \\<img\\> \\$\\(zap\\) \\| \\`t\\` next",
  );
  assert.equal(escapeMarkdown("plain text 123 é"), "plain text 123 é");
});

test("number formatting", () => {
  assert.equal(formatInteger(1234567), "1,234,567");
  assert.equal(formatInteger(999), "999");
  assert.equal(formatValue(0.000123), "1.23e-4");
  assert.equal(formatValue(2.345678), "2.346");
  assert.equal(formatValue(null), "—");
  assert.equal(formatValue(123456), "1.23e5");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(300 * 1024 * 1024), "300 MB");
  assert.equal(formatDuration(3.25), "3.3s");
  assert.equal(formatDuration(125), "2m 05s");
  assert.equal(formatDuration(3725), "1h 02m 05s");
});

test("latestValues keeps the last value of each metric across records", () => {
  assert.deepEqual(
    latestValues([
      { step: 0, time: 0, train_loss: 3, test_loss: 4 },
      { step: 10, time: 1, train_loss: 2 },
      { step: 20, time: 2, train_loss: null },
    ]),
    { step: 20, time: 2, train_loss: null, test_loss: 4 },
  );
  assert.equal(latestValues([]), undefined);
});

test("systemHover: no runs yet", () => {
  assert.equal(systemHover("mod_add", undefined, undefined), "**mod\\_add**\n\nno runs yet — press ▶ Train");
});

test("systemHover: a running run with metrics and speed", () => {
  const md = systemHover(
    "modAdd",
    manifest(),
    { step: 1250, time: 70, train_loss: 0.01234, test_loss: 4.5678, train_acc: 0.99876, test_acc: 0.1 },
    35.25,
  );
  assert.equal(
    md,
    [
      "**modAdd**",
      "",
      "$(sync~spin) running · step 1,250 / 10,000 (12%)",
      "",
      "| | train | test |",
      "|---|---:|---:|",
      "| loss | 0.01234 | 4.568 |",
      "| accuracy | 99.9% | 10.0% |",
      "",
      "backend wasm · 35.25 steps/s · elapsed 1m 10s",
      "",
      "Run modAdd\\-20250601T120000Z\\-3fa2",
    ].join("\n"),
  );
});

test("systemHover: a diverged run shows where and the escaped error; elapsed from endedAt", () => {
  const md = systemHover(
    "modAdd",
    manifest({
      status: "diverged",
      step: 4210,
      divergedAtStep: 4210,
      endedAt: "2025-06-01T13:02:03.000Z",
      error: { message: "train_loss is NaN at step 4210 <b>", location: { file: "/x/a_b.ts", line: 3, column: 5 } },
    }),
    { step: 4200, time: 3000, train_loss: 0.5 },
    99,
  );
  assert.equal(
    md,
    [
      "**modAdd**",
      "",
      "$(warning) diverged · step 4,210 / 10,000 (42%)",
      "",
      "Diverged at step 4,210.",
      "",
      "Error: train\\_loss is NaN at step 4210 \\<b\\> (a\\_b\\.ts:3:5)",
      "",
      "| | train | test |",
      "|---|---:|---:|",
      "| loss | 0.5 | — |",
      "",
      "backend wasm · took 1h 02m 03s",
      "",
      "Run modAdd\\-20250601T120000Z\\-3fa2",
    ].join("\n"),
  );
});

function tensor(name: string, shape: number[]): TensorToEncode {
  return { name, dtype: "F32", shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
}

test("checkpointHover with stats: model order, optimizer summarized, size", () => {
  const file = encodeSafetensors(
    [
      tensor("layers.0.weight", [97, 256]),
      tensor("layers.0.bias", [256]),
      tensor("optimizer/m/layers.0.weight", [97, 256]),
      tensor("optimizer/v/layers.0.weight", [97, 256]),
      tensor("optimizer/m/layers.0.bias", [256]),
      tensor("optimizer/v/layers.0.bias", [256]),
    ],
    {
      format: "learning-mechanics/checkpoint",
      format_version: "1",
      step: "1200",
      params: JSON.stringify(["layers.0.weight", "layers.0.bias"]),
      stats: JSON.stringify({
        "layers.0.weight": { norm: 12.3456, relChange: 0.041 },
        "layers.0.bias": { norm: 0, relChange: null },
      }),
    },
  );
  const header = parseSafetensorsHeader(file);
  const md = checkpointHover("/runs/r_1/checkpoints/step-00001200.safetensors", header, file.length);
  assert.equal(
    md,
    [
      "**Checkpoint · step 1,200**",
      "",
      `step\\-00001200\\.safetensors · ${formatBytes(file.length)}`,
      "",
      "2 parameter tensors, 25,088 values",
      "",
      "| parameter | shape | dtype | ‖W‖ | ‖W−W₀‖/‖W₀‖ |",
      "|---|---|---|---:|---:|",
      "| layers\\.0\\.weight | 97 × 256 | F32 | 12.35 | 0.041 |",
      "| layers\\.0\\.bias | 256 | F32 | 0 | — |",
      "",
      `optimizer state: 4 tensors (m, v), ${formatBytes(4 * 25088 * 2)}`,
      "",
      "\\/runs\\/r\\_1\\/checkpoints\\/step\\-00001200\\.safetensors",
    ].join("\n"),
  );
  assert.equal(formatBytes(file.length), "295 KB");
});

test("checkpointHover without stats (another program's file): shapes only, 'stats not recorded', table capped", () => {
  const tensors = Array.from({ length: 35 }, (_, i) => tensor(`w${String(i).padStart(2, "0")}`, i === 0 ? [] : [2, 3]));
  const file = encodeSafetensors(tensors); // no metadata at all
  const md = checkpointHover("step-00000050.safetensors", parseSafetensorsHeader(file), file.length);
  const lines = md.split("\n");
  assert.equal(lines[0], "**Checkpoint · step 50**"); // from the file name
  assert.equal(lines[4], "35 parameter tensors, 205 values");
  assert.equal(lines[6], "| parameter | shape | dtype |");
  assert.equal(lines[8], "| w00 | scalar | F32 |");
  assert.equal(lines[9], "| w01 | 2 × 3 | F32 |");
  assert.equal(lines.filter((l) => l.startsWith("| w")).length, 30);
  assert.ok(lines.includes("… and 5 more"));
  assert.ok(lines.includes("stats not recorded"));
  assert.ok(!md.includes("optimizer state"));
});

test("checkpointHover with unreadable stats says so", () => {
  const file = encodeSafetensors([tensor("w", [2])], { step: "7", stats: "{not json" });
  const md = checkpointHover("x.safetensors", parseSafetensorsHeader(file), file.length);
  assert.ok(md.startsWith("**Checkpoint · step 7**"));
  assert.ok(md.includes("\nstats unreadable \\(not JSON\\)\n"));
});

test("findCheckpointPaths: quoted (with spaces), bare, several per line, sentence punctuation", () => {
  assert.deepEqual(findCheckpointPaths(`const p = "runs/my run/checkpoints/step-00000500.safetensors";`), [
    { start: 11, end: 60, path: "runs/my run/checkpoints/step-00000500.safetensors" },
  ]);
  const line = "loaded runs/a/checkpoints/step-00000000.safetensors and ('b.safetensors'), see ./c/d.safetensors.";
  assert.deepEqual(findCheckpointPaths(line), [
    { start: 7, end: 51, path: "runs/a/checkpoints/step-00000000.safetensors" },
    { start: 58, end: 71, path: "b.safetensors" },
    { start: 79, end: 96, path: "./c/d.safetensors" },
  ]);
  assert.equal(line.slice(79, 96), "./c/d.safetensors");
  assert.deepEqual(findCheckpointPaths("--ckpt=C:\\runs\\x.safetensors"), [
    { start: 7, end: 28, path: "C:\\runs\\x.safetensors" },
  ]);
  assert.deepEqual(findCheckpointPaths("model.safetensorsx, .safetensors, x.safetensors.bak, nothing here"), []);
  assert.deepEqual(findCheckpointPaths("file:///tmp/a%20b.safetensors"), [
    { start: 0, end: 29, path: "/tmp/a b.safetensors" },
  ]);
});
