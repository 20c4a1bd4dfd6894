// What trains a run (src/trainer/trainingBackend.ts): `auto`'s order torch on CUDA, tfjs-node-gpu,
// torch on the CPU, tfjs-node, wasm, cpu, with every skipped candidate's reason; `--backend torch`
// refusals; devices. Probes and tfjs candidates are stand-ins, so no Python runs here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BackendError, type BackendCandidate } from "../../src/trainer/backend";
import type { PythonProbe } from "../../src/trainer/torch/python";
import { cachedProbe, chooseTrainingBackend, parseDevice } from "../../src/trainer/trainingBackend";

const candidate = (request: BackendCandidate["request"], fails: string | undefined): BackendCandidate => ({
  request,
  tfName: "cpu",
  package: `pkg-${request}`,
  howToGet: `install pkg-${request}`,
  load: async () => {
    if (fails) throw new BackendError(fails);
  },
});
/** No native packages; wasm stands in as the cpu backend (the tfjs side of a torch run uses it). */
const tfjs = () => [
  candidate("gpu", "not installed"),
  candidate("native", "not installed"),
  candidate("wasm", undefined),
  candidate("cpu", undefined),
];

const ok = (cudaDevices: string[] = []): PythonProbe => ({
  kind: "ok",
  python: "py",
  executable: "/usr/bin/py",
  pythonVersion: "3.11.2",
  torch: "2.1.0",
  cudaBuild: cudaDevices.length ? "12.1" : null,
  cudaDevices,
  mps: false,
});
const noTorch: PythonProbe = {
  kind: "noTorch",
  python: "py",
  message:
    "/usr/bin/py (Python 3.11.2) has no PyTorch (ModuleNotFoundError: No module named 'torch'). Install PyTorch into it (`/usr/bin/py -m pip install torch`).",
};

const mlp = { name: "s", model: { kind: "mlp" } };
const custom = { name: "xor", model: { kind: "custom", name: "twoLayer" } };

function opts(
  probe: PythonProbe,
  extra: { device?: string; system?: typeof mlp; candidates?: BackendCandidate[] } = {},
) {
  let calls = 0;
  return {
    calls: () => calls,
    o: {
      system: extra.system ?? mlp,
      device: extra.device,
      candidates: extra.candidates ?? tfjs(),
      probe: async () => {
        calls++;
        return probe;
      },
    },
  };
}

