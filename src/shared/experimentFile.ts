// Which files the trainer can load as experiments. A run folder can come from any program (a
// PyTorch script using the Python logger, a numpy script), and its run.json then names that
// program as its `experiment`: such a file is recorded, never handed to the experiment loader.

import { extname } from "node:path";

/** What esbuild bundles as an experiment: TypeScript and JavaScript. */
export const EXPERIMENT_EXTENSIONS: readonly string[] = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];

/**
 * Why `path` cannot give the model of a run (undefined when it is a TypeScript or JavaScript
 * file), phrased to follow "they need the model, and ".
 */
export function notAnExperimentReason(path: string): string | undefined {
  const ext = extname(path).toLowerCase();
  if (EXPERIMENT_EXTENSIONS.includes(ext)) return undefined;
  const what =
    ext === ".py" || ext === ".ipynb"
      ? ext === ".py"
        ? "a Python script"
        : "a Jupyter notebook"
      : "not a TypeScript or JavaScript experiment";
  return `${path} is ${what}: the model-based analyses need a TypeScript experiment (for a PyTorch model: run.watch in the script, or python -m learning_mechanics analyze RUN --model module:factory)`;
}
