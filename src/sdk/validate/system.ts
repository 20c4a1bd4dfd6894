// A whole model system: its parts (task, model, optimizer), its system-level fields, its
// analyses, and the rules across parts.
import type { ConfigProblem } from "../../shared/trainerProtocol";
import { isModelSystem, systemDefaults } from "../builders";
import type { ModelSpec, SystemSpec, TaskSpec } from "../spec";
import type { SweepPlan } from "../sweep";
import { checkAnalyses } from "./analyses";
import { checkedNumber, checkFields, fieldsOf, fill } from "./fields";
import { MODELS } from "./model";
import { OPTIMIZERS } from "./optimizer";
import { checkPart } from "./parts";
import { batchSize, type Fields, isObject, positiveInt, Problems, quote, type Rule, seed, string } from "./rules";
import { suggest } from "./suggest";
import { checkSweep } from "./sweep";
import { TASKS } from "./task";

/** `sweep`: the system's sweep expanded into its points, when it declares one (docs/sweeps.md). */
export type ValidationResult =
  | { ok: true; spec: SystemSpec; sweep?: SweepPlan }
  | { ok: false; problems: ConfigProblem[] };

const SYSTEM_FIELDS: Record<string, Rule> = {
  steps: positiveInt,
  batchSize,
  evalEvery: positiveInt,
  checkpointEvery: positiveInt,
  seed,
  description: string,
};

/**
 * Checks a model system (the argument of `modelSystem(...)`, or what it returned) and fills every
 * default. Returns the resolved spec, or all problems found, each with a dotted path from the
 * system root. Never throws.
 */
export function validateSystem(input: unknown): ValidationResult {
  const problems = new Problems();
  try {
    const given: unknown = isModelSystem(input) ? input.input : input;
    if (!isObject(given)) {
      problems.add(
        "",
        "must be an object with task, model and optimizer, e.g. modelSystem({ task, model, optimizer })",
      );
      return { ok: false, problems: problems.list };
    }
    const known = ["task", "model", "optimizer", "analyses", "sweep", ...Object.keys(SYSTEM_FIELDS)];
    for (const key of Object.keys(given)) {
      if (known.includes(key)) continue;
      const hint = suggest(key, known);
      problems.add(key, `unknown field${hint === undefined ? "" : ` (did you mean ${quote(hint)}?)`}`);
    }
    const task = checkPart("task", given["task"], TASKS, problems);
    const model = checkPart("model", given["model"], MODELS, problems);
    const optimizer = checkPart("optimizer", given["optimizer"], OPTIMIZERS, problems);
    const rest: Fields = {};
    for (const key of Object.keys(SYSTEM_FIELDS)) rest[key] = given[key];
    const system = fill(fieldsOf(systemDefaults()), rest);
    const ok = checkFields("", system, SYSTEM_FIELDS, problems, ["analyses"]);
    const analyses = checkAnalyses(given["analyses"], problems);

    // Rules across parts.
    if (optimizer !== undefined && ok.has("steps")) {
      if (optimizer.schedule.warmupSteps > checkedNumber(system, "steps"))
        problems.add("optimizer.schedule.warmupSteps", "must be ≤ steps");
    }
    if (task?.kind === "teacherStudent" && model?.kind === "transformer") {
      problems.add(
        "model.kind",
        'must not be "transformer" for a task with real features (teacherStudent): a transformer reads tokens',
      );
    }

    inContextRules(task, model, system, problems);

    if (
      problems.list.length > 0 ||
      task === undefined ||
      model === undefined ||
      optimizer === undefined ||
      analyses === undefined
    ) {
      // The sweep's shape is still checked; its paths need the resolved system.
      checkSweep(given["sweep"], undefined, problems, pointProblems);
      return { ok: false, problems: problems.list };
    }
    // Every system field passed its rule above: laid over the typed defaults, they are the spec's.
    const { analyses: _defaults, ...fields } = Object.assign(systemDefaults(), system);
    const spec: SystemSpec = { task, model, optimizer, ...fields, analyses };
    const sweep = checkSweep(given["sweep"], spec, problems, pointProblems);
    if (problems.list.length > 0) return { ok: false, problems: problems.list };
    return sweep === undefined ? { ok: true, spec } : { ok: true, spec, sweep };
  } catch (e) {
    problems.add("", `could not be read: ${e instanceof Error ? e.message : String(e)}`);
    return { ok: false, problems: problems.list };
  }
}

/**
 * An in-context regression needs a model that predicts at every x token under a causal mask (an
 * MLP of the flat sequence would see every target), and a transformer's "everyPosition" readout
 * needs a task of vector sequences. Fresh sequences every step come in minibatches of a given size.
 */
function inContextRules(
  task: TaskSpec | undefined,
  model: ModelSpec | undefined,
  system: Fields,
  problems: Problems,
): void {
  if (task?.kind === "inContextRegression") {
    if (model !== undefined && model.kind !== "transformer" && model.kind !== "custom")
      problems.add(
        "model.kind",
        `must be "transformer" (with readout "everyPosition") or "custom" for inContextRegression: a ${model.kind} of the whole sequence would see the targets it predicts`,
      );
    if (model?.kind === "transformer" && model.readout !== "everyPosition")
      problems.add(
        "model.readout",
        'must be "everyPosition" for inContextRegression (a prediction at every x token, each seeing only the pairs before it)',
      );
    if (task.trainSequences === undefined && system["batchSize"] === "full")
      problems.add(
        "batchSize",
        "must be a number of sequences per step for inContextRegression without trainSequences (fresh sequences every step)",
      );
  } else if (task !== undefined && model?.kind === "transformer" && model.readout === "everyPosition") {
    problems.add(
      "model.readout",
      `"everyPosition" needs a task of vector sequences (inContextRegression), not ${task.kind}`,
    );
  }
}

/** The problems of one sweep point's system (its input carries no sweep of its own). */
function pointProblems(input: Record<string, unknown>): ConfigProblem[] {
  const result = validateSystem(input);
  return result.ok ? [] : result.problems;
}
