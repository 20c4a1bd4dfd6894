// The `lm` command line: its usage text and its options (one parser for every command).
import { parseArgs } from "node:util";
import { VERSION } from "../version";

export const USAGE = `Learning Mechanics ${VERSION}
usage:
  lm train FILE [--system NAME] [--out DIR] [--run-dir DIR] [--backend auto|torch|gpu|native|wasm|cpu] [--steps N]
           [--device cpu|cuda|cuda:N|mps] [--python PATH] [--threads N]   (for torch, and for auto, which may choose it)
    (--mask FILE on train and branch: a mask.safetensors of 0/1 per parameter; masked weights stay zero, docs/lottery-tickets.md)
  lm resume RUN_DIR [--backend B] [--device D] [--python PATH] [--threads N]
  lm branch RUN_DIR --step K [--data-seed S] [--steps N] [--out DIR | --run-dir DIR] [--allow-changed] [--backend B]
    (a new run from checkpoint K of RUN_DIR: weights, optimizer state, schedule position; --data-seed
    changes the minibatch order only; --steps N, the step it ends at, defaults to the parent's total)
  lm lmc RUN_A RUN_B [--steps-a K] [--steps-b K] [--points 11] [--out FILE] [--allow-changed] [--backend B]
    (linear mode connectivity: train/test loss and error at (1−α)θ_A + αθ_B, and the barrier
    heights; default the last checkpoints; written to RUN_A/lmc/, the file's path on stdout)
  lm instability RUN_DIR --at K1,K2,… [--data-seeds S1,S2] [--points 11] [--parallel N] [--out DIR] [--backend B]
    (for each k: two branches at k with data seeds S1, S2 (default 1,2) trained to the end, then lmc
    between them, at most N children at once (default: the cores less one); barrier against k
    printed and written to DIR/instability.json, DIR on stdout)
  lm intervene RUN_DIR --step K (--remove IDX,… | --upweight IDX,… --weight W | --move IDX,… --from S | --move IDX,… --before S)
           [--top-proponents N | --top-opponents N  (with IDX = top) [--at STEP | --over A:B]] [--steps N] [--out DIR | --run-dir DIR]
           [--backend B [--device D] [--python PATH] [--threads N]]
    (a branch at K with those training examples removed, reweighted or moved; then the query loss's
    change, branch − parent, against TracIn's (and the BIF's) prediction, in BRANCH/intervention.json;
    lm intervene BRANCH alone rewrites that report; docs/interventions.md)
  lm calibrate RUN_DIR --step K --fraction F --subsets M [--seed S] [--steps N] [--parallel N | --slurm …] [--backend B]
  lm calibrate CALIBRATION_SWEEP_DIR   (the report again, e.g. after a Slurm calibration ended)
    (M branches at K, each without a random fraction F of the training examples, run as a sweep; the
    linear datamodeling score (Spearman of predicted against actual) in RUN_DIR/calibration/)
  lm imp FILE [--system NAME] --rounds R --fraction F [--scope global|layer] [--rewind K] [--controls reinit,random|none]
         [--out DIR] [--parallel N] [--backend B [--device D] [--python PATH] [--threads N]] [--steps N];  lm imp --resume IMP_DIR [--parallel N] [--backend B]
    (iterative magnitude pruning, lottery tickets: round 0 dense, each round prunes F of the remaining
    weight-matrix entries by final magnitude, rewinds the rest to step K, retrains; with the controls
    per round; an IMP folder the sweep panel reads, its path on stdout; docs/lottery-tickets.md)
  lm imp-task IMP_DIR INDEX [--backend B]                    (trains one run of an IMP folder; what lm imp runs)
  lm list FILE
  lm analyze RUN_DIR [--follow] [--only weights,kernel,fourier,tracin,bif,conservation,icl] [--set ANALYSIS.FIELD=VALUE]… [--file FILE | --run-experiment] [--backend B]
    (the analyses that need the model run the experiment file's code: only with --file FILE, or
    --run-experiment for the file recorded in run.json; without either, only the weight-space one)
  lm sweep FILE [--system NAME] [--out DIR] [--parallel N] [--backend B] [--steps N]
  lm sweep --resume SWEEP_DIR [--parallel N] [--backend B]   (runs the points not finished)
  lm sweep-task SWEEP_DIR INDEX [--backend B]                (trains one point; what a launcher runs)
  lm sweep-status SWEEP_DIR [--json]
  lm sweep FILE … --slurm [--partition P] [--time T] [--gpus G] [--cpus-per-task C] [--mem M] [--account A]
           [--parallel N (the array's throttle)] [--sbatch-arg ARG]…   (one Slurm job array; also with --resume SWEEP_DIR)
  lm sweep-cancel SWEEP_DIR                                  (scancel a Slurm sweep's jobs)
    (a sweep of the system's \`sweep\` field, docs/sweeps.md; --parallel defaults to the cores less one)
  lm --help | lm --version`;

