import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Rng } from "../../src/sdk/rng";
import {
  checkpointFileName,
  formatMetricsLine,
  manifestProblems,
  parseCheckpointFileName,
  parseMetricsLine,
} from "../../src/shared/runFormat";
import { encodeMessage, LineSplitter, parseTrainerEvent, parseTrainerRequest } from "../../src/shared/trainerProtocol";
import { BackendError, selectBackend, type BackendCandidate } from "../../src/trainer/backend";
import { BatchSchedule } from "../../src/trainer/batches";
import { formatDuration, progressLine } from "../../src/trainer/progress";
import { locationInStack } from "../../src/trainer/loadExperiment";
import { newRunId } from "../../src/trainer/runFolder";

describe("trainer protocol", () => {
  test("round-trips events and requests and rejects anything else", () => {
    const e = { type: "progress", step: 3, totalSteps: 10, loss: 0.5, stepsPerSecond: 12 } as const;
    const line = encodeMessage(e);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(parseTrainerEvent(line), e);
    assert.deepEqual(parseTrainerRequest(encodeMessage({ type: "stop" })), { type: "stop" });
    assert.equal(parseTrainerEvent('{"type":"stop"}'), undefined, "a request is not an event");
    assert.equal(parseTrainerRequest('{"type":"progress"}'), undefined);
    assert.equal(parseTrainerEvent("Hi there 👋"), undefined);
    assert.equal(parseTrainerEvent("[1,2]"), undefined);
    assert.equal(parseTrainerEvent("null"), undefined);
  });

  test("the line splitter keeps partial lines until their newline", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.push('{"a":1}\n{"b"');
    assert.deepEqual(lines, ['{"a":1}']);
    s.push(':2}\n\n{"c":3}');
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    s.end();
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });
});

describe("run format", () => {
  test("checkpoint names sort by step and parse back", () => {
    assert.equal(checkpointFileName(1200), "step-00001200.safetensors");
    assert.equal(parseCheckpointFileName("step-00001200.safetensors"), 1200);
    assert.equal(parseCheckpointFileName(".step-00001200.safetensors.123.tmp"), undefined);
    assert.equal(parseCheckpointFileName("step-12.safetensors.tmp"), undefined);
    const names = [5, 100, 20, 0].map(checkpointFileName).sort();
    assert.deepEqual(names.map(parseCheckpointFileName), [0, 5, 20, 100]);
  });

  test("metrics lines: non-finite values become null, partial lines are rejected", () => {
    const line = formatMetricsLine({ step: 4, time: 1.5, train_loss: Number.NaN, test_loss: 0.25 });
    assert.equal(line, '{"step":4,"time":1.5,"train_loss":null,"test_loss":0.25}\n');
    assert.deepEqual(parseMetricsLine(line), { step: 4, time: 1.5, train_loss: null, test_loss: 0.25 });
    assert.equal(parseMetricsLine('{"step":4,"time":1.5,"train_lo'), undefined);
    assert.equal(parseMetricsLine('{"time":1}'), undefined);
    assert.deepEqual(parseMetricsLine('{"step":2,"note":"text","x":1}'), { step: 2, time: Number.NaN, x: 1 });
  });

  test("manifest problems name the fields", () => {
    assert.deepEqual(manifestProblems(null), ["run.json is not a JSON object"]);
    const p = manifestProblems({
      format: "learning-mechanics/run",
      formatVersion: 99,
      id: "x",
      system: "s",
      experiment: { path: "/e.ts", sha256: "sha256:0" },
      config: {},
      backend: { name: "cpu", reason: "test" },
      producer: "test",
      startedAt: "t",
      updatedAt: "t",
      status: "walking",
      step: 1,
      totalSteps: 2,
      seed: 0,
    });
    assert.deepEqual(p, [
      "formatVersion 99 is newer than this reader (1)",
      "status must be one of running, finished, failed, diverged, stopped",
    ]);
  });

  test("run ids are folder-safe and time-stamped", () => {
    const id = newRunId("mod add/α", new Date("2026-11-23T10:11:12Z"));
    assert.match(id, /^mod_add__-20261123-101112-[0-9a-f]{4}$/);
  });
});

