// What the linear-mode-connectivity panel shows of a folder, read from disk: a run's lmc/ files
// (`lm lmc`) and its instability analysis (`lm instability`, in `<run>-instability/` beside it),
// or an instability folder opened by itself. Every file is untrusted: read through safeRead
// (regular files only, bounded), validated field by field (src/shared/lmcFormat.ts); what cannot
// be read is a problem naming the file, and the rest is still shown. No `vscode` import.

import { existsSync, lstatSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { isTempFileName } from "./atomicFile";
import {
  defaultInstabilityDir,
  INSTABILITY_FILE,
  LMC_DIR,
  LMC_FILE_BYTES,
  LMC_QUANTITIES,
  type LmcReadRecord,
  MAX_LMC_FILES,
  type Parsed,
  parseInstabilityRecord,
  parseLmcRecord,
} from "./lmcFormat";
import type { InstabilityView, LmcCurve } from "./panels/lmc";
import { readRegularTextSync } from "./safeRead";

export interface LmcFolderView {
  curves: LmcCurve[];
  instability: InstabilityView | null;
  /** What is missing and how to get it (shown as notes, not as errors). */
  notes: string[];
  /** Files that could not be read, each naming the file and why. */
  problems: string[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A file read and parsed, or the problem naming it. */
function readParsed<T>(file: string, parse: (text: string) => Parsed<T>): { value: T } | { problem: string } {
  let text: string;
  try {
    text = readRegularTextSync(file, LMC_FILE_BYTES);
  } catch (e) {
    return { problem: `${file}: ${message(e)}` };
  }
  const parsed = parse(text);
  return parsed.ok ? { value: parsed.value } : { problem: `${file}: ${parsed.problems.slice(0, 5).join("; ")}` };
}

/** Whether `p` is a folder itself, not a link to one (a link could lead anywhere). */
function isRealDir(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function curveOf(
  id: string,
  label: string,
  source: string,
  r: LmcReadRecord,
  colorIndex: number,
  k?: number,
): LmcCurve {
  const values: LmcCurve["values"] = {};
  for (const q of LMC_QUANTITIES)
    if (r.points.some((p) => p[q] !== undefined)) values[q] = r.points.map((p) => p[q] ?? null);
  return {
    id,
    label,
    source,
    ...(k !== undefined ? { k } : {}),
    colorIndex,
    alpha: r.points.map((p) => p.alpha),
    values,
    barrier: r.barrier,
  };
}

/** The lmc/ files of a run, by name. */
function pairCurves(runDir: string, problems: string[]): LmcCurve[] {
  const dir = path.join(runDir, LMC_DIR);
  if (!existsSync(dir)) return [];
  if (!isRealDir(dir)) {
    problems.push(`${dir}: not a folder (a link is not followed)`);
    return [];
  }
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith(".json") && !isTempFileName(n))
      .sort();
  } catch (e) {
    problems.push(`${dir}: ${message(e)}`);
    return [];
  }
  if (names.length > MAX_LMC_FILES) {
    problems.push(`${dir}: ${names.length} files; the first ${MAX_LMC_FILES} by name are shown`);
    names = names.slice(0, MAX_LMC_FILES);
  }
  const curves: LmcCurve[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const r = readParsed(file, parseLmcRecord);
    if ("problem" in r) {
      problems.push(r.problem);
      continue;
    }
    const { a, b } = r.value;
    const label = `${a.runId} @ ${a.step} ↔ ${b.runId} @ ${b.step}`;
    curves.push(curveOf(file, label, `${LMC_DIR}/${name}`, r.value, curves.length));
  }
  return curves;
}

/** A file name an instability.json may point to: a plain name in its own folder. */
function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && path.basename(name) === name && !/[\\/]/.test(name);
}

/** instability.json of `dir` and the lmc file of each k it lists. */
function instabilityOf(
  dir: string,
  shownFrom: string,
  firstColor: number,
  problems: string[],
): { view: InstabilityView; curves: LmcCurve[] } | undefined {
  const file = path.join(dir, INSTABILITY_FILE);
  const r = readParsed(file, parseInstabilityRecord);
  if ("problem" in r) {
    problems.push(r.problem);
    return undefined;
  }
  const rec = r.value;
  const source = path.relative(shownFrom, dir) || ".";
  const curves: LmcCurve[] = [];
  for (const p of [...rec.points].sort((x, y) => x.k - y.k)) {
    if (!isPlainName(p.lmc)) {
      problems.push(`${file}: k = ${p.k}: lmc "${p.lmc}" is not a file name in its folder; not read`);
      continue;
    }
    const lmcFile = path.join(dir, p.lmc);
    const c = readParsed(lmcFile, parseLmcRecord);
    if ("problem" in c) {
      problems.push(c.problem);
      continue;
    }
    const label = `k = ${p.k} (data seeds ${rec.dataSeeds.join(", ")})`;
    curves.push(curveOf(lmcFile, label, path.join(source, p.lmc), c.value, firstColor + curves.length, p.k));
  }
  return {
    view: {
      parentId: rec.parentId,
      source,
      dataSeeds: rec.dataSeeds,
      points: [...rec.points].sort((x, y) => x.k - y.k).map((p) => ({ k: p.k, barrier: p.barrier })),
    },
    curves,
  };
}

/** The folder holding a run's instability analysis, if any: beside it by default, or the folder itself. */
export function instabilityDirFor(dir: string): string | undefined {
  if (existsSync(path.join(dir, INSTABILITY_FILE))) return dir;
  const beside = defaultInstabilityDir(dir);
  return existsSync(path.join(beside, INSTABILITY_FILE)) ? beside : undefined;
}

/** Whether a folder has anything this panel shows (a run with lmc files or an instability analysis). */
export function hasLmcData(dir: string): boolean {
  return instabilityDirFor(dir) !== undefined || existsSync(path.join(dir, LMC_DIR));
}

/** Everything the panel shows of `dir`: a run folder, or an instability folder. */
export function readLmcFolder(dir: string): LmcFolderView {
  const problems: string[] = [];
  const curves = pairCurves(dir, problems);
  const instDir = instabilityDirFor(dir);
  const inst = instDir === undefined ? undefined : instabilityOf(instDir, dir, curves.length, problems);
  if (inst) curves.push(...inst.curves);
  const notes: string[] = [];
  if (curves.length === 0 && !inst && problems.length === 0)
    notes.push(
      `No interpolation yet: run "Learning Mechanics: Linear Mode Connectivity with…" on this run (lm lmc), or lm instability for the barrier against k.`,
    );
  const hasError = curves.some((c) => c.values.train_error !== undefined);
  if (curves.length > 0 && !hasError)
    notes.push("No error (1 − accuracy): the task is not a classification; loss is shown.");
  return { curves, instability: inst?.view ?? null, notes, problems };
}
