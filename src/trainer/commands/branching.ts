// `lm lmc` and `lm instability` (docs/branching.md); `lm branch` itself is a run (train.ts).
import { availableParallelism } from "node:os";
import { dirname } from "node:path";
import {
  childLm,
  defaultInstabilityParallel,
  type InstabilityRequest,
  instabilityTable,
  runInstability,
} from "../instability";
import type { LmcRequest } from "../lmc";
import { errorText } from "../progress";
import { lmcSummary } from "../summary";
import type { CommandValues } from "./commandLine";
import { printer, runJob, usageError, userMistake, wholeNumber, wholeNumbers } from "./output";

/** `lm lmc RUN_A RUN_B`: the interpolation in the job worker (it runs run A's experiment code). */
export async function lmcCommand(runA: string, runB: string | undefined, values: CommandValues): Promise<number> {
  if (runB === undefined) return usageError("lmc: missing RUN_B", true);
  const request: LmcRequest = { runA, runB };
  for (const [option, key, min] of [
    ["steps-a", "stepA", 0],
    ["steps-b", "stepB", 0],
    ["points", "points", 2],
  ] as const) {
    const text = values[option];
    if (text === undefined) continue;
    const n = wholeNumber(option, text, min);
    if (typeof n === "string") return usageError(n);
    request[key] = n;
  }
  if (values.out) request.out = values.out;
  if (values.backend) request.backend = values.backend;
  if (values["allow-changed"]) request.allowChanged = true;
  const print = printer();
  const { result } = await runJob({ kind: "lmc", request }, print);
  if (result.kind !== "lmc") return 1;
  if (!result.outcome.ok) {
    process.stderr.write(errorText(result.outcome.error));
    return 1;
  }
  const { path, record } = result.outcome.lmc;
  process.stderr.write(lmcSummary(record));
  process.stdout.write(`${path}\n`);
  return 0;
}

/**
 * `lm instability RUN --at … [--parallel N]`: branches and interpolations as child `lm` processes,
 * at most N at once (default: the cores less one, as for sweeps). The first Ctrl-C (or SIGTERM)
 * starts nothing more and passes one SIGTERM to every running child (each branch stops after its
 * step with a final checkpoint, so running the command again continues it); a second ends them
 * at once.
 */
export async function instabilityCommand(runDir: string, cli: string, values: CommandValues): Promise<number> {
  if (values.at === undefined)
    return usageError("instability: missing --at K1,K2,… (the parent's checkpoints to branch at)");
  const at = wholeNumbers("at", values.at);
  if (typeof at === "string") return usageError(at);
  const seeds = wholeNumbers("data-seeds", values["data-seeds"] ?? "1,2");
  if (typeof seeds === "string") return usageError(seeds);
  if (seeds.length !== 2 || seeds[0] === seeds[1])
    return usageError(`--data-seeds must be two different seeds, got "${values["data-seeds"]}"`);
  const request: InstabilityRequest = {
    runDir,
    at: [...new Set(at)].sort((a, b) => a - b),
    dataSeeds: [seeds[0]!, seeds[1]!],
  };
  if (values.out) request.out = values.out;
  if (values.backend) request.backend = values.backend;
  if (values.points !== undefined) {
    const n = wholeNumber("points", values.points, 2);
    if (typeof n === "string") return usageError(n);
    request.points = n;
  }
  if (values.parallel !== undefined) {
    const n = wholeNumber("parallel", values.parallel, 1);
    if (typeof n === "string") return usageError(n);
    request.parallel = n;
  } else request.parallel = defaultInstabilityParallel(availableParallelism());
  const lm = childLm(cli);
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1 && signal === "SIGINT")
      process.stderr.write("\nstopping the instability analysis (Ctrl-C again to end the running branches at once)…\n");
    stop.abort();
    lm.signalAll("SIGTERM");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const { path, record } = await runInstability(request, lm, (line) => process.stderr.write(`${line}\n`), {
      signal: stop.signal,
    });
    process.stderr.write(instabilityTable(record));
    process.stdout.write(`${dirname(path)}\n`);
    return 0;
  } catch (e) {
    return userMistake(e);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