/** Every option of every command (which command takes which: OPTION_COMMANDS below). */
export const OPTIONS = {
  system: { type: "string", short: "s" },
  out: { type: "string", short: "o" },
  "run-dir": { type: "string" },
  backend: { type: "string", short: "b" },
  device: { type: "string" },
  python: { type: "string" },
  threads: { type: "string" },
  steps: { type: "string" },
  follow: { type: "boolean" },
  only: { type: "string" },
  set: { type: "string", multiple: true },
  file: { type: "string" },
  "run-experiment": { type: "boolean" },
  parallel: { type: "string" },
  resume: { type: "boolean" },
  json: { type: "boolean" },
  slurm: { type: "boolean" },
  partition: { type: "string" },
  time: { type: "string" },
  gpus: { type: "string" },
  "cpus-per-task": { type: "string" },
  mem: { type: "string" },
  account: { type: "string" },
  "sbatch-arg": { type: "string", multiple: true },
  step: { type: "string" },
  "data-seed": { type: "string" },
  "allow-changed": { type: "boolean" },
  "steps-a": { type: "string" },
  "steps-b": { type: "string" },
  points: { type: "string" },
  at: { type: "string" },
  "data-seeds": { type: "string" },
  remove: { type: "string" },
  upweight: { type: "string" },
  move: { type: "string" },
  weight: { type: "string" },
  from: { type: "string" },
  before: { type: "string" },
  "top-proponents": { type: "string" },
  "top-opponents": { type: "string" },
  over: { type: "string" },
  fraction: { type: "string" },
  subsets: { type: "string" },
  seed: { type: "string" },
  mask: { type: "string" },
  rounds: { type: "string" },
  scope: { type: "string" },
  rewind: { type: "string" },
  controls: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/** The `lm` command line; throws on an unknown or malformed option. */
export function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

/** The parsed options of a command line. */
export type CommandValues = ReturnType<typeof parseCommandLine>["values"];

export const COMMANDS = [
  "train",
  "resume",
  "branch",
  "lmc",
  "instability",
  "intervene",
  "calibrate",
  "list",
  "analyze",
  "sweep",
  "sweep-task",
  "sweep-status",
  "sweep-cancel",
  "imp",
  "imp-task",
] as const;
export type Command = (typeof COMMANDS)[number];

export function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}

type OptionName = keyof CommandValues;

const TORCH_RUNS: readonly Command[] = [
  "train",
  "resume",
  "branch",
  "intervene",
  "calibrate",
  "sweep",
  "sweep-task",
  "imp",
  "imp-task",
];
const SLURM: readonly Command[] = ["sweep", "calibrate"];

/**
 * Which commands take each option. One table: a new option or command is one edit here, and an
 * option given to a command that would ignore it is refused with the same message for all.
 * (Which options go together within a command, e.g. --weight with --upweight, the command checks.)
 */
const OPTION_COMMANDS: { readonly [K in OptionName]-?: readonly Command[] | "all" } = {
  system: ["train", "sweep", "imp"],
  out: ["train", "branch", "lmc", "instability", "intervene", "calibrate", "sweep", "imp"],
  "run-dir": ["train", "branch", "intervene"],
  backend: [
    "train",
    "resume",
    "branch",
    "lmc",
    "instability",
    "intervene",
    "calibrate",
    "analyze",
    "sweep",
    "sweep-task",
    "imp",
    "imp-task",
  ],
  device: TORCH_RUNS,
  python: TORCH_RUNS,
  threads: TORCH_RUNS,
  steps: ["train", "branch", "intervene", "calibrate", "sweep", "imp"],
  follow: ["analyze"],
  only: ["analyze"],
  set: ["analyze"],
  file: ["analyze"],
  "run-experiment": ["analyze"],
  parallel: ["sweep", "instability", "calibrate", "imp"],
  resume: ["sweep", "imp"],
  json: ["sweep-status"],
  slurm: SLURM,
  partition: SLURM,
  time: SLURM,
  gpus: SLURM,
  "cpus-per-task": SLURM,
  mem: SLURM,
  account: SLURM,
  "sbatch-arg": SLURM,
  step: ["branch", "intervene", "calibrate"],
  "data-seed": ["branch"],
  "allow-changed": ["branch", "lmc", "intervene"],
  "steps-a": ["lmc"],
  "steps-b": ["lmc"],
  points: ["lmc", "instability"],
  at: ["instability", "intervene"],
  "data-seeds": ["instability"],
  remove: ["intervene"],
  upweight: ["intervene"],
  move: ["intervene"],
  weight: ["intervene"],
  from: ["intervene"],
  before: ["intervene"],
  "top-proponents": ["intervene"],
  "top-opponents": ["intervene"],
  over: ["intervene"],
  fraction: ["imp", "calibrate"],
  subsets: ["calibrate"],
  seed: ["calibrate"],
  mask: ["train", "branch"],
  rounds: ["imp"],
  scope: ["imp"],
  rewind: ["imp"],
  controls: ["imp"],
  help: "all",
  version: "all",
};

/** "a", "a and b", "a, b and c". */
function listed(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** The first option given that `command` does not take, said as a usage error; undefined if none. */
export function misplacedOption(command: Command, values: CommandValues): string | undefined {
  for (const [name, takers] of Object.entries(OPTION_COMMANDS) as [OptionName, readonly Command[] | "all"][]) {
    if (values[name] === undefined || takers === "all" || takers.includes(command)) continue;
    return `--${name} applies to ${listed(takers)}, not ${command}`;
  }
  return undefined;
}

/** What a command's first positional argument is, to say it is missing. */
export function targetName(command: Command, resume: boolean): string {
  if (command === "lmc") return "RUN_A";
  if (["resume", "analyze", "branch", "instability", "intervene", "calibrate"].includes(command)) return "RUN_DIR";
  if (command === "imp-task" || (command === "imp" && resume)) return "IMP_DIR";
  if (command.startsWith("sweep-") || resume) return "SWEEP_DIR";
  return "FILE";
}
