// "Remove and retrain…" from the Influence panel (docs/interventions.md, "In VS Code"), free of
// `vscode`: checking what the page asks for against what the host showed it (never trusting the
// page), the `lm intervene` command line, the branch steps offered, and reading back what the CLI
// wrote (intervention.json in words, the newest calibration/*.json as one line for the panel).
import { readdirSync } from "node:fs";
import * as path from "node:path";
import {
  CALIBRATION_DIR,
  type CalibrationRecord,
  INTERVENTION_FILE,
  type InterventionAction,
  type InterventionRecord,
  predictionWords,
} from "../shared/interventionFormat";
import { type InterveneMessage, MAX_INTERVENE_EXAMPLES } from "../shared/panels/influence";
import { readRegularTextSync } from "../shared/safeRead";
import { backendArgs } from "./branching";

// More examples than this in one request is refused (the page says so before posting).
export { MAX_INTERVENE_EXAMPLES } from "../shared/panels/influence";
/** intervention.json and calibration files are small; anything larger is not one of ours. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** A request the host accepted: the run it shows, examples it sent, a step it has. */
export interface InterveneRequest {
  runDir: string;
  examples: number[];
  step: number;
  /**
   * The examples are TracIn's top `count` at `step` (the page's proposal; the host asks k);
   * `scoredSteps` are the TracIn steps the panel showed (for an interval), `scored` how many
   * examples it scored (the largest k).
   */
  top?: { which: "proponents" | "opponents"; count: number };
  scoredSteps?: number[];
  scored?: number;
}

/**
 * Checks a page's request against the run the panel shows (`runDir`, its example indices and the
 * influence steps it sent): the examples, sorted and without repeats; or what is wrong, in words.
 */
export function checkInterveneRequest(
  m: InterveneMessage,
  runDir: string,
  exampleIndices: ReadonlySet<number>,
  steps: readonly number[],
): InterveneRequest | string {
  if (m.runId !== runDir) return `the panel does not show ${m.runId}`;
  if (m.examples.length === 0) return "no example chosen";
  if (m.examples.length > MAX_INTERVENE_EXAMPLES)
    return `${m.examples.length} examples: at most ${MAX_INTERVENE_EXAMPLES} at once`;
  const bad = m.examples.find((e) => !Number.isInteger(e) || !exampleIndices.has(e));
  if (bad !== undefined) return `example ${bad} is not one of the run's scored examples`;
  if (!steps.includes(m.step)) return `step ${m.step} is not a checkpoint the panel shows`;
  if (m.top !== undefined && m.top.count > MAX_INTERVENE_EXAMPLES)
    return `the top ${m.top.count}: at most ${MAX_INTERVENE_EXAMPLES} at once`;
  return {
    runDir,
    examples: [...new Set(m.examples)].sort((a, b) => a - b),
    step: m.step,
    ...(m.top !== undefined
      ? { top: { which: m.top.which, count: m.top.count }, scoredSteps: [...steps], scored: exampleIndices.size }
      : {}),
  };
}

/** The checkpoints a branch can start from: those at or before the selected step, newest first. */
export function branchStepChoices(checkpoints: readonly number[], atMost: number): number[] {
  return checkpoints.filter((s) => s <= atMost).sort((a, b) => b - a);
}

/**
 * TracIn's top k the page chose, as the CLI selects them (`--top-proponents N --at S | --over A:B`):
 * passed on, so the branch records the selection, not a bare list.
 */
export interface TopSelection {
  which: "proponents" | "opponents";
  count: number;
  from: number;
  to: number;
}

/** What the branch does to the examples and how they were chosen (default: remove, the listed examples). */
export interface InterveneOptions {
  action?: InterventionAction;
  top?: TopSelection;
}

/**
 * `lm intervene RUN --step K (--remove | --upweight … --weight W | --move … --from S | --before S)
 * (IDX,… | top --top-proponents N (--at S | --over A:B)) [--backend B]`: the branch goes beside its parent.
 */
