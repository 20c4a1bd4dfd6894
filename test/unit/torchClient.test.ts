// The torch backend's TypeScript side without Python: device checks, what is refused, the tensor
// files both sides exchange, the protocol parser.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { writeFileSync } from "node:fs";
import { models, optimizers, tasks } from "../../src/sdk/builders";
import type { TaskData } from "../../src/sdk/spec";
import { validateSystem } from "../../src/sdk/validate";
import { encodeSafetensors, readSafetensorsSync } from "../../src/shared/safetensors";
import { parseWorkerEvent } from "../../src/shared/workerProtocol";
import {
  readWorkerCheckpoint,
  TorchUnsupportedError,
  workerSystem,
  writeWorkerInputs,
} from "../../src/trainer/torch/exchange";
import { deviceProblem, pythonCommand, type PythonProbe } from "../../src/trainer/torch/python";
import { tempDir } from "../support";

type OkProbe = Extract<PythonProbe, { kind: "ok" }>;
const probe = (over: Partial<OkProbe> = {}): OkProbe => ({
  kind: "ok",
  python: "python3",
  executable: "/usr/bin/python3",
  pythonVersion: "3.11.2",
  torch: "2.13.0",
  cudaBuild: null,
  cudaDevices: [],
  mps: false,
  ...over,
});

test("device checks name the device, the PyTorch and the way out", () => {
  assert.equal(deviceProblem(probe(), "cpu"), undefined);
  assert.equal(
    deviceProblem(probe(), "cuda"),
    "--device cuda: PyTorch 2.13.0 (/usr/bin/python3) is a CPU-only build. Choose --device cpu, or install a CUDA build of PyTorch on a machine with an NVIDIA GPU (https://pytorch.org/get-started/locally/)",
  );
  assert.match(
    deviceProblem(probe({ cudaBuild: "12.4" }), "cuda:0") ?? "",
    /is built for CUDA 12\.4, but sees no CUDA device/,
  );
  const two = probe({ cudaBuild: "12.4", cudaDevices: ["NVIDIA H100", "NVIDIA H100"] });
  assert.equal(deviceProblem(two, "cuda"), undefined);
  assert.equal(deviceProblem(two, "cuda:1"), undefined);
  assert.equal(
    deviceProblem(two, "cuda:2"),
    "--device cuda:2: there is no such CUDA device; PyTorch 2.13.0 (/usr/bin/python3) sees 2 (cuda:0 NVIDIA H100, cuda:1 NVIDIA H100)",
  );
  assert.match(deviceProblem(probe(), "mps") ?? "", /^--device mps: .* no usable Apple MPS backend/);
  assert.equal(deviceProblem(probe({ mps: true }), "mps"), undefined);
  assert.equal(deviceProblem(probe(), "tpu"), 'unknown device "tpu": expected cpu, cuda, cuda:N or mps');
});

test("the interpreter: the explicit one, else python3", () => {
  assert.equal(pythonCommand("/opt/py/bin/python"), "/opt/py/bin/python");
  assert.equal(pythonCommand(""), "python3");
  assert.equal(pythonCommand(undefined), "python3");
});

const data: TaskData = {
  input: { kind: "tokens", vocab: 5, length: 2 },
  output: { kind: "classes", count: 5 },
  train: { n: 3, x: Int32Array.from([0, 1, 2, 3, 4, 0]), y: Int32Array.from([1, 0, 4]) },
  test: { n: 1, x: Int32Array.from([1, 1]), y: Int32Array.from([2]) },
};

test("a custom model is refused naming the system and the backends that run it", () => {
  const v = validateSystem({
    task: tasks.modularArithmetic({ p: 5 }),
    model: { kind: "custom", name: "myNet", init: () => {}, forward: (_p: unknown, x: unknown) => x },
    optimizer: optimizers.adam(),
  });
  assert.ok(v.ok, JSON.stringify(v));
  assert.throws(
    () => workerSystem("mySystem", v.spec, data, []),
    (e: unknown) =>
      e instanceof TorchUnsupportedError &&
      e.message ===
        'system "mySystem": its custom model "myNet" is tfjs code, which the torch backend cannot run; train it with --backend wasm, cpu, native or gpu (the torch backend runs the built-in models mlp, transformer and deepLinear)',
  );
});

