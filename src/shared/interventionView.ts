// What the intervention panels show, read from disk (docs/interventions.md, "Intervene and
// check"): a branch against its parent (run.json's `branchOf`, both runs' metrics, the branch's
// intervention.json) and a run's newest calibration (calibration/*.json). Every file is untrusted:
// read through safeRead (regular files only, bounded) and checked field by field; what cannot be
// read is a note naming the file, and the rest is still shown. No `vscode` import.

import { readdirSync } from "node:fs";
import * as path from "node:path";
import {
  isArrayOf,
  isNullableNumber,
  isNullableNumberArray,
  isNumber,
  isNumberArray,
  isObject,
  isString,
} from "./guards";
import {
  CALIBRATION_DIR,
  CALIBRATION_FORMAT,
  INTERVENTION_FILE,
  INTERVENTION_FORMAT,
  type InterventionAction,
  type InterventionChange,
  type InterventionSelection,
  interventionChangeProblems,
} from "./interventionFormat";
import type {
  BranchComparison,
  CalibrationPoint,
  CalibrationView,
  CompareCurve,
  CompareCurveKey,
  ComparePrediction,
  CompareSeries,
} from "./panels/compare";
import type { RunRef } from "./panels/common";
import type { MetricsRecord } from "./runFormat";
import { readRegularTextSync } from "./safeRead";

/** intervention.json and calibration files are small; anything larger is not one of ours. */
export const MAX_INTERVENTION_BYTES = 16 * 1024 * 1024;

