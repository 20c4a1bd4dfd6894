// Finding a model system in a loaded experiment file and validating it: the one lookup the
// trainer and the analyzer share. A name the file does not export, or no name for a file with
// several systems, is the user's mistake (UsageError); a bad config is a ConfigError naming every
// field, at the `modelSystem(...)` call.
import type { AnalysesInput, SystemSpec } from "../sdk/spec";
import type { ConfigProblem } from "../shared/trainerProtocol";
import type { GeluForm, RunSweepPoint } from "../shared/runFormat";
import { applySweepPoint, describeSweepValues, type SweepPlan } from "../sdk/sweep";
import { mergeAnalyses, validateSystem } from "../sdk/validate";
import { ConfigError, type SystemError, UsageError } from "./errors";
import type { LoadedExperiment, LoadedSystem } from "./loadExperiment";

/** The system called `name`, or undefined. */
export function findSystem(experiment: LoadedExperiment, name: string): LoadedSystem | undefined {
  return experiment.systems.find((s) => s.name === name);
}

/**
 * The system to train: the one named, or the only one. Throws UsageError naming the systems the
 * file has (exit code 2 when a `--system` is needed, 1 when the name is not there).
 */
export function chooseSystem(experiment: LoadedExperiment, name: string | undefined): LoadedSystem {
  const names = experiment.systems.map((s) => s.name);
  if (names.length === 0) throw new UsageError(`${experiment.file} exports no model system`, 1);
  if (name === undefined) {
    if (names.length === 1) return experiment.systems[0]!;
    throw new UsageError(
      `${experiment.file} has several model systems (${names.join(", ")}): choose one with --system ${names.join("|")}`,
    );
  }
  const found = findSystem(experiment, name);
  if (!found)
    throw new UsageError(`${experiment.file} exports no model system "${name}" (it has: ${names.join(", ")})`, 1);
  return found;
}

export interface SpecChanges {
  /** Overrides the system's `steps`. */
  steps?: number | undefined;
  /** Laid over the system's `analyses` settings. */
  analyses?: AnalysesInput | undefined;
  /**
   * For a run already written (resume, analysis): its run.json's `gelu`. Absent (undefined) on a
   * run, or "tanh", means "gelu" was the tanh approximation when it trained, and the model is rebuilt so.
   */
  trainedGelu?: { gelu?: GeluForm | undefined } | undefined;
  /** A point of the system's sweep: its values laid over the resolved system, and its seed (docs/sweeps.md). */
  point?: Pick<RunSweepPoint, "index" | "values" | "seed"> | undefined;
}

/** The spec as the run was trained: "gelu" is "gelu_tanh" for a run that trained before the exact form. */
function asTrained(spec: SystemSpec, recorded: { gelu?: GeluForm | undefined } | undefined): SystemSpec {
  if (recorded === undefined || recorded.gelu === "erf") return spec;
  const model = spec.model;
  if ((model.kind === "mlp" || model.kind === "transformer") && model.activation === "gelu")
    return { ...spec, model: { ...model, activation: "gelu_tanh" } };
  return spec;
}

/** Validates a system (with `changes` applied) into its resolved spec, or throws ConfigError with every problem. */
export function validatedSpec(found: LoadedSystem, changes: SpecChanges = {}): SystemSpec {
  return validatedSystem(found, changes).spec;
}

/**
 * `validatedSpec`, and the system's sweep expanded into its points when it declares one (each
 * point checked). At a sweep point (`changes.point`), the spec is the point's.
 */
export function validatedSystem(
  found: LoadedSystem,
  changes: SpecChanges = {},
): { spec: SystemSpec; sweep?: SweepPlan } {
  const input = found.system.input;
  const result = validateSystem({
    ...input,
    ...(changes.steps === undefined ? {} : { steps: changes.steps }),
    ...(changes.analyses === undefined ? {} : { analyses: mergeAnalyses(input.analyses, changes.analyses) }),
  });
  const location = found.system.definedAt;
  const refuse = (problems: ConfigProblem[]) =>
    new ConfigError(
      found.name,
      problems.map((p) => (location && !p.location ? { ...p, location } : p)),
      location,
    );
  if (!result.ok) throw refuse(result.problems);
  const point = changes.point;
  const sweep = result.sweep === undefined ? {} : { sweep: result.sweep };
  if (point === undefined) return { spec: asTrained(result.spec, changes.trainedGelu), ...sweep };
  // Laid over the resolved system, then checked as a system of its own (validate/sweep.ts did so
  // for the sweep as declared; a run.json's values may come from an older version of the file).
  const atPoint = validateSystem(applyPoint(result.spec, point));
  if (!atPoint.ok)
    throw refuse(
      atPoint.problems.map((p) => ({
        ...p,
        message: `${p.message} (at sweep point ${point.index}: ${describeSweepValues(point.values)})`,
      })),
    );
  return { spec: asTrained(atPoint.spec, changes.trainedGelu), ...sweep };
}

/** The point's input; a path the system does not have (a run.json from another version of the file) is a config problem. */
function applyPoint(spec: SystemSpec, point: NonNullable<SpecChanges["point"]>): Record<string, unknown> {
  try {
    return applySweepPoint(spec, point.values, point.seed);
  } catch {
    const paths = Object.keys(point.values).join(", ");
    throw new UsageError(
      `sweep point ${point.index} sets ${paths}, which this model system does not have (was the experiment file changed?)`,
      1,
    );
  }
}

/** A problem found while building or training `found` (its data, its model's contract), as a config problem at its `modelSystem(...)` call. */
export function systemConfigError(found: LoadedSystem, e: SystemError): ConfigError {
  const location = found.system.definedAt;
  const problem = { path: e.path, message: e.message, ...(location ? { location } : {}) };
  return new ConfigError(found.name, [problem], location);
}
