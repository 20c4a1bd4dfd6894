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
 * `exitCode` is the CLI's: 2 when the command line itself is incomplete or malformed (no
 * `--system` among several, an unknown backend name), 1 when it names something that is not
 * there or not usable (a system the file does not export, a run folder that cannot be resumed).
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 2,
  ) {
    super(message);
  }
}

/**
 * A system whose config is valid but that cannot be built or trained as written: its data (a
 * file with a bad cell, a generator whose labels exceed the class count) or its custom model's
 * contract (a forward of the wrong shape). Found only once the trainer builds the system, it is
 * still the user's to fix: reported as a config problem on `path` (e.g. "task", "model.forward"),
 * never as an internal error with a stack.
 */
export class SystemError extends Error {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}
