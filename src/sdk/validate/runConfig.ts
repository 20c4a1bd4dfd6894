// The resolved config as plain JSON for run.json.
import { setOwn } from "../builders";
import type { SystemSpec } from "../spec";

function jsonSafe(v: unknown, seen: Set<object>): unknown {
  switch (typeof v) {
    case "function": {
      const name = (v as { name?: unknown }).name;
      return typeof name === "string" && name !== "" ? `<function ${name}>` : "<function>";
    }
    case "number":
      return Number.isFinite(v) ? v : String(v);
    case "bigint":
    case "symbol":
      return String(v);
    case "undefined":
      return undefined;
    case "string":
    case "boolean":
      return v;
    default:
      break;
  }
  if (v === null) return null;
  const o = v as object;
  if (ArrayBuffer.isView(o)) {
    const length = (o as { length?: unknown }).length;
    return `<${o.constructor.name}(${typeof length === "number" ? length : o.byteLength})>`;
  }
  if (seen.has(o)) return "<cycle>";
  seen.add(o);
  try {
    if (Array.isArray(o)) return o.map((x) => jsonSafe(x, seen) ?? null);
    // Plain objects of any realm (the loader may evaluate experiment files in a vm context).
    const proto = Object.getPrototypeOf(o) as object | null;
    if (proto !== null && Object.getPrototypeOf(proto) !== null)
      return `<${(o.constructor as { name?: string } | undefined)?.name ?? "object"}>`;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      const y = jsonSafe(x, seen);
      if (y !== undefined) setOwn(out, k, y);
    }
    return out;
  } finally {
    seen.delete(o);
  }
}

/**
 * The resolved config as plain JSON for run.json: functions become `"<function name>"`, typed
 * arrays `"<Float32Array(n)>"`, non-finite numbers strings. `JSON.stringify` of it never throws.
 */
export function resolvedConfig(spec: SystemSpec): Record<string, unknown> {
  return jsonSafe(spec, new Set()) as Record<string, unknown>;
}
