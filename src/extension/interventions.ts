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
  type InterventionRecord,
  predictionWords,
} from "../shared/interventionFormat";
import type { InterveneMessage } from "../shared/panels/influence";
import { readRegularTextSync } from "../shared/safeRead";
import { backendArgs } from "./branching";

/** More examples than this in one request is refused: the CLI line and the branch stay readable. */
export const MAX_INTERVENE_EXAMPLES = 1000;
/** intervention.json and calibration files are small; anything larger is not one of ours. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** A request the host accepted: the run it shows, examples it sent, a step it has. */
export interface InterveneRequest {
  runDir: string;
  examples: number[];
  step: number;
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
  return { runDir, examples: [...new Set(m.examples)].sort((a, b) => a - b), step: m.step };
}

/** The checkpoints a branch can start from: those at or before the selected step, newest first. */
export function branchStepChoices(checkpoints: readonly number[], atMost: number): number[] {
  return checkpoints.filter((s) => s <= atMost).sort((a, b) => b - a);
}

/** `lm intervene RUN --step K --remove IDX,… [--backend B]`: the branch goes beside its parent. */
export function interveneArgs(runDir: string, step: number, examples: readonly number[], backend: string): string[] {
  return ["intervene", runDir, "--step", String(step), "--remove", examples.join(","), ...backendArgs(backend)];
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
