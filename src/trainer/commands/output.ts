// What every `lm` command shares: the progress printer, usage errors, number options, and running
// a job in the worker with Ctrl-C wired.
import type { TrainerEvent } from "../../shared/trainerProtocol";
import { UsageError } from "../errors";
import { startJob, type JobHandle } from "../jobHost";
import type { Job, JobResult } from "../jobs";
import { errorText, progressLine } from "../progress";
import { USAGE } from "./commandLine";

export function printer(): (e: TrainerEvent) => void {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  let barShown = false;
  // "failed at step N" only describes a run that started; a mistake caught before is its error line alone.
  let started = false;
  const clearBar = () => {
    if (tty && barShown) process.stderr.write("\r\x1b[K");
    barShown = false;
  };
  return (e) => {
    switch (e.type) {
      case "started":
        started = true;
        process.stderr.write(
          `${e.fromStep > 0 ? "resuming" : "training"} ${e.system} (${e.totalSteps} steps) on ${e.backend.name} → ${e.runDir}\n`,
        );
        break;
      case "progress": {
        const line = progressLine(e.step, e.totalSteps, e.loss ?? Number.NaN, e.stepsPerSecond);
        if (tty) {
          process.stderr.write(`\r\x1b[K${line}`);
          barShown = true;
        } else if (Date.now() - lastPlain > 5000 || e.step === e.totalSteps) {
          process.stderr.write(`${line}\n`);
          lastPlain = Date.now();
        }
        break;
      }
      case "log":
        clearBar();
        process.stderr.write(`${e.level === "info" ? "" : `${e.level}: `}${e.message}\n`);
        break;
      case "error":
        clearBar();
        process.stderr.write(errorText(e));
        break;
      case "finished":
        clearBar();
        if (started || e.status !== "failed")
          process.stderr.write(
            `${e.status} at step ${e.step}${e.message && e.status !== "failed" ? `: ${e.message}` : ""}\n`,
          );
        if (e.runDir) process.stdout.write(`${e.runDir}\n`);
        break;
      default:
        break;
    }
  };
}

export /** A whole number ≥ `min` from an option's text, or a usage message naming the option. */
function wholeNumber(option: string, text: string, min: number): number | string {
  const n = Number(text);
  return /^\s*-?\d+\s*$/.test(text) && Number.isSafeInteger(n) && n >= min
    ? n
    : `--${option} must be an integer ≥ ${min}, got "${text}"`;
}

/** A comma-separated list of whole numbers ≥ 0, or a usage message naming the option. */
export function wholeNumbers(option: string, text: string): number[] | string {
  const items = text.split(",").map((t) => wholeNumber(option, t.trim(), 0));
  const bad = items.find((x) => typeof x === "string");
  return typeof bad === "string" ? bad : (items as number[]);
}

/** A malformed command line: one `error (usage)` line, the usage when it helps; exit code 2. */
export function usageError(message: string, withUsage = false): 2 {
  process.stderr.write(`error (usage): ${message}\n${withUsage ? `${USAGE}\n` : ""}`);
  return 2;
}

/** A user's mistake found by a command's modules (not a sweep folder, an index out of range): its line and exit code. */
export function userMistake(e: unknown): number {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(errorText({ kind: "usage", message: e.message }));
  return e.exitCode;
}

/** Runs a command, its user's mistakes (UsageError) printed as such. */
export function userMistakeOr(command: () => number): number {
  try {
    return command();
  } catch (e) {
    return userMistake(e);
  }
}

/**
 * Runs a job in the worker with signals wired: the first SIGINT or SIGTERM asks for a graceful
 * stop, a second one terminates the worker (`interrupted`: exit code 130).
 */
export async function runJob(
  job: Job,
  emit: (e: TrainerEvent) => void,
  stopNote?: string,
): Promise<{ result: JobResult; interrupted: boolean }> {
  const handle: JobHandle = startJob(job, { emit, output: (_stream, text) => process.stderr.write(text) });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      if (stopNote && signal === "SIGINT") process.stderr.write(`\n${stopNote}\n`);
      handle.stop();
    } else handle.kill();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await handle.done;
    return { result, interrupted: signals > 1 };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