test("the inputs file holds data, parameters, init and optimizer state under their prefixes", (t) => {
  const v = validateSystem({
    task: tasks.modularArithmetic({ p: 5 }),
    model: models.mlp({ hidden: [4] }),
    optimizer: optimizers.sgd({ momentum: 0.9 }),
    steps: 7,
  });
  assert.ok(v.ok);
  const w = { name: "out.weight", shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  const sys = workerSystem("s", v.spec, data, [w]);
  assert.deepEqual(sys.params, [{ name: "out.weight", shape: [2, 3] }]);
  assert.equal(sys.steps, 7);
  assert.deepEqual(sys.input, data.input);

  const path = join(tempDir(t), "in.safetensors");
  writeWorkerInputs(path, {
    data,
    params: [w],
    init: [w],
    optimizer: new Map([["momentum/out.weight", { shape: [2, 3], values: new Float32Array(6) }]]),
  });
  const d = readSafetensorsSync(path);
  const byName = Object.fromEntries(
    d.tensors.map((x) => [x.name, { dtype: x.dtype, shape: x.shape, data: Array.from(x.data) }]),
  );
  assert.deepEqual(byName["data/train.x"], { dtype: "I32", shape: [3, 2], data: [0, 1, 2, 3, 4, 0] });
  assert.deepEqual(byName["data/train.y"], { dtype: "I32", shape: [3], data: [1, 0, 4] });
  assert.deepEqual(byName["data/test.x"], { dtype: "I32", shape: [1, 2], data: [1, 1] });
  assert.deepEqual(byName["param/out.weight"], { dtype: "F32", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
  assert.deepEqual(byName["init/out.weight"]?.shape, [2, 3]);
  assert.deepEqual(byName["optimizer/momentum/out.weight"]?.data, [0, 0, 0, 0, 0, 0]);
});

test("a checkpoint handed back reads as a run checkpoint; a bad one is refused naming the file", (t) => {
  const dir = tempDir(t);
  const good = join(dir, "checkpoint-4.safetensors");
  writeFileSync(
    good,
    encodeSafetensors(
      [
        { name: "param/layers.0.weight", dtype: "F32", shape: [1, 2], data: Float32Array.from([0.5, -1]) },
        { name: "optimizer/m/layers.0.weight", dtype: "F32", shape: [1, 2], data: Float32Array.from([0.1, 0.2]) },
      ],
      { step: "4", optimizer_t: "4" },
    ),
  );
  const c = readWorkerCheckpoint(good);
  assert.equal(c.step, 4);
  assert.equal(c.optimizerT, 4);
  assert.deepEqual([...c.params.keys()], ["layers.0.weight"]);
  assert.deepEqual(Array.from(c.params.get("layers.0.weight")!.values), [0.5, -1]);
  assert.deepEqual([...c.optimizer.keys()], ["m/layers.0.weight"]);

  const bad = join(dir, "bad.safetensors");
  writeFileSync(
    bad,
    encodeSafetensors([{ name: "param/w", dtype: "F32", shape: [1], data: Float32Array.from([1]) }], { step: "x" }),
  );
  assert.throws(() => readWorkerCheckpoint(bad), {
    message: `${bad}: metadata needs integer "step" and "optimizer_t"`,
  });
});

test("worker events parse; anything else is not an event", () => {
  assert.deepEqual(parseWorkerEvent('{"type":"finished","status":"stopped","step":3}'), {
    type: "finished",
    status: "stopped",
    step: 3,
  });
  assert.equal(parseWorkerEvent('{"type":"train"}'), undefined);
  assert.equal(parseWorkerEvent("Warning: something"), undefined);
  assert.equal(parseWorkerEvent("[1,2]"), undefined);
});
