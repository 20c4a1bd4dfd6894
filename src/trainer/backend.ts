// Chooses the tensor backend: best available first, or exactly the one asked for.
// Native backends (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node) download libtensorflow when
// installed, which fails offline, so they are never dependencies: they are looked up at run time
// next to the experiment, in the workspace, or next to the trainer, and used when present.
// tfjs-core keeps its engine and kernel registry on `globalThis`, so a native package that brings
// its own copy of tfjs-core registers its kernels with the same engine we use.
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core registers no gradients by itself (the @tensorflow/tfjs umbrella package does this).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-cpu";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { BackendInfo } from "../shared/runFormat";
import { UsageError } from "./errors";

export type BackendRequest = "auto" | "torch" | "gpu" | "native" | "wasm" | "cpu";
export const BACKEND_REQUESTS: readonly BackendRequest[] = ["auto", "torch", "gpu", "native", "wasm", "cpu"];

/** One tfjs candidate, as tried in order by `auto` (torch is chosen in trainingBackend.ts). */
export interface BackendCandidate {
  request: Exclude<BackendRequest, "auto" | "torch">;
  /** tfjs backend name it registers. */
  tfName: string;
  package?: string;
  /** Loads and registers the backend; throws with a reason when it cannot. */
  load(): Promise<void>;
  /** What to tell a user who asked for it and does not have it. */
  howToGet: string;
}

export class BackendError extends Error {}

/** A backend name from a flag, a request or a setting; undefined means "auto". Throws UsageError for any other name. */
export function parseBackendRequest(value: string | undefined): BackendRequest {
  if (value === undefined) return "auto";
  const request = BACKEND_REQUESTS.find((r) => r === value);
  if (request === undefined)
    throw new UsageError(`unknown backend "${value}" (expected one of ${BACKEND_REQUESTS.join(", ")})`);
  return request;
}

/** Folders searched for native packages, most specific first. */
export function nativeSearchPaths(experimentFile: string | undefined): string[] {
  const paths: string[] = [];
  if (experimentFile) paths.push(dirname(experimentFile));
  paths.push(process.cwd(), __dirname);
  return paths;
}

function loadNative(pkg: string, searchPaths: string[]): () => Promise<void> {
  return async () => {
    let resolved: string | undefined;
    for (const base of searchPaths) {
      try {
        resolved = createRequire(join(base, "noop.js")).resolve(pkg);
        break;
      } catch {
        // not under this folder
      }
    }
    if (!resolved) throw new BackendError(`${pkg} is not installed`);
    // A plain require (not bundled): the package and its native binding come from the user's install.
    createRequire(resolved)(resolved);
    if (!tf.findBackend("tensorflow"))
      throw new BackendError(`${pkg} loaded but did not register the "tensorflow" backend`);
  };
}

/**
 * Where the wasm binaries are: `dist/wasm` (copied there by the build), found by walking up from
 * this bundle's folder, or else the package's own folder in node_modules.
 */
export function wasmDir(from: string = __dirname): string {
  const binary = "tfjs-backend-wasm-simd.wasm";
  for (let dir = from; ; dir = dirname(dir)) {
    for (const candidate of [
      join(dir, "wasm"),
      join(dir, "dist", "wasm"),
      join(dir, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist"),
    ]) {
      if (existsSync(join(candidate, binary))) return `${candidate}/`;
    }
    if (dirname(dir) === dir)
      throw new BackendError(`cannot find ${binary} above ${from}: rebuild with \`npm run build\``);
  }
}

export function defaultCandidates(experimentFile?: string): BackendCandidate[] {
  const search = nativeSearchPaths(experimentFile);
  return [
    {
      request: "gpu",
      tfName: "tensorflow",
      package: "@tensorflow/tfjs-node-gpu",
      load: loadNative("@tensorflow/tfjs-node-gpu", search),
      howToGet:
        "Install it where the trainer can find it (e.g. `npm install @tensorflow/tfjs-node-gpu@4.22.0` in your workspace). It needs Linux x86_64, an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1, and network access during install (it downloads libtensorflow).",
    },
    {
      request: "native",
      tfName: "tensorflow",
      package: "@tensorflow/tfjs-node",
      load: loadNative("@tensorflow/tfjs-node", search),
      howToGet:
        "Install it where the trainer can find it (e.g. `npm install @tensorflow/tfjs-node@4.22.0` in your workspace). Its install downloads libtensorflow, so it needs network access.",
    },
    {
      request: "wasm",
      tfName: "wasm",
      package: "@tensorflow/tfjs-backend-wasm",
      load: async () => {
        setWasmPaths(wasmDir());
        // Node has no cross-origin isolation checks; one thread keeps runs deterministic.
        setThreadsCount(1);
      },
      howToGet:
        "It ships with Learning Mechanics; if it fails, the wasm binaries are missing from dist/wasm (rebuild with `npm run build`).",
    },
    {
      request: "cpu",
      tfName: "cpu",
      package: "@tensorflow/tfjs-backend-cpu",
      load: async () => {},
      howToGet: "It ships with Learning Mechanics.",
    },
  ];
}

/** Loads and activates one candidate; throws the reason it cannot (without advice). */
export async function activate(c: BackendCandidate): Promise<void> {
  await c.load();
  const ok = await tf.setBackend(c.tfName);
  if (!ok) throw new BackendError(`tfjs could not initialize the "${c.tfName}" backend`);
  await tf.ready();
  // The cpu backend greets its first use in Node with advice to install tfjs-node; the reason for
  // the backend choice is already reported (run.json, the log), so silence the banner.
  const backend = tf.backend() as { firstUse?: boolean };
  if (backend.firstUse !== undefined) backend.firstUse = false;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/**
 * Activates the requested backend, or with "auto" the first candidate that works, and says why.
 * A specific request that cannot be met throws a BackendError saying what to install.
 */
/** What run.json records for an activated tfjs candidate. */
export function infoOf(c: BackendCandidate, reason: string): BackendInfo {
  return {
    name: c.tfName,
    reason,
    ...(c.package ? { package: c.package } : {}),
    versions: { "tfjs-core": tf.version_core },
  };
}

export async function selectBackend(
  request: BackendRequest,
  candidates: BackendCandidate[] = defaultCandidates(),
): Promise<BackendInfo> {
  if (request !== "auto") {
    const c = candidates.find((x) => x.request === request);
    // "torch" is no tfjs candidate: training chooses it (trainingBackend.ts); here it is unknown.
    if (!c) throw new BackendError(`unknown backend "${request}" (expected one of ${BACKEND_REQUESTS.join(", ")})`);
    try {
      await activate(c);
    } catch (e) {
      throw new BackendError(`backend "${request}" is not available: ${errorText(e)}. ${c.howToGet}`);
    }
    return infoOf(c, `requested: ${request}`);
  }
  const skipped: string[] = [];
  for (const c of candidates) {
    try {
      await activate(c);
      return infoOf(c, skipped.length ? `auto: ${skipped.join("; ")}` : "auto: best available");
    } catch (e) {
      skipped.push(`${c.package ?? c.request} unavailable (${errorText(e)})`);
    }
  }
  throw new BackendError(`no backend could be initialized: ${skipped.join("; ")}`);
}
