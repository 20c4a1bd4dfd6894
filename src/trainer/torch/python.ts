// Finding the Python interpreter for the torch backend and asking it what PyTorch it has.
// The probe is a separate short `python -c` (not the worker) so that "no Python", "Python without
// torch" and "no CUDA" are each told apart, with a timeout, before anything is written.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";

/** What the probe learned, or why the interpreter cannot run the worker. */
export type PythonProbe =
  | {
      kind: "ok";
      /** The command that was run (a path or a name on PATH). */
      python: string;
      /** sys.executable as Python reports it. */
      executable: string;
      pythonVersion: string;
      torch: string;
      /** CUDA version PyTorch was built for; null for a CPU-only build. */
      cudaBuild: string | null;
      /** Names of the visible CUDA devices (cuda:0, cuda:1, … in order); empty without CUDA. */
      cudaDevices: string[];
      mps: boolean;
    }
  | { kind: "noPython"; python: string; message: string }
  | { kind: "noTorch"; python: string; message: string }
  | { kind: "failed"; python: string; message: string };

export const PROBE_TIMEOUT_MS = 60_000;

const INSTALL_TORCH =
  "Install PyTorch into it (`<python> -m pip install torch`, or see https://pytorch.org/get-started/locally/ for CUDA builds), or choose an interpreter that has it";

/** Printed by the probe: one JSON line. Kept to APIs present in torch 1.13 and 2.x. */
const PROBE_SCRIPT = `
import json, platform, sys
out = {"executable": sys.executable, "python": platform.python_version()}
try:
    import torch
except Exception as e:
    out["error"] = type(e).__name__ + ": " + str(e)
    print(json.dumps(out)); sys.exit(0)
out["torch"] = torch.__version__
out["cudaBuild"] = torch.version.cuda
try:
    out["cudaDevices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
except Exception as e:
    out["cudaDevices"] = []
    out["cudaError"] = str(e)
mps = getattr(torch.backends, "mps", None)
out["mps"] = bool(mps is not None and mps.is_available())
print(json.dumps(out))
`;

/** The interpreter to use: the one named explicitly, else `python3` on PATH. */
export function pythonCommand(explicit?: string): string {
  return explicit !== undefined && explicit.trim() !== "" ? explicit : "python3";
}

interface ProbeOutput {
  executable?: unknown;
  python?: unknown;
  error?: unknown;
  torch?: unknown;
  cudaBuild?: unknown;
  cudaDevices?: unknown;
  mps?: unknown;
}

function str(v: unknown, fallback: string): string {
  return typeof v === "string" ? v : fallback;
}

/** Runs the probe with a timeout; never throws. */
export function probePython(python: string, timeoutMs: number = PROBE_TIMEOUT_MS): Promise<PythonProbe> {
  return new Promise((resolve) => {
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(python, ["-c", PROBE_SCRIPT], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      resolve({
        kind: "noPython",
        python,
        message: noPythonMessage(python, e instanceof Error ? e.message : String(e)),
      });
      return;
    }
    let stdout = "";
    let stderr = "";
    let settled = false;
    const done = (p: PythonProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(p);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      done({
        kind: "failed",
        python,
        message: `${python} did not answer within ${Math.round(timeoutMs / 1000)} s when asked for its PyTorch version (\`${python} -c "import torch"\` hangs or is very slow); check the interpreter, or choose another`,
      });
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e: NodeJS.ErrnoException) => {
      done({
        kind: "noPython",
        python,
        message: noPythonMessage(python, e.code === "ENOENT" ? "not found" : e.message),
      });
    });
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      let parsed: ProbeOutput | undefined;
      try {
        const v: unknown = JSON.parse(line);
        if (typeof v === "object" && v !== null) parsed = v as ProbeOutput;
      } catch {
        parsed = undefined;
      }
      if (!parsed) {
        const why = stderr.trim().split("\n").pop() ?? `exit code ${String(code)}`;
        done({
          kind: "failed",
          python,
          message: `${python} could not run the PyTorch probe: ${why}. Is it a Python 3 interpreter?`,
        });
        return;
      }
      const executable = str(parsed.executable, python);
      const version = str(parsed.python, "?");
      if (typeof parsed.torch !== "string") {
        const why = str(parsed.error, "torch is not importable");
        done({
          kind: "noTorch",
          python,
          message: `${executable} (Python ${version}) has no PyTorch (${why}). ${INSTALL_TORCH.replace("<python>", executable)}.`,
        });
        return;
      }
      done({
        kind: "ok",
        python,
        executable,
        pythonVersion: version,
        torch: parsed.torch,
        cudaBuild: typeof parsed.cudaBuild === "string" ? parsed.cudaBuild : null,
        cudaDevices: Array.isArray(parsed.cudaDevices)
          ? parsed.cudaDevices.filter((d): d is string => typeof d === "string")
          : [],
        mps: parsed.mps === true,
      });
    });
  });
}

function noPythonMessage(python: string, why: string): string {
  return `no Python interpreter: "${python}" could not be started (${why}). Install Python 3 with PyTorch (https://pytorch.org/get-started/locally/), or name the interpreter to use`;
}

/** Why `device` cannot be used with this PyTorch, or undefined when it can. */
export function deviceProblem(probe: Extract<PythonProbe, { kind: "ok" }>, device: string): string | undefined {
  const who = `PyTorch ${probe.torch} (${probe.executable})`;
  if (device === "cpu") return undefined;
  if (device === "cuda" || device.startsWith("cuda:")) {
    const n = probe.cudaDevices.length;
    if (n === 0) {
      const build =
        probe.cudaBuild === null
          ? "is a CPU-only build"
          : `is built for CUDA ${probe.cudaBuild}, but sees no CUDA device (no NVIDIA GPU or driver visible)`;
      return `--device ${device}: ${who} ${build}. Choose --device cpu, or install a CUDA build of PyTorch on a machine with an NVIDIA GPU (https://pytorch.org/get-started/locally/)`;
    }
    if (device === "cuda") return undefined;
    const index = device.slice(5);
    if (!/^\d+$/.test(index) || Number(index) >= n) {
      return `--device ${device}: there is no such CUDA device; ${who} sees ${n} (${probe.cudaDevices.map((name, i) => `cuda:${i} ${name}`).join(", ")})`;
    }
    return undefined;
  }
  if (device === "mps") {
    return probe.mps
      ? undefined
      : `--device mps: ${who} has no usable Apple MPS backend (it needs macOS 12.3+ on Apple silicon). Choose --device cpu`;
  }
  return `unknown device "${device}": expected cpu, cuda, cuda:N or mps`;
}

/**
 * The folder holding the `learning_mechanics` package (put on PYTHONPATH; nothing is installed):
 * `python/` at the repository or extension root, found by walking up from this bundle.
 */
export function workerPackageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "python");
    if (existsSync(join(candidate, "learning_mechanics", "worker.py"))) return candidate;
    if (dirname(dir) === dir)
      throw new Error(
        `cannot find python/learning_mechanics/worker.py above ${from}; the extension is incomplete, reinstall it`,
      );
  }
}
