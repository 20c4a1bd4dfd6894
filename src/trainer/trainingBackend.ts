// Chooses what trains a run: a tfjs backend (backend.ts) or PyTorch through the worker (torch/).
// `auto` tries, in order: torch on CUDA, tfjs-node-gpu, torch on the CPU, tfjs-node, wasm, cpu.
// Torch comes first where it has a GPU, and on the CPU it is ahead of wasm because it is several
// times faster there (bench/README.md); it is skipped, with the reason recorded, when there is no
// Python, no PyTorch, no such device, or the system has a custom tfjs model.
// The analyzer is not a training run: it keeps to tfjs (backend.ts's `selectBackend`).
import type { BackendInfo } from "../shared/runFormat";
import { UsageError } from "./errors";
import {
  activate,
  BackendError,
  type BackendCandidate,
  type BackendRequest,
  errorText,
  infoOf,
  selectBackend,
} from "./backend";
import { torchUnsupportedReason } from "./torch/exchange";
import { deviceProblem, probePython, type PythonProbe, pythonCommand } from "./torch/python";

/** Where the worker runs: the interpreter (the probe's executable) and the device. */
export interface TorchTarget {
  python: string;
  device: string;
  /** torch.set_num_threads; absent: PyTorch's default (one per core). */
  threads?: number;
}

export type ChosenBackend =
  | { kind: "tfjs"; info: BackendInfo }
  | { kind: "torch"; info: BackendInfo; torch: TorchTarget };

export interface TrainingBackendOptions {
  /** The interpreter to use (setting, Python extension or --python); else python3 on PATH. */
  python?: string | undefined;
  /** cpu, cuda, cuda:N or mps; undefined: CUDA when PyTorch sees a device, else the CPU. */
  device?: string | undefined;
  /** The system's name and its (unvalidated) model, to refuse (or, under auto, skip) a custom model on torch. */
  system: { name: string; model: unknown };
  /** The tfjs candidates, in `auto` order (tests pass their own). */
  candidates: BackendCandidate[];
  /** Why torch cannot train this run whatever is installed (a masked run); under auto it is then skipped. */
  torchRefused?: string | undefined;
  /** The probe (tests pass their own); by default `cachedProbe`. */
  probe?: (python: string) => Promise<PythonProbe>;
}

/** A device from a flag, a request or a setting ("auto" or empty: undefined); UsageError for anything but cpu, cuda, cuda:N, mps. */
export function parseDevice(value: string | undefined): string | undefined {
  if (value === undefined || value === "" || value === "auto") return undefined;
  if (value === "cpu" || value === "cuda" || value === "mps" || /^cuda:\d+$/.test(value)) return value;
  throw new UsageError(`unknown device "${value}" (expected cpu, cuda, cuda:N or mps)`);
}

const probes = new Map<string, Promise<PythonProbe>>();

/**
 * One probe per interpreter per process: `auto` asks on every run, and importing torch costs a
 * second or more, so a process that trains twice (a test, a benchmark) pays it once.
 */
export function cachedProbe(python: string): Promise<PythonProbe> {
  let p = probes.get(python);
  if (!p) {
    p = probePython(python);
    probes.set(python, p);
  }
  return p;
}

type OkProbe = Extract<PythonProbe, { kind: "ok" }>;

function torchInfo(probe: OkProbe, device: string, reason: string, tfjs: BackendInfo): BackendInfo {
  return {
    name: "torch",
    reason,
    package: "torch",
    device,
    python: probe.executable,
    versions: { ...tfjs.versions, torch: probe.torch, python: probe.pythonVersion },
  };
}

/**
 * The torch backend on `device` (or the default device), or why not. The tfjs side still builds
 * the data and the step-0 parameters, on wasm (or cpu when wasm cannot start): the same values
 * every tfjs backend starts from.
 */
