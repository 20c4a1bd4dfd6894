// Metric keys as a person reads them, for the loss-curves panel's picker: which quantity a key
// measures (its group) and on which data split (train/val/test), and which keys can serve as x.
// Pure (no DOM): the webview and the tests use it alike. Keys come from files: they are only
// compared and returned, never used as object properties (a key may be "__proto__").

import type { PlotChoice } from "./panels/lossCurves";

/** Words that name a data split, as a prefix/suffix (`train_loss`, `loss-val`) or a `/` segment. */
const SPLIT_WORDS = ["train", "training", "val", "valid", "validation", "eval", "test"] as const;

/** A key read as (group, split): `loss/train` → ("loss", "train"); `lr` → ("lr", null). */
export interface KeyInfo {
  key: string;
  /** The quantity: the key without its split (`loss`), or its first `/` namespace (`model` of `model/lr`). */
  group: string;
  /** The split word as written in the key (`train`, `val`, `Valid`), or null. */
  split: string | null;
}

const isSplit = (word: string): boolean => (SPLIT_WORDS as readonly string[]).includes(word.toLowerCase());

/** Reads one key. A key that is only a split word (`train`) or empty keeps itself as its group. */
export function classifyKey(key: string): KeyInfo {
  if (key.includes("/")) {
    const parts = key.split("/");
    const first = parts[0] as string;
    const last = parts[parts.length - 1] as string;
    // `loss/train` (TensorBoard's habit) or `train/loss`: the split is the first or last segment.
    if (parts.length >= 2 && isSplit(last) && parts.slice(0, -1).join("/") !== "")
      return { key, group: parts.slice(0, -1).join("/"), split: last };
    if (parts.length >= 2 && isSplit(first) && parts.slice(1).join("/") !== "")
      return { key, group: parts.slice(1).join("/"), split: first };
    // Any other namespace groups its keys: `grad/layer1`, `grad/layer2` → `grad`.
    return first !== "" ? { key, group: first, split: null } : { key, group: key, split: null };
  }
  const m = /^([A-Za-z]+)[_\-.](.+)$/.exec(key);
  if (m && isSplit(m[1] as string)) return { key, group: m[2] as string, split: m[1] as string };
  const s = /^(.+)[_\-.]([A-Za-z]+)$/.exec(key);
  if (s && isSplit(s[2] as string)) return { key, group: s[1] as string, split: s[2] as string };
  return { key, group: key, split: null };
}

/** One group of the picker: a quantity and its keys, train first, then val/eval, test, unsplit. */
export interface KeyGroup {
  group: string;
  keys: KeyInfo[];
}

function splitRank(split: string | null): number {
  if (split === null) return 4;
  const s = split.toLowerCase();
  if (s === "train" || s === "training") return 0;
  if (s === "test") return 2;
  return 1; // val, valid, validation, eval
}

/** Loss groups first, then accuracy, then the rest alphabetically: the order people look. */
function groupRank(group: string): number {
  if (isLossLike(group)) return 0;
  if (isAccuracyLike(group)) return 1;
  return 2;
}

/** The keys in groups (each key once, in one group), ordered for display. */
export function groupKeys(keys: Iterable<string>): KeyGroup[] {
  const groups = new Map<string, KeyInfo[]>();
  for (const key of new Set(keys)) {
    const info = classifyKey(key);
    const list = groups.get(info.group);
    if (list) list.push(info);
    else groups.set(info.group, [info]);
  }
  const out = [...groups].map(([group, list]) => ({
    group,
    keys: list.sort((a, b) => splitRank(a.split) - splitRank(b.split) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  }));
  return out.sort(
    (a, b) => groupRank(a.group) - groupRank(b.group) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0),
  );
}

/** A loss-like quantity (`loss`, `nll_loss`, `val/Loss`): plotted on the left axis by default. */
export function isLossLike(name: string): boolean {
  return /loss|nll|perplexity|ppl/i.test(classifyKey(name).group);
}

/** An accuracy-like quantity (`acc`, `accuracy`, `top1_acc`): on the right axis by default, 0–1 when in range. */
export function isAccuracyLike(name: string): boolean {
  return /acc/i.test(classifyKey(name).group);
}

export const CLASSIC_METRICS = ["train_loss", "test_loss", "train_acc", "test_acc"] as const;

/**
 * What to draw when the user has chosen nothing: the built-in trainer's four keys as before (loss
 * left, accuracy right) when all four exist; else every loss-like key left and accuracy-like key
 * right; else, with neither, the first key of the first group on the left (so a run of other
 * scalars still shows a curve). `exclude` are keys not worth plotting first (the x candidates).
 */
export function defaultChoices(keys: Iterable<string>, exclude: ReadonlySet<string> = new Set()): PlotChoice[] {
  const all = new Set(keys);
  if (CLASSIC_METRICS.every((k) => all.has(k))) {
    return [
      { key: "train_loss", axis: "left" },
      { key: "test_loss", axis: "left" },
      { key: "train_acc", axis: "right" },
      { key: "test_acc", axis: "right" },
    ];
  }
  const ordered = groupKeys(all).flatMap((g) => g.keys.map((k) => k.key));
  const out: PlotChoice[] = [];
  for (const k of ordered) if (isLossLike(k)) out.push({ key: k, axis: "left" });
  for (const k of ordered) if (!isLossLike(k) && isAccuracyLike(k)) out.push({ key: k, axis: "right" });
  if (out.length > 0) return out;
  const first = ordered.find((k) => !exclude.has(k)) ?? ordered[0];
  return first === undefined ? [] : [{ key: first, axis: "left" }];
}

/**
 * Whether a key can be an x axis, followed value by value as lines arrive. Over the lines where the
 * key has a finite value (absent, null and NaN lines are skipped: gaps do not break monotony),
 * every value is ≥ the one before (non-decreasing: several lines of one epoch are fine), and there
 * are at least two distinct values (a constant or single value spans no range). One tracker per
 * key per run.
 */
export class MonotoneTracker {
  private count = 0;
  private first = Number.NaN;
  private last = Number.NaN;
  private decreasing = false;

  observe(v: number | null | undefined): void {
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    if (this.count === 0) this.first = v;
    else if (v < this.last) this.decreasing = true;
    this.last = v;
    this.count++;
  }

  /** Non-decreasing so far (true while empty: a run without the key does not veto it). */
  get monotone(): boolean {
    return !this.decreasing;
  }

  /** Non-decreasing and spanning a range (first < last). */
  get rising(): boolean {
    return !this.decreasing && this.count >= 2 && this.last > this.first;
  }
}

/** A column's verdict (the tracker over every value). */
export function isMonotoneColumn(values: readonly (number | null | undefined)[]): boolean {
  const t = new MonotoneTracker();
  for (const v of values) t.observe(v);
  return t.rising;
}

/** Built-in x axes, always offered: the line's step and its wall time. */
export const BUILTIN_X = ["step", "time"] as const;

/**
 * The x candidates of several runs: `step` and `time`, then (sorted) every key that is monotone in
 * every run that has it and rises in at least one. `trackers` holds one map per run.
 */
export function xCandidates(trackers: Iterable<ReadonlyMap<string, MonotoneTracker>>): string[] {
  const vetoed = new Set<string>();
  const rising = new Set<string>();
  for (const run of trackers) {
    for (const [key, t] of run) {
      if (!t.monotone) vetoed.add(key);
      else if (t.rising) rising.add(key);
    }
  }
  const keys = [...rising].filter((k) => !vetoed.has(k) && k !== "step" && k !== "time").sort();
  return [...BUILTIN_X, ...keys];
}
