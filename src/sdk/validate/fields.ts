// Reading objects of unknown shape: the fields a rule table names are checked, the others are
// reported as unknown (with a suggestion), and typed values from the builders are read as plain
// fields without a cast (`fieldsOf`).
import { BAD_OPTIONS, setOwn } from "../builders";
import { type Fields, isObject, type Problems, quote, type Rule } from "./rules";
import { suggest } from "./suggest";

export function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** The message a builder left on its result when its argument could not be read. */
export function badOptions(v: object): string | undefined {
  const bad: unknown = Reflect.get(v, BAD_OPTIONS);
  return typeof bad === "string" ? bad : undefined;
}

export function copyBadOptions(from: object, to: Fields): Fields {
  const bad = badOptions(from);
  if (bad !== undefined) Object.defineProperty(to, BAD_OPTIONS, { value: bad, enumerable: false });
  return to;
}

/** A typed object (a builder's result, a defaults object) read as plain fields: own enumerable entries, and the builder's message if any. */
export function fieldsOf(value: object): Fields {
  const out: Fields = {};
  for (const [key, v] of Object.entries(value)) setOwn(out, key, v);
  return copyBadOptions(value, out);
}

/**
 * Reports unknown fields of `obj`, then runs each rule in `fields` on its value.
 * Returns the keys whose values are valid (for cross-field rules).
 */
export function checkFields(
  path: string,
  obj: Fields,
  fields: Record<string, Rule>,
  problems: Problems,
  extraKeys: readonly string[] = [],
): Set<string> {
  const known = Object.keys(fields);
  for (const key of Object.keys(obj)) {
    if (Object.hasOwn(fields, key) || extraKeys.includes(key)) continue;
    const hint = suggest(key, known);
    problems.add(join(path, key), `unknown field${hint === undefined ? "" : ` (did you mean ${quote(hint)}?)`}`);
  }
  const ok = new Set<string>();
  for (const [key, r] of Object.entries(fields)) if (r(obj[key], join(path, key), problems)) ok.add(key);
  return ok;
}

/** The given fields that are not undefined, over the defaults. */
export function fill(defaults: Fields, given: Fields): Fields {
  const out: Fields = { ...defaults };
  for (const key of Object.keys(given)) if (given[key] !== undefined) setOwn(out, key, given[key]);
  return out;
}

/** A copy whose arrays and nested plain objects are fresh, so later edits of the input don't leak in. */
export function copy(o: Fields): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(o)) out[k] = Array.isArray(v) ? [...v] : isObject(v) ? copy(v) : v;
  return out;
}

/** A number field that a rule has already checked. */
export function checkedNumber(o: Fields, key: string): number {
  const v = o[key];
  if (typeof v !== "number") throw new Error(`internal: ${key} was not checked as a number`);
  return v;
}

/** A placeholder for a function field of a template: the checked value always replaces it. */
export function unreachable(): never {
  throw new Error("internal: a template's placeholder was called");
}