describe("auto", () => {
  test("torch on CUDA first, with no reason to record", async () => {
    const chosen = await chooseTrainingBackend("auto", opts(ok(["NVIDIA H100"])).o);
    assert.equal(chosen.kind, "torch");
    assert.ok(chosen.kind === "torch");
    assert.deepEqual(chosen.torch, { python: "/usr/bin/py", device: "cuda" });
    assert.equal(chosen.info.reason, "auto: best available");
    assert.equal(chosen.info.device, "cuda");
    assert.equal(chosen.info.versions?.["torch"], "2.1.0");
  });

  test("without CUDA: tfjs-node-gpu, then torch on the CPU, ahead of tfjs-node and wasm", async () => {
    const chosen = await chooseTrainingBackend("auto", opts(ok()).o);
    assert.ok(chosen.kind === "torch");
    assert.equal(chosen.torch.device, "cpu");
    assert.equal(
      chosen.info.reason,
      "auto: torch on a GPU unavailable (PyTorch 2.1.0 sees no CUDA device); pkg-gpu unavailable (not installed)",
    );
    const withGpu = await chooseTrainingBackend(
      "auto",
      opts(ok(), { candidates: [candidate("gpu", undefined), ...tfjs().slice(1)] }).o,
    );
    assert.equal(withGpu.kind, "tfjs");
    assert.equal(withGpu.info.package, "pkg-gpu");
  });

  test("without PyTorch: the tfjs order, the reason said once and without the advice; the probe runs once", async () => {
    const { o, calls } = opts(noTorch);
    const chosen = await chooseTrainingBackend("auto", o);
    assert.equal(chosen.kind, "tfjs");
    assert.equal(chosen.info.package, "pkg-wasm");
    assert.equal(
      chosen.info.reason,
      "auto: torch unavailable (/usr/bin/py (Python 3.11.2) has no PyTorch (ModuleNotFoundError: No module named 'torch')); pkg-gpu unavailable (not installed); pkg-native unavailable (not installed)",
    );
    assert.equal(calls(), 1);
  });

  test("a custom tfjs model skips torch without asking Python", async () => {
    const { o, calls } = opts(ok(["NVIDIA H100"]), { system: custom });
    const chosen = await chooseTrainingBackend("auto", o);
    assert.equal(chosen.kind, "tfjs");
    assert.match(
      chosen.info.reason,
      /^auto: torch unavailable \(system "xor": its custom model "twoLayer" is tfjs code/,
    );
    assert.equal(calls(), 0);
  });

  test("a device narrows torch to it: cpu skips the GPU slot, cuda skips the CPU one", async () => {
    const cpu = await chooseTrainingBackend("auto", opts(ok(["NVIDIA H100"]), { device: "cpu" }).o);
    assert.ok(cpu.kind === "torch");
    assert.equal(cpu.torch.device, "cpu");
    assert.equal(cpu.info.reason, "auto: pkg-gpu unavailable (not installed)");
    const cuda = await chooseTrainingBackend("auto", opts(ok(), { device: "cuda" }).o);
    assert.equal(cuda.kind, "tfjs", "no CUDA: not torch on the CPU either");
    assert.match(
      cuda.info.reason,
      /^auto: torch unavailable \(--device cuda: PyTorch 2\.1\.0 \(\/usr\/bin\/py\) is a CPU-only build\)/,
    );
  });
});

describe("--backend torch", () => {
  test("defaults to CUDA when PyTorch sees a device, else the CPU", async () => {
    const gpu = await chooseTrainingBackend("torch", opts(ok(["A", "B"])).o);
    assert.ok(gpu.kind === "torch");
    assert.equal(gpu.torch.device, "cuda");
    assert.equal(gpu.info.reason, "requested: torch");
    const cpu = await chooseTrainingBackend("torch", opts(ok()).o);
    assert.ok(cpu.kind === "torch");
    assert.equal(cpu.torch.device, "cpu");
  });

  test("refusals keep their advice", async () => {
    await assert.rejects(
      chooseTrainingBackend("torch", opts(noTorch).o),
      (e: unknown) =>
        e instanceof BackendError &&
        /^backend "torch" is not available: .*has no PyTorch.*Install PyTorch into it/.test(e.message),
    );
    await assert.rejects(
      chooseTrainingBackend("torch", opts(ok(["A"]), { device: "cuda:3" }).o),
      /--device cuda:3: there is no such CUDA device; .* sees 1 \(cuda:0 A\)/,
    );
    await assert.rejects(
      chooseTrainingBackend("torch", opts(ok(), { system: custom }).o),
      /train it with --backend wasm, cpu, native or gpu/,
    );
  });

  test("tfjs requests do not ask Python", async () => {
    const { o, calls } = opts(ok());
    const chosen = await chooseTrainingBackend("wasm", o);
    assert.equal(chosen.kind, "tfjs");
    assert.equal(chosen.info.reason, "requested: wasm");
    assert.equal(calls(), 0);
  });
});

test("devices: auto and empty mean the default; anything but cpu, cuda, cuda:N, mps is a usage error", () => {
  assert.equal(parseDevice(undefined), undefined);
  assert.equal(parseDevice("auto"), undefined);
  assert.equal(parseDevice(""), undefined);
  for (const d of ["cpu", "cuda", "cuda:0", "cuda:12", "mps"]) assert.equal(parseDevice(d), d);
  for (const d of ["gpu", "cuda:", "cuda:x", "CPU"]) assert.throws(() => parseDevice(d), /unknown device/);
});

test("the probe is cached per interpreter for the process", async () => {
  const a = cachedProbe("/definitely/not/a/python");
  assert.equal(cachedProbe("/definitely/not/a/python"), a, "the same promise");
  assert.equal((await a).kind, "noPython");
});
