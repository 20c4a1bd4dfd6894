// Tick labels for the panels' axes: number formatting and 1-2-5 labels on log axes. No DOM, so
// plain `node --test` covers it.

export function formatNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** On a log axis, labels only at 1, 2 and 5 × 10^k (the other ticks stay as grid lines): they never collide. */
export function logTick(v: number, log: boolean): boolean {
  if (!log || v <= 0) return true;
  const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return Math.abs(m - 1) < 1e-6 || Math.abs(m - 2) < 1e-6 || Math.abs(m - 5) < 1e-6;
}

/**
 * A tick callback: on a log axis the 1-2-5 labels, except when fewer than two of them fall in the
 * range (data within one decade, e.g. a loss between 2.4 and 2.9): then about six evenly spaced
 * ticks are labelled, so the axis is never left without numbers.
 */
export function tickLabel(
  log: boolean,
  format: (v: number) => string = formatNumber,
): (v: number | string, index: number, ticks: readonly { value: number }[]) => string {
  return (v, index, ticks) => {
    const x = Number(v);
    if (!log) return format(x);
    const labelled = ticks.filter((t) => logTick(t.value, true)).length;
    if (labelled >= 2) return logTick(x, true) ? format(x) : "";
    const every = Math.max(1, Math.ceil(ticks.length / 6));
    return index % every === 0 || index === ticks.length - 1 ? format(x) : "";
  };
}
