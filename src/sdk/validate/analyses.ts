// The `analyses` settings of a system (docs/analyses.md): every analysis's fields, checked and
// filled from analysesDefaults(); also checked on their own for runs from elsewhere and for
// overrides from the panels.
import type { ConfigProblem } from "../../shared/trainerProtocol";
import { analysesDefaults } from "../builders";
import type { AnalysesSpec } from "../spec";
import { checkFields, copy, fieldsOf, fill } from "./fields";
import {
  type Fields,
  interval,
  isInt,
  isObject,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveInt,
  positiveNumber,
  Problems,
  quote,
  type Rule,
  rule,
  arrayOf,
} from "./rules";
import { suggest } from "./suggest";

const ANALYSES: ReadonlyArray<keyof AnalysesSpec> = [
  "grokking",
  "weights",
  "kernel",
  "fourier",
  "tracin",
  "bif",
  "sharpness",
  "llc",
  "conservation",
  "icl",
];

const every = nonNegativeInt;
const query: Rule = (v, path, problems) => {
  if (!isObject(v)) {
    problems.add(
      path,
      'must be an object: { kind: "test", count }, { kind: "class", label, count } or { kind: "indices", split, indices }',
    );
    return false;
  }
  const kinds: Record<string, Record<string, Rule>> = {
    test: { count: positiveInt },
    class: { label: nonNegativeInt, count: positiveInt },
    indices: {
      split: oneOf(["train", "test"]),
      indices: arrayOf(nonNegativeInt, "must be a non-empty array of example indices", true),
    },
  };
  const kind = typeof v["kind"] === "string" ? kinds[v["kind"]] : undefined;
  if (kind === undefined) return oneOf(Object.keys(kinds))(v["kind"], `${path}.kind`, problems);
  const ok = checkFields(path, v, kind, problems, ["kind"]);
  return ok.size === Object.keys(kind).length;
};
export const ANALYSES_FIELDS: Record<keyof AnalysesSpec, Record<string, Rule>> = {
  grokking: { trainThreshold: interval(0, 1, "(]"), testThreshold: interval(0, 1, "(]"), hold: positiveInt },
  weights: { every },
  conservation: { every },
  icl: { every },
  kernel: { every, probeSize: rule((v) => isInt(v) && v >= 2 && v <= 4096, "must be an integer in [2, 4096]") },
  fourier: { every, keyFrequencies: positiveInt },
  tracin: { every, projectionDim: positiveInt, query, trainExamples: nonNegativeInt },
  bif: {
    every,
    chains: positiveInt,
    draws: positiveInt,
    burnIn: nonNegativeInt,
    thin: positiveInt,
    epsilon: positiveNumber,
    gamma: nonNegativeNumber,
    nBeta: nonNegativeNumber,
    batchSize: positiveInt,
    query,
    trainExamples: nonNegativeInt,
  },
  sharpness: {
    every,
    eigenvalues: rule((v) => isInt(v) && v >= 1 && v <= 10, "must be an integer in [1, 10]"),
    iterations: rule((v) => isInt(v) && v >= 2 && v <= 200, "must be an integer in [2, 200]"),
    tolerance: interval(0, 1, "()"),
    fdStep: interval(0, 1, "()"),
  },
  llc: {
    every,
    chains: positiveInt,
    draws: rule((v) => isInt(v) && v >= 4, "must be an integer ≥ 4 (split R-hat needs 4 draws per chain)"),
    burnIn: nonNegativeInt,
    thin: positiveInt,
    epsilon: positiveNumber,
    gamma: nonNegativeNumber,
    nBeta: nonNegativeNumber,
    batchSize: positiveInt,
  },
};

/** `analyses` with every default filled in, or undefined after reporting its problems. */
export function checkAnalyses(given: unknown, problems: Problems): AnalysesSpec | undefined {
  const defaults = analysesDefaults();
  if (given === undefined) return defaults;
  if (!isObject(given)) {
    problems.add("analyses", "must be an object, e.g. { tracin: { every: 2 } }");
    return undefined;
  }
  const before = problems.list.length;
  const out: Fields = {};
  for (const key of Object.keys(given)) {
    if (Object.hasOwn(ANALYSES_FIELDS, key)) continue;
    const hint = suggest(key, Object.keys(ANALYSES_FIELDS));
    problems.add(`analyses.${key}`, `unknown analysis${hint === undefined ? "" : ` (did you mean ${quote(hint)}?)`}`);
  }
  for (const name of ANALYSES) {
    const fields = ANALYSES_FIELDS[name];
    const path = `analyses.${name}`;
    const part = given[name];
    if (part !== undefined && !isObject(part)) {
      problems.add(path, "must be an object");
      continue;
    }
    const filled = fill(fieldsOf(defaults[name]), part ?? {});
    checkFields(path, filled, fields, problems);
    out[name] = filled;
  }
  return problems.list.length === before ? checkedAnalyses(copy(out)) : undefined;
}

/** Checks `analyses` settings on their own (a run from elsewhere, or overrides from the panel). */
export function validateAnalyses(
  input: unknown,
): { ok: true; spec: AnalysesSpec } | { ok: false; problems: ConfigProblem[] } {
  const problems = new Problems();
  const spec = checkAnalyses(input, problems);
  return spec === undefined ? { ok: false, problems: problems.list } : { ok: true, spec };
}

/** `overrides` laid over `base` one analysis at a time (each analysis's fields replace the base's). */
export function mergeAnalyses(base: unknown, overrides: unknown): unknown {
  if (!isObject(overrides)) return base;
  if (!isObject(base)) return overrides;
  const out: Fields = { ...base };
  for (const [k, v] of Object.entries(overrides)) out[k] = isObject(v) && isObject(base[k]) ? { ...base[k], ...v } : v;
  return out;
}

/**
 * The checked settings as AnalysesSpec. Every analysis's fields passed the rules of
 * ANALYSES_FIELDS, which are written against AnalysesSpec: the one place that knowledge becomes a type.
 */
function checkedAnalyses(out: Fields): AnalysesSpec {
  const spec = analysesDefaults();
  for (const name of ANALYSES) {
    const part = out[name];
    if (isObject(part)) Object.assign(spec[name], part);
  }
  return spec;
}
