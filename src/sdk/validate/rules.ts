// The rules a field's value is checked by: each reports its own problem at the field's dotted path
// and says whether the value is valid. Predicates narrow unknown values; no value is cast.
import type { ConfigProblem } from "../../shared/trainerProtocol";
import { suggest } from "./suggest";

/** A plain object read from user input: its fields are unknown until a rule has checked them. */
export type Fields = Record<string, unknown>;

export class Problems {
  readonly list: ConfigProblem[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
}

/** Checks one value at `path`; reports its own problems and says whether the value is valid. */
export type Rule = (value: unknown, path: string, problems: Problems) => boolean;

export function isObject(v: unknown): v is Fields {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}
export function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}
export function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

export function rule(ok: (v: unknown) => boolean, message: string): Rule {
  return (v, path, problems) => {
    if (ok(v)) return true;
    problems.add(path, message);
    return false;
  };
}

export function optional(r: Rule): Rule {
  return (v, path, problems) => v === undefined || r(v, path, problems);
}

export function quote(s: string): string {
  return JSON.stringify(s);
}

export const MAX_SEED = 4294967295;
export const MAX_P = 2048;
export const MAX_ITEMS = 65536;

export const positiveInt = rule((v) => isInt(v) && v >= 1, "must be a positive integer");
export const nonNegativeInt = rule((v) => isInt(v) && v >= 0, "must be a non-negative integer");
export const seed = rule((v) => isInt(v) && v >= 0 && v <= MAX_SEED, `must be an integer in [0, ${MAX_SEED}]`);
export const positiveNumber = rule((v) => isNum(v) && v > 0, "must be a positive number");
export const nonNegativeNumber = rule((v) => isNum(v) && v >= 0, "must be a non-negative number");
export const boolean = rule((v) => typeof v === "boolean", "must be true or false");
export const string = rule((v) => typeof v === "string", "must be a string");
export const nonEmptyString = rule((v) => typeof v === "string" && v.trim() !== "", "must be a non-empty string");
export const func = rule((v) => typeof v === "function", "must be a function");

export function interval(lo: number, hi: number, bounds: "()" | "(]" | "[)" | "[]"): Rule {
  const [open, close] = [bounds[0] === "(", bounds[1] === ")"];
  return rule(
    (v) => isNum(v) && (open ? v > lo : v >= lo) && (close ? v < hi : v <= hi),
    `must be in ${bounds[0]}${lo}, ${hi}${bounds[1]}`,
  );
}

export function oneOf(values: readonly string[]): Rule {
  return (v, path, problems) => {
    if (typeof v === "string" && values.includes(v)) return true;
    const hint = typeof v === "string" ? suggest(v, values) : undefined;
    problems.add(
      path,
      `must be one of ${values.map(quote).join(", ")}${hint === undefined ? "" : ` (did you mean ${quote(hint)}?)`}`,
    );
    return false;
  };
}

/** An array whose elements all pass `element`; `message` when it is not an array (or is empty and `nonEmpty`). */
export function arrayOf(element: Rule, message: string, nonEmpty = false): Rule {
  return (v, path, problems) => {
    if (!Array.isArray(v) || (nonEmpty && v.length === 0)) {
      problems.add(path, message);
      return false;
    }
    let ok = true;
    v.forEach((x, i) => {
      if (!element(x, `${path}[${i}]`, problems)) ok = false;
    });
    return ok;
  };
}

export const widths = arrayOf(positiveInt, "must be an array of positive integers");
export const unit = interval(0, 1, "[)");
export const betas: Rule = (v, path, problems) => {
  if (!Array.isArray(v) || v.length !== 2) {
    problems.add(path, "must be a pair [beta1, beta2]");
    return false;
  }
  const a = unit(v[0], `${path}[0]`, problems);
  const b = unit(v[1], `${path}[1]`, problems);
  return a && b;
};
export const embed = rule((v) => v === "onehot" || (isInt(v) && v >= 1), 'must be "onehot" or a positive integer');
export const batchSize = rule((v) => v === "full" || (isInt(v) && v >= 1), 'must be "full" or a positive integer');
export const npyFile = rule((v) => typeof v === "string" && /\.npy$/i.test(v.trim()), "must be a path to a .npy file");
export const dataFile = rule(
  (v) => typeof v === "string" && /\.(json|csv|npy)$/i.test(v.trim()),
  "must be a path to a .json, .csv or .npy file",
);