export function interveneArgs(
  runDir: string,
  step: number,
  examples: readonly number[],
  backend: string,
  options: InterveneOptions = {},
): string[] {
  const action = options.action ?? { kind: "remove" };
  const list = options.top ? "top" : examples.join(",");
  const actionArgs =
    action.kind === "remove"
      ? ["--remove", list]
      : action.kind === "upweight"
        ? ["--upweight", list, "--weight", String(action.weight)]
        : ["--move", list, action.kind === "moveFrom" ? "--from" : "--before", String(action.step)];
  const top = options.top;
  const topArgs =
    top === undefined
      ? []
      : [
          `--top-${top.which}`,
          String(top.count),
          ...(top.from === top.to ? ["--at", String(top.from)] : ["--over", `${top.from}:${top.to}`]),
        ];
  return ["intervene", runDir, "--step", String(step), ...actionArgs, ...topArgs, ...backendArgs(backend)];
}

/** The weight of "Upweight ×w…": a number ≥ 0 other than 1 (×1 changes nothing), or what is wrong. */
export function parseWeight(text: string): number | string {
  const t = text.trim();
  const w = Number(t);
  if (t === "" || !Number.isFinite(w) || w < 0) return `The weight must be a number ≥ 0 (e.g. 3), not "${t}".`;
  if (w === 1) return "A weight of 1 changes nothing: give another (0 removes, 3 counts each example three times).";
  return w;
}

/**
 * The step s of "Show only from step s on / only before step s": a whole number strictly between the
 * branch step and the run's last checkpoint (elsewhere the move is no change, or a removal).
 */
export function parseMoveStep(text: string, branchStep: number, end: number): number | string {
  const t = text.trim();
  const s = Number(t);
  if (t === "" || !Number.isInteger(s)) return `The step must be a whole number, not "${t}".`;
  if (s <= branchStep || s >= end)
    return `The step must lie strictly between the branch step ${branchStep} and the run's end ${end} (elsewhere the move is no change, or a removal).`;
  return s;
}

/** The k of "top k": a whole number from 1 to the number of examples TracIn scored, or what is wrong. */
export function parseTopCount(text: string, scored: number): number | string {
  const t = text.trim();
  const k = Number(t);
  if (t === "" || !Number.isInteger(k) || k < 1 || k > scored)
    return `k must be a whole number from 1 to ${scored} (the examples TracIn scored), not "${t}".`;
  return k;
}

/** "A:B" (TracIn checkpoints, A ≤ B) of "summed over an interval", each a step the panel shows. */
export function parseStepInterval(text: string, steps: readonly number[]): { from: number; to: number } | string {
  const m = /^\s*(\d+)\s*[:–-]\s*(\d+)\s*$/.exec(text);
  if (!m)
    return `Write the interval as A:B (two TracIn steps, e.g. ${steps[0] ?? 0}:${steps.at(-1) ?? 0}), not "${text.trim()}".`;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from > to) return `The interval's start ${from} is after its end ${to}.`;
  const missing = [from, to].find((s) => !steps.includes(s));
  if (missing !== undefined)
    return `Step ${missing} has no TracIn scores; the scored steps: ${steps.slice(0, 12).join(", ")}${steps.length > 12 ? ", …" : ""}.`;
  return { from, to };
}

/** More subsets than this is refused by the panel (each is a branch trained to the end). */
export const MAX_CALIBRATION_SUBSETS = 1000;

/** The fraction of "Calibrate…": a number in (0, 1), or a percentage ("25 %"), or what is wrong. */
export function parseFraction(text: string): number | string {
  const t = text.trim();
  const percent = t.endsWith("%");
  const f = Number(percent ? t.slice(0, -1).trim() : t) / (percent ? 100 : 1);
  if (t === "" || !Number.isFinite(f) || f <= 0 || f >= 1)
    return `The fraction must be a number between 0 and 1 (or a percentage such as 25 %), not "${t}".`;
  return f;
}

/** The number of subsets of "Calibrate…": a whole number from 3 (a rank correlation of fewer says nothing). */
export function parseSubsets(text: string): number | string {
  const t = text.trim();
  const n = Number(t);
  if (t === "" || !Number.isInteger(n)) return `The number of subsets must be a whole number, not "${t}".`;
  if (n < 3) return "At least 3 subsets: a rank correlation of fewer says nothing.";
  if (n > MAX_CALIBRATION_SUBSETS) return `At most ${MAX_CALIBRATION_SUBSETS} subsets (each trains a branch).`;
  return n;
}

