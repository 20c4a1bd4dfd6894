// `lm imp` and `lm imp-task` (iterative magnitude pruning, docs/lottery-tickets.md): the options
// checked (the system's steps and checkpoints through a `list` job: the experiment's code runs in
// the worker), the IMP folder created or taken to resume, its rounds run as child `lm imp-task`
// processes (imp.ts).
import type { ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { SweepImp } from "../../shared/sweepFormat";
import { childImpTask, createImpFolder, finishImpTask, impTable, loadImp, prepareImpTask, runImp } from "../imp";
import { errorText } from "../progress";
import { defaultParallel } from "../sweep/local";
import type { TaskBackend } from "../sweep/task";
import type { CommandValues } from "./commandLine";
import { runJob, usageError, userMistake, wholeNumber } from "./output";
import { trainCommand } from "./train";

const CONTROLS = ["reinit", "random"] as const;

/** The pruning settings from the command line, or a usage message. */
function settingsOf(values: CommandValues): SweepImp | string {
  if (values.rounds === undefined) return "imp: missing --rounds R (the pruning rounds after the dense one, ≥ 1)";
  const rounds = wholeNumber("rounds", values.rounds, 1);
  if (typeof rounds === "string") return rounds;
  if (values.fraction === undefined)
    return "imp: missing --fraction F (the share of the remaining weights pruned per round, in (0, 1))";
  const fraction = Number(values.fraction);
  if (!(values.fraction.trim() !== "" && Number.isFinite(fraction) && fraction > 0 && fraction < 1))
    return `--fraction must be a number in (0, 1) (the share of the remaining weights pruned per round), got "${values.fraction}"`;
  const scope = values.scope ?? "global";
  if (scope !== "global" && scope !== "layer") return `--scope must be global or layer, got "${scope}"`;
  const rewind = wholeNumber("rewind", values.rewind ?? "0", 0);
  if (typeof rewind === "string") return rewind;
  const listed = (values.controls ?? CONTROLS.join(",")).split(",").map((c) => c.trim());
  const controls = listed.length === 1 && listed[0] === "none" ? [] : listed;
  const bad = controls.find((c) => !(CONTROLS as readonly string[]).includes(c));
  if (bad !== undefined)
    return `--controls: unknown control "${bad}" (expected reinit, random, both comma-separated, or none)`;
  return { rounds, fraction, scope, rewind, controls: CONTROLS.filter((c) => controls.includes(c)) };
}

/** `lm imp FILE --system NAME --rounds R --fraction F …` or `lm imp --resume IMP_DIR`. */
export async function impCommand(target: string, values: CommandValues, cli: string): Promise<number> {
  const parallel =
    values.parallel === undefined
      ? defaultParallel(availableParallelism())
      : wholeNumber("parallel", values.parallel, 1);
  if (typeof parallel === "string") return usageError(parallel);
  // Every run of the IMP trains where these say (on torch: --device, --python, --threads too).
  const backendArgs = (["backend", "device", "python", "threads"] as const).flatMap((f) => {
    const v = values[f];
    return v === undefined ? [] : [`--${f}`, v];
  });
  let dir: string;
  if (values.resume) {
    const extra = (["system", "out", "steps", "rounds", "fraction", "scope", "rewind", "controls"] as const).find(
      (f) => values[f] !== undefined,
    );
    if (extra) return usageError(`--${extra} does not apply to imp --resume: the IMP folder records its settings`);
    dir = resolve(target);
    try {
      loadImp(dir);
    } catch (e) {
      return userMistake(e);
    }
  } else {
    const settings = settingsOf(values);
    if (typeof settings === "string") return usageError(settings, settings.startsWith("imp: missing"));
    const steps = values.steps === undefined ? undefined : wholeNumber("steps", values.steps, 1);
    if (typeof steps === "string") return usageError(steps);
    const { result } = await runJob({ kind: "list", file: target }, () => {});
    if (result.kind !== "list") {
      if (result.kind === "listFailed") process.stderr.write(errorText(result.error));
      return 1;
    }
    const { file, systems } = result.listed;
    const names = systems.map((s) => s.name);
    const name = values.system ?? (names.length === 1 ? names[0] : undefined);
    if (name === undefined)
      return usageError(
        names.length === 0
          ? `${file} exports no model system`
          : `${file} has several model systems (${names.join(", ")}): choose one with --system ${names.join("|")}`,
      );
    const system = systems.find((s) => s.name === name);
    if (system === undefined)
      return usageError(`${file} exports no model system "${name}" (it has: ${names.join(", ")})`);
    if (system.training === undefined || system.problems.length > 0) {
      process.stderr.write(
        errorText({ kind: "config", message: `model system "${name}" is invalid`, problems: system.problems }),
      );
      return 1;
    }
    const { seed, checkpointEvery } = system.training;
    const total = steps ?? system.training.steps;
    if (settings.rewind >= total)
      return usageError(`--rewind ${settings.rewind} is beyond the run: ${name} trains ${total} steps`);
    if (settings.rewind % checkpointEvery !== 0)
      return usageError(
        `--rewind ${settings.rewind} is not a step ${name} checkpoints (every ${checkpointEvery} steps: 0, ${checkpointEvery}, ${2 * checkpointEvery}, …)`,
      );
    dir = createImpFolder({
      runsRoot: values.out ?? "runs",
      experiment: file,
      system: name,
      seed,
      settings,
      parallel,
      ...(steps === undefined ? {} : { steps }),
    });
  }
  process.stdout.write(`${dir}\n`);
  const m = loadImp(dir);
  process.stderr.write(
    `IMP of ${m.system}: ${m.imp.rounds} round${m.imp.rounds === 1 ? "" : "s"} of ${m.imp.scope} pruning (${m.imp.fraction} of the remaining weights each), rewind to step ${m.imp.rewind}, controls: ${m.imp.controls.join(", ") || "none"}; ${m.points.length} runs, at most ${parallel} at once → ${dir}\n`,
  );
  const children = new Set<ChildProcess>();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1 && signal === "SIGINT")
      process.stderr.write("\nstopping the IMP after the running runs (Ctrl-C again to end them at once)…\n");
    // A terminal's Ctrl-C reaches the children too; a SIGTERM to this process alone is passed on.
    for (const c of children) c.kill(signals === 1 ? "SIGTERM" : "SIGKILL");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = Date.now();
  let outcome: Awaited<ReturnType<typeof runImp>>;
  try {
    outcome = await runImp(dir, {
      parallel,
      runTask: childImpTask(cli, dir, backendArgs, children),
      log: (line) => process.stderr.write(`${line}\n`),
      stopping: () => signals > 0,
    });
  } catch (e) {
    return userMistake(e);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  process.stderr.write(impTable(dir));
  process.stderr.write(`${m.points.length} runs in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (outcome.kind === "stopped") {
    process.stderr.write(`stopped: lm imp --resume ${dir} continues it\n`);
    return 130;
  }
  if (outcome.kind === "ticketFailed") {
    process.stderr.write(
      `error: ${outcome.run} did not finish, so no later round can be pruned; see its log in ${dir}/logs\n`,
    );
    return 1;
  }
  if (outcome.failed.length > 0) {
    process.stderr.write(`error: ${outcome.failed.join(", ")} did not finish; see ${dir}/logs\n`);
    return 1;
  }
  return 0;
}

/** `lm imp-task IMP_DIR INDEX`: one run of an IMP folder (what `lm imp` runs for each). */
export async function impTaskCommand(dir: string, index: number, backend: TaskBackend): Promise<number> {
  let task: ReturnType<typeof prepareImpTask>;
  try {
    task = prepareImpTask(dir, index, backend);
  } catch (e) {
    return userMistake(e);
  }
  if (task.kind === "done") {
    process.stderr.write(`IMP point ${index} already ${task.status} at step ${task.step}: nothing to do\n`);
    process.stdout.write(`${task.runDir}\n`);
    return 0;
  }
  try {
    return await trainCommand(task.request);
  } finally {
    finishImpTask(dir, index);
  }
}
