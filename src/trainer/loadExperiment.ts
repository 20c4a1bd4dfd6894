// Loads an experiment file: bundles it with esbuild (TypeScript or JavaScript, the user installs
// nothing), points its "learning-mechanics" and "@tensorflow/tfjs-core" imports at the trainer's
// own SDK instance, evaluates it with source maps on, and collects the exported model systems.
// Syntax errors and errors thrown while the file runs come back with file, line and column.
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { stackLocations } from "../sdk/builders";
import * as sdk from "../sdk/index";
import type { ModelSystem } from "../sdk/spec";
import { readRegularFileSync } from "../shared/safeRead";
import type { Location } from "../shared/trainerProtocol";

/** An experiment file is source code: anything larger is not one. */
const EXPERIMENT_FILE_LIMIT = 16 << 20;

const SDK_GLOBAL = "__learningMechanicsSdk__";
const SDK_MODULES = /^(learning-mechanics|@tensorflow\/tfjs-core|@tensorflow\/tfjs)$/;

export interface LoadedSystem {
  /** The export name ("default" becomes the file's base name). */
  name: string;
  system: ModelSystem;
}

export interface LoadedExperiment {
  file: string;
  sha256: string;
  systems: LoadedSystem[];
}

/** A failure to load, with where it happened when that is in the user's code. */
export class ExperimentError extends Error {
  constructor(
    readonly kind: "syntax" | "runtime" | "io",
    message: string,
    readonly location?: Location,
  ) {
    super(message);
  }
}

const sdkPlugin: esbuild.Plugin = {
  name: "learning-mechanics-sdk",
  setup(build) {
    build.onResolve({ filter: SDK_MODULES }, (args) => ({ path: args.path, namespace: "lm-sdk" }));
    build.onLoad({ filter: /.*/, namespace: "lm-sdk" }, (args) => ({
      contents:
        args.path === "learning-mechanics"
          ? `module.exports = globalThis.${SDK_GLOBAL};`
          : `module.exports = globalThis.${SDK_GLOBAL}.tf;`,
      loader: "js",
    }));
  },
};

/** The first stack frame inside `file` (or, failing that, in the user's folder outside node_modules). */
export function locationInStack(stack: string | undefined, file: string): Location | undefined {
  const frames: Location[] = stackLocations(stack);
  return (
    frames.find((fr) => resolve(fr.file) === resolve(file)) ??
    frames.find((fr) => fr.file.startsWith(dirname(file)) && !fr.file.includes("node_modules"))
  );
}

export async function loadExperiment(fileArg: string): Promise<LoadedExperiment> {
  const file = isAbsolute(fileArg) ? fileArg : resolve(fileArg);
  let bytes: Buffer;
  try {
    bytes = readRegularFileSync(file, EXPERIMENT_FILE_LIMIT);
  } catch (e) {
    throw new ExperimentError("io", `cannot read experiment file ${file}: ${(e as Error).message}`);
  }
  const sha256 = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

  const dir = mkdtempSync(join(tmpdir(), "lm-experiment-"));
  const outfile = join(dir, "experiment.cjs");
  try {
    try {
      await esbuild.build({
        entryPoints: [file],
        outfile,
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        sourcemap: "inline",
        sourcesContent: false,
        logLevel: "silent",
        plugins: [sdkPlugin],
      });
    } catch (e) {
      const failure = e as esbuild.BuildFailure;
      const first = failure.errors?.[0];
      if (!first) throw new ExperimentError("syntax", `cannot build ${file}: ${(e as Error).message}`);
      const loc = first.location;
      const location = loc ? { file: resolve(loc.file), line: loc.line, column: loc.column + 1 } : undefined;
      const where = location ? `${location.file}:${location.line}:${location.column}: ` : "";
      throw new ExperimentError("syntax", `${where}${first.text}`, location);
    }

    process.setSourceMapsEnabled(true);
    (globalThis as Record<string, unknown>)[SDK_GLOBAL] = sdk;
    let exports: Record<string, unknown>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      exports = require(outfile) as Record<string, unknown>;
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const location = locationInStack(err.stack, file);
      const where = location ? `${location.file}:${location.line}:${location.column}: ` : `${file}: `;
      throw new ExperimentError("runtime", `${where}${err.name}: ${err.message}`, location);
    } finally {
      delete require.cache[outfile];
    }

    const base = file.replace(/^.*[\\/]/, "").replace(/\.experiment\.[cm]?[jt]s$|\.[cm]?[jt]s$/, "");
    const systems: LoadedSystem[] = [];
    for (const [key, value] of Object.entries(exports)) {
      if (sdk.isModelSystem(value)) systems.push({ name: key === "default" ? base : key, system: value });
    }
    return { file, sha256, systems };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