/**
 * `lm calibrate RUN --step K --fraction F --subsets M [--backend B] [--slurm …]`: the sweep goes beside
 * the run. With `--slurm` the CLI submits an sbatch array and returns (the learningMechanics.slurm.*
 * settings' options, else sbatch's defaults or SBATCH_*); the score comes later.
 */
export function calibrateArgs(
  runDir: string,
  step: number,
  fraction: number,
  subsets: number,
  backend: string,
  /** `--slurm` and sbatch's options (slurmChoice.ts), or none: the branches train here. */
  slurm: readonly string[] = [],
): string[] {
  return [
    "calibrate",
    runDir,
    "--step",
    String(step),
    "--fraction",
    String(fraction),
    "--subsets",
    String(subsets),
    ...backendArgs(backend),
    ...slurm,
  ];
}

/** What to say once a calibration is submitted to Slurm: where it is, and how to score it when it ends. */
export function slurmCalibrationWords(id: string, subsets: number, sweepDir: string): string {
  return `${id}: ${subsets} calibration branches submitted to Slurm as the sweep ${sweepDir}. When the array has ended, score it with "lm calibrate ${sweepDir}", then Open Calibration Panel….`;
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Enough of intervention.json for its words (the trainer wrote it; a hand-edited file may not be). */
function isInterventionRecord(x: unknown): x is InterventionRecord {
  return (
    isObj(x) &&
    x["format"] === "learning-mechanics/intervention" &&
    isObj(x["change"]) &&
    Array.isArray(x["change"]["examples"]) &&
    isObj(x["change"]["action"]) &&
    typeof x["change"]["action"]["kind"] === "string" &&
    Array.isArray(x["actual"]) &&
    Array.isArray(x["steps"]) &&
    Array.isArray(x["notes"])
  );
}

function isCalibrationRecord(x: unknown): x is CalibrationRecord {
  return (
    isObj(x) &&
    x["format"] === "learning-mechanics/calibration" &&
    typeof x["step"] === "number" &&
    typeof x["fraction"] === "number" &&
    Array.isArray(x["subsets"]) &&
    isObj(x["lds"])
  );
}

/** The branch's intervention.json in the CLI's words; a message naming the file when it cannot be read. */
export function interventionWords(branchDir: string): { ok: true; lines: string[] } | { ok: false; message: string } {
  const file = path.join(branchDir, INTERVENTION_FILE);
  try {
    const record: unknown = JSON.parse(readRegularTextSync(file, MAX_RECORD_BYTES));
    if (!isInterventionRecord(record)) return { ok: false, message: `${file} is not an intervention record` };
    return { ok: true, lines: predictionWords(record) };
  } catch (e) {
    return { ok: false, message: `${file} could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(3).replace(/\.?0+$/, "")} %`;
}

/**
 * The newest calibration of a run as one line: "TracIn LDS 0.92 (20 subsets of 25 % at step 500)";
 * a short note when the newest file is not a calibration; undefined when the run has none.
 */
export function calibrationLine(runDir: string): string | undefined {
  const dir = path.join(runDir, CALIBRATION_DIR);
  let newest: { file: string; record: unknown; at: string } | undefined;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return undefined;
  }
  if (names.length === 0) return undefined;
  const unreadable: string[] = [];
  for (const name of names) {
    try {
      const record: unknown = JSON.parse(readRegularTextSync(path.join(dir, name), MAX_RECORD_BYTES));
      const at = isObj(record) && typeof record["createdAt"] === "string" ? record["createdAt"] : "";
      if (!newest || at > newest.at) newest = { file: name, record, at };
    } catch {
      unreadable.push(name);
    }
  }
  if (!newest) return `calibration/${unreadable[0]} could not be read`;
  const rec = newest.record;
  if (!isCalibrationRecord(rec)) return `calibration/${newest.file} is not a calibration record`;
  const f = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(2) : "n/a");
  const bif = rec.lds.bif === null || rec.lds.bif === undefined ? "" : `, BIF LDS ${f(rec.lds.bif)}`;
  const n = rec.subsets.length;
  return `TracIn LDS ${f(rec.lds.tracin)}${bif} (${n} subset${n === 1 ? "" : "s"} of ${percent(rec.fraction)} at step ${rec.step})`;
}
