// Typo suggestions for field, kind and analysis names: "did you mean …?".

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  const row0 = d[0] as number[];
  for (let j = 0; j <= b.length; j++) row0[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** Names accepted nowhere but close to a valid one for a different reason (builder name vs kind). */
const ALIASES: Record<string, string> = { fromFile: "file", fromfile: "file" };

/** The closest candidate to `word`, if close enough to be a likely typo (case-insensitive). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const alias = Object.hasOwn(ALIASES, word) ? ALIASES[word] : undefined;
  if (alias !== undefined && candidates.includes(alias)) return alias;
  const w = word.toLowerCase();
  const limit = w.length <= 3 ? 1 : w.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  if (bestDistance <= limit && bestDistance < w.length) return best;
  // A truncated or extended name: `warmup` for `warmupSteps`, `hiddenSizes` for `hidden`.
  if (w.length >= 4)
    return candidates.find((c) => c.length >= 4 && (c.toLowerCase().startsWith(w) || w.startsWith(c.toLowerCase())));
  return undefined;
}
