// Rows picked by hand for "Remove and retrain…", free of the DOM so unit tests check it: a set of
// example indices (not drawn positions, so a re-sort or regroup keeps what was picked), toggled by
// Ctrl/Cmd-click or Space, extended by Shift-click over the drawn rows between the anchor and the
// clicked row, and the label group of "all training examples labelled L".

/** The picks with `example` added, or removed if it was picked. */
export function togglePick(picked: ReadonlySet<number>, example: number): Set<number> {
  const next = new Set(picked);
  if (next.has(example)) next.delete(example);
  else next.add(example);
  return next;
}

/**
 * The picks plus every drawn row from the anchor's to the clicked one, inclusive, in either
 * direction (`drawn` = example indices in drawn order). With no anchor, or one no longer drawn,
 * only the clicked row is added.
 */
export function pickRange(
  picked: ReadonlySet<number>,
  drawn: readonly number[],
  anchor: number | undefined,
  example: number,
): Set<number> {
  const next = new Set(picked);
  const to = drawn.indexOf(example);
  if (to < 0) return next;
  const from = anchor === undefined ? -1 : drawn.indexOf(anchor);
  if (from < 0) {
    next.add(example);
    return next;
  }
  for (let k = Math.min(from, to); k <= Math.max(from, to); k++) next.add(drawn[k]!);
  return next;
}

/** The picks that are still examples of the run shown (a refreshed run may score other examples). */
export function keepShown(picked: ReadonlySet<number>, examples: readonly { index: number }[]): Set<number> {
  const shown = new Set(examples.map((e) => e.index));
  return new Set([...picked].filter((e) => shown.has(e)));
}

/** The indices of the examples labelled `label`, ascending: "all training examples labelled L". */
export function labelGroup(examples: readonly { index: number; label: string }[], label: string): number[] {
  return examples
    .filter((e) => e.label === label)
    .map((e) => e.index)
    .sort((a, b) => a - b);
}