/** intervention.json as the panel uses it: the trainer writes numbers; a JSON null is a NaN it met. */
export interface InterventionSeries {
  step: number;
  change: InterventionChange;
  query: string;
  steps: number[];
  parentQueryLoss: (number | null)[];
  branchQueryLoss: (number | null)[];
  actual: (number | null)[];
  tracin?: { steps: number[]; change: (number | null)[]; method: string };
  bif?: { steps: number[]; change: (number | null)[]; method: string };
  notes: string[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isPrediction(x: unknown): x is { steps: number[]; change: (number | null)[]; method: string } {
  return (
    isObject(x) &&
    isNumberArray(x["steps"]) &&
    isNullableNumberArray(x["change"], x["steps"].length) &&
    isString(x["method"])
  );
}

function isInterventionChange(x: unknown): x is InterventionChange {
  return (
    isObject(x) &&
    x["kind"] === "intervention" &&
    interventionChangeProblems(x).length === 0 &&
    (x["dataIndices"] === undefined || isNumberArray(x["dataIndices"]))
  );
}

/** Parses intervention.json; a string names the first field that is wrong. */
export function parseInterventionRecord(text: string): InterventionSeries | string {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    return `not JSON (${message(e)})`;
  }
  if (!isObject(x) || x["format"] !== INTERVENTION_FORMAT) return `"format" is not "${INTERVENTION_FORMAT}"`;
  const { step, change, query, steps, parentQueryLoss, branchQueryLoss, actual, tracin, bif, notes } = x;
  if (!isNumber(step)) return `"step" must be a number`;
  if (!isObject(change) || change["kind"] !== "intervention") return `"change" must be an intervention`;
  if (!isInterventionChange(change))
    return (
      interventionChangeProblems(change)[0]?.replace("branchOf.change", "change") ??
      `"change.dataIndices" must be a list of numbers`
    );
  if (!isString(query)) return `"query" must be a string`;
  if (!isNumberArray(steps)) return `"steps" must be a list of numbers`;
  const n = steps.length;
  const perStep = (f: string) => `"${f}" must be ${n} numbers, one per step`;
  if (!isNullableNumberArray(parentQueryLoss, n)) return perStep("parentQueryLoss");
  if (!isNullableNumberArray(branchQueryLoss, n)) return perStep("branchQueryLoss");
  if (!isNullableNumberArray(actual, n)) return perStep("actual");
  if (tracin !== undefined && !isPrediction(tracin)) return `"tracin" must be { steps, change, method }`;
  if (bif !== undefined && !isPrediction(bif)) return `"bif" must be { steps, change, method }`;
  if (!isArrayOf(notes, isString)) return `"notes" must be a list of strings`;
  return {
    step,
    change,
    query,
    steps,
    parentQueryLoss,
    branchQueryLoss,
    actual,
    ...(tracin !== undefined ? { tracin } : {}),
    ...(bif !== undefined ? { bif } : {}),
    notes,
  };
}

/** A branch's intervention.json: parsed, absent (a plain branch, or a report never written), or the problem naming it. */
export function readInterventionSeries(
  branchDir: string,
): { record: InterventionSeries } | { missing: true } | { problem: string } {
  const file = path.join(branchDir, INTERVENTION_FILE);
  let text: string;
  try {
    text = readRegularTextSync(file, MAX_INTERVENTION_BYTES);
  } catch (e) {
    if (isObject(e) && e["code"] === "ENOENT") return { missing: true };
    return { problem: `${file} could not be read: ${message(e)}` };
  }
  const parsed = parseInterventionRecord(text);
  return typeof parsed === "string" ? { problem: `${file}: ${parsed}` } : { record: parsed };
}

/** A change of the query loss with its sign: "+0.0060", "−0.031", "+3.1e-5". */
export function signedText(x: number): string {
  const body = Math.abs(x) >= 1e-3 || x === 0 ? Math.abs(x).toFixed(4) : Math.abs(x).toExponential(2);
  return `${x < 0 ? "−" : "+"}${body}`;
}

function selectionText(s: InterventionSelection): string {
  switch (s.kind) {
    case "topProponents":
    case "topOpponents": {
      const who = s.kind === "topProponents" ? "proponents" : "opponents";
      return `, TracIn's top ${s.count} ${who} ${s.from === s.to ? `at step ${s.from}` : `summed over steps ${s.from}–${s.to}`}`;
    }
    case "random":
      return `, random subset ${s.subset} of a calibration`;
    default:
      return "";
  }
}

/** "removed", "upweighted ×3", "shown only from step 700 on", "shown only before step 700". */
function doneText(action: InterventionAction): string {
  switch (action.kind) {
    case "remove":
      return "removed";
    case "upweight":
      return `upweighted ×${action.weight}`;
    case "moveFrom":
      return `shown only from step ${action.step} on`;
    case "moveBefore":
      return `shown only before step ${action.step}`;
  }
}

/** "10 examples (3, 5, …) removed, TracIn's top 10 proponents at step 200, branched at step 100". */
export function changeText(change: InterventionChange, step: number): string {
  const n = change.examples.length;
  const list = `${change.examples.slice(0, 8).join(", ")}${n > 8 ? ", …" : ""}`;
  return `${n === 1 ? `example ${list}` : `${n} examples (${list})`} ${doneText(change.action)}${selectionText(change.selection)}, branched at step ${step}`;
}

/** Why the change should have the sign TracIn gives it, for this action. */
function whyText(action: InterventionAction): string {
  const scores =
    "TracIn scores an example positive (a proponent) when the steps on it lowered the query loss, negative (an opponent) when they raised it.";
  switch (action.kind) {
    case "remove":
      return `${scores} Removing proponents should raise the query loss (change > 0); removing opponents should lower it (change < 0).`;
    case "upweight":
      return `${scores} Upweighting ×${action.weight} changes each step on these examples by ${action.weight - 1 >= 0 ? "+" : "−"}${Math.abs(action.weight - 1)} times their usual contribution: the prediction is −(w − 1) times a removal's, so with w > 1 upweighting proponents should lower the query loss further, and upweighting opponents raise it.`;
    case "moveFrom":
      return `${scores} Shown only from step ${action.step} on, these examples are missing from the updates up to step ${action.step}: until then the change is a removal's (missing proponents: a rise), and from step ${action.step} on they are trained on again, so the gap may close.`;
    case "moveBefore":
      return `${scores} Shown only before step ${action.step}, the branch trains as the parent did until step ${action.step} (no change there) and without these examples after it: from then on the change is a removal's.`;
  }
}

function lastFinite(xs: readonly (number | null)[]): number | undefined {
  for (let i = xs.length - 1; i >= 0; i--) {
    const v = xs[i];
    if (typeof v === "number" && Number.isFinite(v)) return i;
  }
  return undefined;
}

function valueAt(p: { steps: number[]; change: (number | null)[] }, step: number): number | undefined {
  const i = p.steps.indexOf(step);
  const v = i < 0 ? undefined : p.change[i];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * The verdict with its signs in words: what happened at the last compared step (branch − parent,
 * above zero the query got worse), each prediction's sign against it and its size as a ratio, why
 * the action should move the loss the way TracIn says, and the file's notes.
 */
export function comparisonSentences(r: InterventionSeries): string[] {
  const n = r.change.examples.length;
  const what = `with ${n === 1 ? "this example" : `these ${n} examples`} ${doneText(r.change.action)}`;
  const out: string[] = [];
  const i = lastFinite(r.actual);
  const end = i === undefined ? undefined : r.steps[i];
  const actual = i === undefined ? undefined : r.actual[i];
  const query = r.query === "" ? "the query loss" : `the query loss (${r.query})`;
  if (end === undefined || actual === undefined || actual === null)
    out.push(`No step has a finite change of ${query}: nothing to compare.`);
  else if (actual === 0) out.push(`At step ${end}, ${what}, ${query} is exactly the parent's (change 0).`);
  else
    out.push(
      `At step ${end}, ${what}, ${query} is ${actual > 0 ? "higher" : "lower"} than the parent's: branch − parent = ${signedText(actual)}, so the intervention made the query ${actual > 0 ? "worse" : "better"}.`,
    );
  const predictions = [
    ["TracIn", r.tracin],
    ["The BIF", r.bif],
  ] as const;
  for (const [name, p] of predictions) {
    if (p === undefined) continue;
    const at = end === undefined ? undefined : valueAt(p, end);
    const last = lastFinite(p.change);
    const predicted = at ?? (last === undefined ? undefined : (p.change[last] ?? undefined));
    const predictedAt = at !== undefined ? end : last === undefined ? undefined : p.steps[last];
    if (predicted === undefined || predicted === null) {
      out.push(`${name} gave no finite prediction.`);
      continue;
    }
    const direction = predicted > 0 ? "a rise" : predicted < 0 ? "a fall" : "no change";
    let verdict = "";
    if (actual !== undefined && actual !== null && end !== undefined) {
      if (predicted === 0 || actual === 0) verdict = "";
      else if (Math.sign(predicted) === Math.sign(actual))
        verdict = `: the sign is right, and the size is ${(predicted / actual).toPrecision(2)}× the actual change`;
      else verdict = `: the sign is wrong (the query loss ${actual > 0 ? "rose" : "fell"})`;
    }
    out.push(`${name} predicted ${signedText(predicted)} (${direction}) at step ${predictedAt}${verdict}.`);
  }
  out.push(whyText(r.change.action));
  if (r.bif !== undefined)
    out.push(
      "The BIF predicts the end state of a tempered posterior, not a training interval: compare its sign and rank, not its size.",
    );
  for (const note of r.notes) out.push(`Note: ${note}`);
  return out;
}

/** A metric of one run from `from` on: the steps where it is a number (null where not finite). */
function metricSeries(metrics: readonly MetricsRecord[], key: string, from: number): CompareSeries {
  const steps: number[] = [];
  const values: (number | null)[] = [];
  for (const m of metrics) {
    if (m.step < from) continue;
    const v = m[key];
    if (v === undefined) continue;
    steps.push(m.step);
    values.push(typeof v === "number" && Number.isFinite(v) ? v : null);
  }
  return { steps, values };
}

const METRIC_CURVES: readonly CompareCurveKey[] = ["train_loss", "test_loss", "train_acc", "test_acc"];

export interface ComparedRun {
  ref: RunRef;
  metrics: readonly MetricsRecord[];
}

/** The branch and its parent, from the branch step on, with intervention.json when it has one. */
export function branchComparison(
  parent: ComparedRun,
  branch: ComparedRun,
  branchStep: number,
  record: InterventionSeries | undefined,
  change: InterventionChange | undefined,
): BranchComparison {
  const curves: CompareCurve[] = [];
  if (record !== undefined)
    curves.push({
      key: "query_loss",
      parent: { steps: record.steps, values: record.parentQueryLoss },
      branch: { steps: record.steps, values: record.branchQueryLoss },
    });
  for (const key of METRIC_CURVES) {
    const p = metricSeries(parent.metrics, key, branchStep);
    const b = metricSeries(branch.metrics, key, branchStep);
    if (p.steps.length > 0 || b.steps.length > 0) curves.push({ key, parent: p, branch: b });
  }
  const predictions: ComparePrediction[] = [];
  if (record?.tracin) predictions.push({ name: "TracIn", ...record.tracin });
  if (record?.bif) predictions.push({ name: "BIF", ...record.bif });
  const what = change ?? record?.change;
  return {
    kind: "branch",
    parent: parent.ref,
    branch: branch.ref,
    branchStep,
    change: what === undefined ? "" : changeText(what, branchStep),
    query: record?.query ?? "",
    curves,
    actual: record === undefined ? null : { steps: record.steps, values: record.actual },
    predictions,
    sentences: record === undefined ? [] : comparisonSentences(record),
  };
}

// ---------------------------------------------------------------------------------- calibration

export interface CalibrationSeries {
  step: number;
  fraction: number;
  query: string;
  subsets: CalibrationPoint[];
  lds: { tracin: number | null; bif: number | null };
  createdAt: string;
}

function isPoint(x: unknown): x is CalibrationPoint {
  return (
    isObject(x) &&
    isNumber(x["index"]) &&
    isString(x["run"]) &&
    isNumber(x["size"]) &&
    isNumber(x["actual"]) &&
    isNullableNumber(x["tracin"]) &&
    isNullableNumber(x["bif"])
  );
}

/** Parses calibration/*.json; a string names the first field that is wrong. */
export function parseCalibrationRecord(text: string): CalibrationSeries | string {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    return `not JSON (${message(e)})`;
  }
  if (!isObject(x) || x["format"] !== CALIBRATION_FORMAT) return `"format" is not "${CALIBRATION_FORMAT}"`;
  const { step, fraction, query, subsets, lds, createdAt } = x;
  if (!isNumber(step)) return `"step" must be a number`;
  if (!isNumber(fraction)) return `"fraction" must be a number`;
  if (!isArrayOf(subsets, isPoint))
    return `"subsets" must be a list of { index, run, size, actual, tracin, bif } (numbers; tracin and bif may be null)`;
  if (!isObject(lds) || !isNullableNumber(lds["tracin"]) || !isNullableNumber(lds["bif"] ?? null))
    return `"lds" must be { tracin, bif } (numbers or null)`;
  const bif = lds["bif"];
  return {
    step,
    fraction,
    query: isString(query) ? query : "",
    subsets,
    lds: { tracin: lds["tracin"], bif: isNumber(bif) ? bif : null },
    createdAt: isString(createdAt) ? createdAt : "",
  };
}

/** "25 %", "12.5 %". */
export function percentText(fraction: number): string {
  return `${(fraction * 100).toFixed(3).replace(/\.?0+$/, "")} %`;
}

/**
 * A run's newest calibration (by `createdAt`) as the panel shows it, the other files' names, and a
 * problem for each file that could not be read (named); no view when the run has none readable.
 */
export function readCalibrationView(
  run: RunRef,
  runDir: string,
): { view: CalibrationView | null; notes: string[]; problems: string[] } {
  const dir = path.join(runDir, CALIBRATION_DIR);
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith(".json"))
      .sort();
  } catch {
    names = [];
  }
  if (names.length === 0)
    return {
      view: null,
      notes: [
        `${run.label} has no calibration yet (${CALIBRATION_DIR}/*.json): "Calibrate…" in the Influence panel, or lm calibrate ${runDir} --step K --fraction F --subsets M.`,
      ],
      problems: [],
    };
  const problems: string[] = [];
  const read: { name: string; record: CalibrationSeries }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const parsed = parseCalibrationRecord(readRegularTextSync(file, MAX_INTERVENTION_BYTES));
      if (typeof parsed === "string") problems.push(`${file}: ${parsed}`);
      else read.push({ name, record: parsed });
    } catch (e) {
      problems.push(`${file} could not be read: ${message(e)}`);
    }
  }
  const newest = read.reduce<(typeof read)[number] | undefined>(
    (best, r) => (best === undefined || r.record.createdAt > best.record.createdAt ? r : best),
    undefined,
  );
  if (newest === undefined) return { view: null, notes: [], problems };
  const r = newest.record;
  const n = r.subsets.length;
  return {
    view: {
      kind: "calibration",
      run,
      source: `${CALIBRATION_DIR}/${newest.name}`,
      summary: `${n} subset${n === 1 ? "" : "s"} of ${percentText(r.fraction)} removed at step ${r.step}${r.query === "" ? "" : ` (the query: ${r.query})`}`,
      points: r.subsets,
      lds: r.lds,
      others: read.filter((x) => x !== newest).map((x) => `${CALIBRATION_DIR}/${x.name}`),
    },
    notes: [],
    problems,
  };
}