async function torchOn(
  opts: TrainingBackendOptions,
  device: string | undefined,
): Promise<{ ok: true; probe: OkProbe; device: string } | { ok: false; why: string }> {
  const refused = opts.torchRefused ?? torchUnsupportedReason(opts.system.name, opts.system.model);
  if (refused) return { ok: false, why: refused };
  const probe = await (opts.probe ?? cachedProbe)(pythonCommand(opts.python));
  if (probe.kind !== "ok") return { ok: false, why: probe.message };
  const chosen = device ?? (probe.cudaDevices.length > 0 ? "cuda" : "cpu");
  const problem = deviceProblem(probe, chosen);
  return problem ? { ok: false, why: problem } : { ok: true, probe, device: chosen };
}

async function tfjsForTorch(candidates: BackendCandidate[]): Promise<BackendInfo> {
  const local = candidates.filter((c) => c.request === "wasm" || c.request === "cpu");
  return selectBackend("auto", local);
}

/** A reason without its advice (run.json's `reason` lists every skipped backend; the advice is for a request that failed). */
function brief(why: string): string {
  return why.split(/\. (?=Install|Choose)/)[0]!;
}

/** Activates what trains the run and says why; a specific request that cannot be met throws a BackendError saying what to do. */
export async function chooseTrainingBackend(
  request: BackendRequest,
  opts: TrainingBackendOptions,
): Promise<ChosenBackend> {
  if (request === "torch") {
    const t = await torchOn(opts, opts.device);
    if (!t.ok) throw new BackendError(`backend "torch" is not available: ${t.why}`);
    const tfjs = await tfjsForTorch(opts.candidates);
    return {
      kind: "torch",
      info: torchInfo(t.probe, t.device, "requested: torch", tfjs),
      torch: { python: t.probe.executable, device: t.device },
    };
  }
  if (request !== "auto") return { kind: "tfjs", info: await selectBackend(request, opts.candidates) };

  // auto: torch on a GPU, tfjs-node-gpu, torch on the CPU, then the remaining tfjs backends.
  const skipped: string[] = [];
  const reasonOf = () => (skipped.length ? `auto: ${skipped.join("; ")}` : "auto: best available");
  const torchGpu = opts.device === "cpu" ? undefined : await torchOn(opts, opts.device);
  if (torchGpu?.ok && torchGpu.device !== "cpu") {
    const tfjs = await tfjsForTorch(opts.candidates);
    return {
      kind: "torch",
      info: torchInfo(torchGpu.probe, torchGpu.device, reasonOf(), tfjs),
      torch: { python: torchGpu.probe.executable, device: torchGpu.device },
    };
  }
  // Why torch cannot run at all is said once; "no GPU" is said apart from it.
  if (torchGpu && !torchGpu.ok) skipped.push(`torch unavailable (${brief(torchGpu.why)})`);
  else if (torchGpu) skipped.push(`torch on a GPU unavailable (PyTorch ${torchGpu.probe.torch} sees no CUDA device)`);
  const order: Array<BackendCandidate | "torch-cpu"> = [];
  const gpu = opts.candidates.find((c) => c.request === "gpu");
  if (gpu) order.push(gpu);
  order.push("torch-cpu");
  order.push(...opts.candidates.filter((c) => c.request !== "gpu"));
  for (const c of order) {
    if (c === "torch-cpu") {
      // A GPU device was asked for (not the CPU), or torch cannot run at all: nothing to try.
      if ((opts.device !== undefined && opts.device !== "cpu") || (torchGpu && !torchGpu.ok)) continue;
      const t = await torchOn(opts, "cpu");
      if (t.ok) {
        const tfjs = await tfjsForTorch(opts.candidates);
        return {
          kind: "torch",
          info: torchInfo(t.probe, "cpu", reasonOf(), tfjs),
          torch: { python: t.probe.executable, device: "cpu" },
        };
      }
      skipped.push(`torch unavailable (${brief(t.why)})`);
      continue;
    }
    try {
      await activate(c);
      return { kind: "tfjs", info: infoOf(c, reasonOf()) };
    } catch (e) {
      skipped.push(`${c.package ?? c.request} unavailable (${errorText(e)})`);
    }
  }
  throw new BackendError(`no backend could be initialized: ${skipped.join("; ")}`);
}
