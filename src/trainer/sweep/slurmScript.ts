// The batch script of a Slurm sweep, `SWEEP_DIR/slurm/array.sh` (docs/sweeps.md, "Slurm"): one job
// array whose task N runs `lm sweep-task SWEEP_DIR N`. Pure text: no file or process here, so the
// quoting can be tested on its own. Two quoting languages meet in the script: the `#SBATCH` lines
// are read by sbatch's own parser (quotes group, a backslash escapes the next character, an
// unquoted `#` starts a comment), the body by bash.

/** The sbatch options `lm sweep --slurm` passes on, as the user gave them. */
export interface SlurmOptions {
  partition?: string;
  time?: string;
  gpus?: string;
  cpusPerTask?: string;
  mem?: string;
  account?: string;
  /** Extra sbatch arguments, each one argument (`--qos=high`, `--constraint=a100|h100`). */
  sbatchArgs: string[];
  /** At most this many tasks of the array run at once (`--array=…%N`). */
  maxParallel?: number;
}

/** The named options in the order they are written, with their sbatch flag. */
const NAMED: ReadonlyArray<readonly [keyof Omit<SlurmOptions, "sbatchArgs" | "maxParallel">, string]> = [
  ["partition", "--partition"],
  ["time", "--time"],
  ["gpus", "--gpus"],
  ["cpusPerTask", "--cpus-per-task"],
  ["mem", "--mem"],
  ["account", "--account"],
];

/** The options as sweep.json's `launcher.options` records them (strings, by sbatch flag name). */
export function slurmOptionsRecord(o: SlurmOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, flag] of NAMED) {
    const v = o[key];
    if (v !== undefined) out[flag.slice(2)] = v;
  }
  if (o.maxParallel !== undefined) out["max-parallel"] = String(o.maxParallel);
  o.sbatchArgs.forEach((arg, i) => {
    out[`sbatch-arg.${i}`] = arg;
  });
  return out;
}

/** `"0-3,7,9-10"`: sorted distinct indices as sbatch's `--array` ranges. */
export function arrayRanges(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) {
      end += 1;
      i += 1;
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i += 1;
  }
  return parts.join(",");
}

/**
 * The points split into job arrays that Slurm accepts: array indices must be below the site's
 * MaxArraySize, so points [kM, (k+1)M) go in one array with base kM (task N trains point kM + N).
 * One array (base 0) whenever every index is below M, as for most sweeps.
 */
export function arrayChunks(
  indices: readonly number[],
  maxArraySize: number,
): Array<{ base: number; indices: number[] }> {
  const chunks = new Map<number, number[]>();
  for (const i of [...new Set(indices)].sort((a, b) => a - b)) {
    const base = Math.floor(i / maxArraySize) * maxArraySize;
    const chunk = chunks.get(base) ?? [];
    chunk.push(i);
    chunks.set(base, chunk);
  }
  return [...chunks].map(([base, chunk]) => ({ base, indices: chunk }));
}

/** A bash word that is exactly `s`: single quotes, each `'` as `'\''`. */
export function bashQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * One argument on an `#SBATCH` line that sbatch reads back as exactly `s`: double quotes (so
 * spaces and `#` are kept), with `\` and `"` escaped by a backslash. A newline cannot be written
 * on a line at all: `scriptProblem` refuses it first.
 */
export function sbatchQuote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * `--output`'s file name pattern: `%` introduces a replacement (`%A`, `%a`), so a literal `%` in
 * the sweep folder's path is written `%%`. (A backslash anywhere turns all replacements off:
 * refused by `scriptProblem`.)
 */
export function outputPattern(slurmDir: string): string {
  return `${slurmDir.replace(/%/g, "%%")}/%A_%a.out`;
}

export interface ArrayScript {
  /** The sweep folder, absolute. */
  sweepDir: string;
  /** Its `slurm/` folder, absolute (the batch script and the tasks' logs). */
  slurmDir: string;
  /** The folder the tasks start in: the experiment file's, so relative paths in it work as locally. */
  workDir: string;
  /** The points to train (sweep indices). */
  indices: readonly number[];
  /**
   * Array task N trains point `base + N` (default 0). Slurm refuses array indices at or above the
   * site's MaxArraySize, so a larger sweep goes in several arrays, each from its own base.
   */
  base?: number;
  jobName: string;
  options: SlurmOptions;
  /** Absolute paths of the node binary and of the `lm` CLI (dist/trainer/cli.js). */
  node: string;
  cli: string;
  /** More arguments for `lm sweep-task` (the backend chosen with `lm sweep`: `--backend torch`, …). */
  taskArgs?: readonly string[];
}

/**
 * Why this script cannot be written safely, or undefined. Paths reach Slurm and bash through
 * quoting that handles spaces and quotes, but a newline cannot be on an `#SBATCH` line and a
 * backslash in `--output` disables its `%A_%a` replacement.
 */
export function scriptProblem(s: ArrayScript): string | undefined {
  const values: Array<[string, string]> = [
    ["the sweep folder's path", s.sweepDir],
    ["the experiment folder's path", s.workDir],
    ["the job name", s.jobName],
    ...NAMED.flatMap(([key, flag]): Array<[string, string]> => {
      const v = s.options[key];
      return v === undefined ? [] : [[flag, v]];
    }),
    ...s.options.sbatchArgs.map((a): [string, string] => ["--sbatch-arg", a]),
    ...(s.taskArgs ?? []).map((a): [string, string] => ["an argument of sweep-task", a]),
  ];
  for (const [what, v] of values)
    if (/[\n\r\0]/.test(v)) return `${what} holds a line break or NUL: Slurm cannot take it in a batch script`;
  if (s.slurmDir.includes("\\"))
    return `the sweep folder's path holds a backslash, which turns off Slurm's %A_%a in --output: ${s.slurmDir}`;
  if (s.indices.length === 0) return "no point to submit";
  if (s.indices.some((i) => i < (s.base ?? 0))) return "a point below the array's base";
  return undefined;
}

/** The text of array.sh. Call `scriptProblem` first. */
export function arrayScript(s: ArrayScript): string {
  const throttle = s.options.maxParallel === undefined ? "" : `%${s.options.maxParallel}`;
  const base = s.base ?? 0;
  const sbatch = (flag: string, value: string) => `#SBATCH ${flag}=${sbatchQuote(value)}`;
  const lines = [
    "#!/bin/bash",
    `# Written by \`lm sweep --slurm\` (Learning Mechanics): task N of this job array trains point ${base === 0 ? "N" : `${base} + N`}`,
    "# of the sweep into its run folder. Resubmit what is not finished with `lm sweep --resume`.",
    sbatch("--job-name", s.jobName),
    `#SBATCH --array=${arrayRanges(s.indices.map((i) => i - base))}${throttle}`,
    sbatch("--output", outputPattern(s.slurmDir)),
    ...NAMED.flatMap(([key, flag]) => {
      const v = s.options[key];
      return v === undefined ? [] : [sbatch(flag, v)];
    }),
    ...s.options.sbatchArgs.map((a) => `#SBATCH ${sbatchQuote(a)}`),
    "set -eu",
    `cd ${bashQuote(s.workDir)}`,
    [
      "exec",
      bashQuote(s.node),
      bashQuote(s.cli),
      "sweep-task",
      bashQuote(s.sweepDir),
      base === 0 ? '"$SLURM_ARRAY_TASK_ID"' : `"$((${base} + SLURM_ARRAY_TASK_ID))"`,
      ...(s.taskArgs ?? []).map(bashQuote),
    ].join(" "),
    "",
  ];
  return lines.join("\n");
}
