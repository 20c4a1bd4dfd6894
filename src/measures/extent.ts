// Minimum and maximum of long series by a loop: `Math.min(...values)` passes every value as an
// argument and throws a RangeError past about 10^5 of them (a 300k-point metrics series did).

/** The smallest of `values[from..to)`; NaN if any is NaN; Infinity when empty (as Math.min()). */
export function minOf(values: ArrayLike<number>, from = 0, to = values.length): number {
  let m = Infinity;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) return Number.NaN;
    if (v < m) m = v;
  }
  return m;
}

/** The largest of `values[from..to)`; NaN if any is NaN; -Infinity when empty (as Math.max()). */
export function maxOf(values: ArrayLike<number>, from = 0, to = values.length): number {
  let m = -Infinity;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) return Number.NaN;
    if (v > m) m = v;
  }
  return m;
}
