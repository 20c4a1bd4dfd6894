// The message of a Problems entry for a trainer error. Pure (no `vscode`), so node:test covers it.
import type { Location } from "../shared/trainerProtocol";

const MAX_CHARS = 500;

/**
 * The first line of a trainer error, without a leading "<file>:<line>:<column>: " that repeats the
 * entry's own place (Problems shows the file and "[Ln, Col]" beside the message; the trainer puts
 * the place into the text for terminals), cut at 500 characters.
 */
export function problemMessage(message: string, location?: Location): string {
  let line = message.split("\n")[0] ?? message;
  if (location !== undefined) {
    const place = `${location.file}:${location.line}:${location.column}: `;
    if (line.startsWith(place) && line.length > place.length) line = line.slice(place.length);
  }
  return line.length > MAX_CHARS ? `${line.slice(0, MAX_CHARS)}…` : line;
}

/**
 * How a training ended, in a few words: "modAdd: finished at step 8000", or, for a run that ended
 * before its first step (no run folder: a bad config, a missing interpreter), "modAdd: failed before
 * training started" — never "at step 0", which reads as a step that ran.
 */
export function endedText(
  system: string,
  event: { status: string; step: number; message?: string },
  started: boolean,
  separator = ": ",
): string {
  const when = started ? `at step ${event.step}` : "before training started";
  return `${system}: ${event.status} ${when}${event.message ? `${separator}${event.message}` : ""}`;
}
