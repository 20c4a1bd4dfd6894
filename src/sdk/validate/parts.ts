// A part of a system with a `kind` (task, model, optimizer): the table of its kinds, and the check
// that fills a part's defaults through its builder and runs the kind's field and cross-field rules.
import { models, optimizers, tasks } from "../builders";
import { badOptions, checkFields, copy } from "./fields";
import { type Fields, isObject, oneOf, type Problems, type Rule } from "./rules";

export interface Kind<S> {
  /** Fills defaults by calling the builder. */
  build: (given: Fields) => Fields;
  /**
   * A value of the kind's type, from its builder: the checked fields are laid over it, so the
   * result has the type the rules were written against without a cast.
   */
  template: () => S;
  fields: Record<string, Rule>;
  /** Rules between fields; `ok` holds the fields that passed their own rule. */
  cross?: (o: Fields, ok: Set<string>, path: string, problems: Problems) => void;
}

/** The builder namespace of each part, for messages like "call the builder: tasks.mlp()". */
const NAMESPACES = {
  task: ["tasks", tasks],
  model: ["models", models],
  optimizer: ["optimizers", optimizers],
} as const;

/** Checks a part with a `kind`; returns it, defaults filled, when every field is valid, else undefined. */
export function checkPart<S extends object>(
  part: "task" | "model" | "optimizer",
  given: unknown,
  kinds: Record<string, Kind<S>>,
  problems: Problems,
): S | undefined {
  const [ns, builders] = NAMESPACES[part];
  const example = `${ns}.${Object.keys(builders)[0] ?? ""}()`;
  if (given === undefined) {
    problems.add(part, `is required, e.g. ${example}`);
    return undefined;
  }
  if (typeof given === "function") {
    const name: unknown = given.name;
    const hint = typeof name === "string" && Object.hasOwn(builders, name) ? `${ns}.${name}()` : example;
    problems.add(part, `must be an object: call the builder, e.g. ${hint}`);
    return undefined;
  }
  if (!isObject(given)) {
    problems.add(part, `must be an object, e.g. ${example}`);
    return undefined;
  }
  const bad = badOptions(given);
  if (bad !== undefined) problems.add(part, bad);
  const kindName = given["kind"];
  const kind = typeof kindName === "string" && Object.hasOwn(kinds, kindName) ? kinds[kindName] : undefined;
  if (kind === undefined) {
    oneOf(Object.keys(kinds))(kindName, `${part}.kind`, problems);
    return undefined;
  }
  const filled = kind.build(given);
  const before = problems.list.length;
  const ok = checkFields(part, filled, kind.fields, problems, ["kind"]);
  kind.cross?.(filled, ok, part, problems);
  return problems.list.length === before && bad === undefined
    ? Object.assign(kind.template(), copy(filled))
    : undefined;
}
