// Checks a model system and fills its defaults. Input may come from the builders or be written by
// hand (plain objects, missing fields, typos); every problem is reported with its dotted path from
// the system root (`task.trainFraction`, `model.hidden[1]`, `optimizer.schedule.warmupSteps`,
// `steps`) and a message naming the rule. All problems are returned, not just the first.
//
// Defaults are never restated here: missing fields are filled by calling the builders.
//
// Decision on `evalEvery` / `checkpointEvery` larger than `steps`: allowed, not a problem. The
// trainer always evaluates and checkpoints at step 0 and at the last step, so such a run gets
// exactly those two. (Useful for quick runs: `steps: 50` with the default `checkpointEvery: 1000`.)
//
// The pieces, by concern, in validate/: rules.ts (predicates and rules), fields.ts (reading
// objects of unknown shape), suggest.ts (typo suggestions), parts.ts (parts with a `kind`) with
// task.ts, model.ts and optimizer.ts (their kinds), analyses.ts, system.ts (the whole system),
// describe.ts (one-line descriptions), runConfig.ts (the config as JSON for run.json).
export { mergeAnalyses, validateAnalyses } from "./validate/analyses";
export { describeSystem, formatNumber } from "./validate/describe";
export { resolvedConfig } from "./validate/runConfig";
export { editDistance, suggest } from "./validate/suggest";
export { type ValidationResult, validateSystem } from "./validate/system";