describe("minibatches", () => {
  test("each epoch is a permutation, and the order depends only on (seed, step)", () => {
    const a = new BatchSchedule(10, 3, 5);
    assert.equal(a.perEpoch, 3);
    const epoch0 = [1, 2, 3].flatMap((t) => Array.from(a.indices(t)));
    assert.equal(new Set(epoch0).size, 9, "no repeats within an epoch");
    assert.ok(epoch0.every((i) => i >= 0 && i < 10));
    const fresh = new BatchSchedule(10, 3, 5);
    assert.deepEqual(Array.from(fresh.indices(5)), Array.from(a.indices(5)), "random access equals sequential access");
    assert.deepEqual(
      Array.from(new BatchSchedule(10, 3, 5).indices(2)),
      Array.from(new BatchSchedule(10, 3, 5).indices(2)),
    );
    assert.notDeepEqual(
      Array.from(new BatchSchedule(10, 3, 6).indices(1)),
      Array.from(new BatchSchedule(10, 3, 5).indices(1)),
    );
    assert.notDeepEqual(Array.from(a.indices(1)), Array.from(a.indices(4)), "a new permutation each epoch");
  });

  test("the RNG is deterministic and roughly uniform and normal", () => {
    const a = new Rng(1, "x");
    const b = new Rng(1, "x");
    const xs = Array.from({ length: 20000 }, () => a.uniform());
    assert.deepEqual(
      xs.slice(0, 5),
      Array.from({ length: 5 }, () => b.uniform()),
    );
    assert.notEqual(new Rng(1, "y").uniform(), xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.01);
    const n = new Rng(2).normals(20000);
    const m = n.reduce((s, x) => s + x, 0) / n.length;
    const v = n.reduce((s, x) => s + (x - m) ** 2, 0) / n.length;
    assert.ok(Math.abs(m) < 0.03 && Math.abs(v - 1) < 0.05, `mean ${m} var ${v}`);
  });
});

describe("backend selection", () => {
  const candidate = (
    request: BackendCandidate["request"],
    fails: string | undefined,
    tfName = "cpu",
  ): BackendCandidate => ({
    request,
    tfName,
    package: `pkg-${request}`,
    howToGet: `install pkg-${request}`,
    load: async () => {
      if (fails) throw new BackendError(fails);
    },
  });

  test("auto takes the first that works and records why the others were skipped", async () => {
    const info = await selectBackend("auto", [
      candidate("gpu", "no CUDA"),
      candidate("native", "not installed"),
      candidate("cpu", undefined),
    ]);
    assert.equal(info.name, "cpu");
    assert.equal(info.reason, "auto: pkg-gpu unavailable (no CUDA); pkg-native unavailable (not installed)");
  });

  test("an explicit request that cannot be met says what to install", async () => {
    await assert.rejects(
      selectBackend("gpu", [candidate("gpu", "not installed"), candidate("cpu", undefined)]),
      /backend "gpu" is not available: not installed\. install pkg-gpu/,
    );
    const info = await selectBackend("cpu", [candidate("gpu", "x"), candidate("cpu", undefined)]);
    assert.equal(info.reason, "requested: cpu");
  });
});

describe("error locations", () => {
  test("picks the first frame in the experiment file from a stack", () => {
    const stack = [
      "Error: boom",
      "    at check (/work/node_modules/lib/index.js:10:5)",
      "    at makeTask (/home/me/exp/a.experiment.ts:4:23)",
      "    at Object.<anonymous> (/home/me/exp/a.experiment.ts:8:35)",
    ].join("\n");
    assert.deepEqual(locationInStack(stack, "/home/me/exp/a.experiment.ts"), {
      file: "/home/me/exp/a.experiment.ts",
      line: 4,
      column: 23,
    });
    assert.equal(locationInStack(stack, "/elsewhere/b.ts"), undefined);
    assert.equal(locationInStack(undefined, "/x.ts"), undefined);
  });
});

describe("CLI progress", () => {
  test("formats a bar, a rate and an ETA", () => {
    assert.equal(
      progressLine(400, 1000, 0.123456, 120),
      "[########............]  40% 400/1000 loss 0.1235 · 120 steps/s · eta 5s",
    );
    assert.equal(formatDuration(3725), "1h02m");
    assert.equal(formatDuration(75), "1m15s");
  });
});
