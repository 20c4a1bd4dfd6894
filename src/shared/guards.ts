// Guards for JSON that crosses a boundary (webview messages, files), shared by the panel protocols.
// Plain loops, not `every`, for arrays: they may hold every point of a run (a million in one message).

/** A plain object (not null, not an array), its fields still unknown. */
export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export const isString = (x: unknown): x is string => typeof x === "string";
export const isNumber = (x: unknown): x is number => typeof x === "number";
/** Absent, or a number. */
export const isOptNumber = (x: unknown): boolean => x === undefined || typeof x === "number";
export const isNullableNumber = (x: unknown): x is number | null => x === null || typeof x === "number";

export function isNumberArray(x: unknown): x is number[] {
  if (!Array.isArray(x)) return false;
  for (let i = 0; i < x.length; i++) if (typeof x[i] !== "number") return false;
  return true;
}

/** Numbers or nulls (missing values), of `length` when given. */
export function isNullableNumberArray(x: unknown, length?: number): x is (number | null)[] {
  if (!Array.isArray(x) || (length !== undefined && x.length !== length)) return false;
  for (let i = 0; i < x.length; i++) {
    const v: unknown = x[i];
    if (v !== null && typeof v !== "number") return false;
  }
  return true;
}

export function isArrayOf<T>(x: unknown, item: (y: unknown) => y is T): x is T[] {
  return Array.isArray(x) && x.every(item);
}

export function isStringArray(x: unknown): x is string[] {
  return isArrayOf(x, isString);
}

/** A whole count ≥ 0 (e.g. lines of a file). */
export function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0;
}
