// Text for the CLI's progress bar.

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

/** One progress line, e.g. `[########............] 40% 400/1000 loss 0.1234 · 120 steps/s · eta 5s`. */
export function progressLine(step: number, total: number, loss: number, rate: number, width = 20): string {
  const frac = total > 0 ? Math.min(1, step / total) : 0;
  const filled = Math.round(frac * width);
  const bar = "#".repeat(filled) + ".".repeat(width - filled);
  const eta = rate > 0 ? formatDuration((total - step) / rate) : "?";
  return `[${bar}] ${String(Math.floor(frac * 100)).padStart(3)}% ${step}/${total} loss ${loss.toPrecision(4)} · ${rate.toFixed(rate < 10 ? 1 : 0)} steps/s · eta ${eta}`;
}

/**
 * How the CLI prints an `error` event: one line `error (KIND): message` for the user's mistakes
 * (a config error's problems under it, one per line); an internal error says it is a bug of
 * this program, with its trace, so it is never mistaken for the user's.
 */
export function errorText(e: {
  kind: string;
  message: string;
  problems?: ReadonlyArray<{ path: string; message: string }> | undefined;
}): string {
  if (e.kind === "internal")
    return `internal error (a bug in Learning Mechanics, not in your experiment; please report it with this trace):\n${e.message}\n`;
  const problems = (e.problems ?? []).map((p) => `  ${p.path}: ${p.message}\n`);
  return `error (${e.kind}): ${e.message}\n${problems.join("")}`;
}
