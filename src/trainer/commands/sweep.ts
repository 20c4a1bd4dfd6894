// `lm sweep` (local or --slurm), `lm sweep-task`, `lm sweep-status` (docs/sweeps.md). `cli` is the
// path of the `lm` script the launchers run for each point.
import { resolve } from "node:path";
import { UsageError } from "../errors";
import { errorText } from "../progress";
import type { SweepPlanRequest } from "../session";
import { createSweepFolder, loadSweep, pointsToRun, reconcile } from "../sweep/folder";
import { runLocalSweep } from "../sweep/local";
import {
  localResumeProblem,
  slurmContext,
  slurmStatusLines,
  submitCommand,
  taskArgsOf,
  withSlurmStatus,
} from "../sweep/slurmCli";
import { type SlurmOptions, slurmOptionsRecord } from "../sweep/slurmScript";
import { formatSweepStatus, sweepStatus } from "../sweep/status";
import { finishSweepTask, prepareSweepTask, type TaskBackend } from "../sweep/task";
import { printer, runJob, userMistake, userMistakeOr } from "./output";
import { trainCommand } from "./train";

/** Where a sweep's points come from: a new sweep of a file's system, or the folder of one to resume. */
export type SweepSource =
  | { kind: "new"; file: string; system?: string; runsRoot?: string; steps?: number }
  | { kind: "resume"; dir: string };

/**
 * Who runs the points. Local: child processes here, at most `parallel` at once (sweep/local.ts).
 * A launcher is one more case here and one module beside local.ts.
 */
export type SweepLauncherChoice = { kind: "local"; parallel: number } | { kind: "slurm"; options: SlurmOptions };

/**
 * `lm sweep`: plans a new sweep (in the worker: the experiment's code runs there) and creates its
 * folder, or takes the folder of one to resume; prints the folder on stdout; runs the points not
 * done. Exit code: 0 every point finished (or diverged), 1 one failed, 130 stopped before the end.
 */
export async function sweepCommand(
  source: SweepSource,
  launcher: SweepLauncherChoice,
  backend: TaskBackend,
  cli: string,
): Promise<number> {
  let dir: string;
  if (source.kind === "new") {
    const request: SweepPlanRequest = { file: source.file };
    if (source.system !== undefined) request.system = source.system;
    if (source.steps !== undefined) request.steps = source.steps;
    const { result, interrupted } = await runJob({ kind: "sweepPlan", request }, printer());
    if (interrupted) return 130;
    if (result.kind === "sweepPlanFailed") {
      process.stderr.write(errorText(result.error));
      return result.exitCode;
    }
    if (result.kind !== "sweepPlan") return 1;
    const created = createSweepFolder({
      runsRoot: source.runsRoot ?? "runs",
      experiment: result.experiment,
      system: result.system,
      plan: result.plan,
      launcher:
        launcher.kind === "slurm"
          ? { kind: "slurm", jobIds: [], options: slurmOptionsRecord(launcher.options) }
          : { kind: "local", parallel: launcher.parallel },
      ...(source.steps === undefined ? {} : { steps: source.steps }),
    });
    dir = created.dir;
  } else {
    dir = resolve(source.dir);
    try {
      if (loadSweep(dir).imp) throw new UsageError(`${dir} is an IMP folder: lm imp --resume ${dir} continues it`, 1);
      const held = launcher.kind === "local" ? localResumeProblem(dir, slurmContext(cli)) : undefined;
      if (held !== undefined) throw new UsageError(held, 1);
    } catch (e) {
      return userMistake(e);
    }
  }
  if (launcher.kind === "slurm") {
    const { options } = launcher;
    return userMistakeOr(() => submitCommand(dir, options, slurmContext(cli, taskArgsOf(backend))));
  }
  process.stdout.write(`${dir}\n`);
  const todo = pointsToRun(dir);
  const total = loadSweep(dir).points.length;
  process.stderr.write(
    `sweep of ${total} point${total === 1 ? "" : "s"} → ${dir}\n${todo.length === total ? "" : `${total - todo.length} already done; `}running ${todo.length}, at most ${launcher.parallel} at once\n`,
  );
  const handle = runLocalSweep(dir, todo, {
    parallel: launcher.parallel,
    cli: cli,
    backend,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      if (signal === "SIGINT")
        process.stderr.write("\nstopping the sweep (Ctrl-C again to end the running points at once)…\n");
      handle.stop();
    } else handle.kill();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let outcome: Awaited<typeof handle.done>;
  try {
    outcome = await handle.done;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const counts = reconcile(dir).points.reduce<Record<string, number>>((c, p) => {
    c[p.status] = (c[p.status] ?? 0) + 1;
    return c;
  }, {});
  process.stderr.write(
    `sweep: ${Object.entries(counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ")}${outcome.stopped ? ` (stopped: lm sweep --resume ${dir} runs the rest)` : ""}\n`,
  );
  if ((counts["failed"] ?? 0) > 0) return 1;
  return outcome.stopped || total !== (counts["finished"] ?? 0) + (counts["diverged"] ?? 0) ? 130 : 0;
}

/** `lm sweep-task SWEEP_DIR INDEX`: trains one point (or finds it done); its status in sweep.json follows. */
export async function sweepTaskCommand(dir: string, index: number, backend: TaskBackend): Promise<number> {
  let task: ReturnType<typeof prepareSweepTask>;
  try {
    task = prepareSweepTask(dir, index, backend);
  } catch (e) {
    return userMistake(e);
  }
  if (task.kind === "done") {
    process.stderr.write(`sweep point ${index} already ${task.status} at step ${task.step}: nothing to do\n`);
    process.stdout.write(`${task.runDir}\n`);
    return 0;
  }
  try {
    return await trainCommand(task.request);
  } finally {
    finishSweepTask(dir, index);
  }
}

/** `lm sweep-status SWEEP_DIR [--json]`. */
export function sweepStatusCommand(dir: string, json: boolean, cli: string): number {
  let status: ReturnType<typeof withSlurmStatus>;
  try {
    // A Slurm sweep's statuses come from squeue and the tasks' logs too (sweep/slurmCli.ts).
    status = withSlurmStatus(sweepStatus(resolve(dir)), slurmContext(cli));
  } catch (e) {
    return userMistake(e);
  }
  process.stdout.write(
    json ? `${JSON.stringify(status, null, 2)}\n` : formatSweepStatus(status) + slurmStatusLines(status),
  );
  return 0;
}
