// The errors the trainer and the analyzer throw on purpose, and the `Emit` both write events
// through. A user's mistake (a bad config, a wrong system name, a run folder in use) is one of the
// user errors below and is reported as such, never as an internal error with a stack.
import type { ConfigProblem, Location, TrainerEvent } from "../shared/trainerProtocol";

export type Emit = (event: TrainerEvent) => void;

/** Config problems, all of them, with the location of the `modelSystem(...)` call. */
export class ConfigError extends Error {
  constructor(
    readonly system: string,
    readonly problems: ConfigProblem[],
    readonly location?: Location,
  ) {
    super(`invalid config for "${system}": ${problems.map((p) => `${p.path} ${p.message}`).join("; ")}`);
  }
}

/**
 * A mistake in what the user asked for that is not a config field: a system name the file does
 * not export, a file with several systems and no choice, a run folder that cannot be resumed.
 */
export class UsageError extends Error {}
