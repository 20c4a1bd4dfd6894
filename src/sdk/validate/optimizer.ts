// The rules of each optimizer kind and of learning-rate schedules (the builders fill the defaults).
import { optimizers, schedules } from "../builders";
import { badOptions, checkFields, copyBadOptions, fieldsOf, fill } from "./fields";
import type { Kind } from "./parts";
import type { OptimizerSpec } from "../spec";
import {
  betas,
  boolean,
  type Fields,
  interval,
  isObject,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveNumber,
  type Rule,
  unit,
} from "./rules";

const SCHEDULE_FIELDS: Record<string, Rule> = {
  warmupSteps: nonNegativeInt,
  decay: oneOf(["constant", "cosine", "linear"]),
  minLrFraction: interval(0, 1, "[]"),
};

const schedule: Rule = (v, path, problems) => {
  if (!isObject(v)) {
    problems.add(path, "must be an object, e.g. schedules.warmup(10)");
    return false;
  }
  const bad = badOptions(v);
  if (bad !== undefined) problems.add(path, bad);
  return (
    checkFields(path, v, SCHEDULE_FIELDS, problems).size === Object.keys(SCHEDULE_FIELDS).length && bad === undefined
  );
};

/** Fills a hand-written (possibly partial) schedule from `schedules.constant()`. */
function withSchedule(o: Fields): Fields {
  const s = o["schedule"];
  return isObject(s) ? { ...o, schedule: copyBadOptions(s, fill(fieldsOf(schedules.constant()), s)) } : o;
}

const ADAM_FIELDS: Record<string, Rule> = {
  lr: positiveNumber,
  betas,
  eps: positiveNumber,
  weightDecay: nonNegativeNumber,
  schedule,
};

export const OPTIMIZERS: Record<string, Kind<OptimizerSpec>> = {
  sgd: {
    build: (g) => withSchedule(fieldsOf(optimizers.sgd(g))),
    template: () => optimizers.sgd(),
    fields: { lr: positiveNumber, momentum: unit, nesterov: boolean, weightDecay: nonNegativeNumber, schedule },
    cross: (o, ok, path, problems) => {
      if (ok.has("nesterov") && ok.has("momentum") && o["nesterov"] === true && o["momentum"] === 0)
        problems.add(`${path}.nesterov`, `requires ${path}.momentum > 0`);
    },
  },
  adam: {
    build: (g) => withSchedule(fieldsOf(optimizers.adam(g))),
    template: () => optimizers.adam(),
    fields: ADAM_FIELDS,
  },
  adamw: {
    build: (g) => withSchedule(fieldsOf(optimizers.adamw(g))),
    template: () => optimizers.adamw(),
    fields: ADAM_FIELDS,
  },
};
