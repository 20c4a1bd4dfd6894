// The one shape every analysis has, the weight-space one included, so the analyzer loop
// (index.ts) treats them alike: a name, its settings, which checkpoints are due, what it needs (the
// checkpoint files alone, or the model restored to the checkpoint) and the record of one step.
// Adding an analysis: a record type in src/shared/analysisFormat.ts, an adapter file here that
// returns an `Analysis`, one line in analyses.ts (see this folder's README).
import type { AnalysesSpec, AnalysisName } from "../../sdk/spec";
import type { AnalysisHeader, AnalysisRecords } from "../../shared/analysisFormat";
import type { RunManifest } from "../../shared/runFormat";
import type { Emit } from "../errors";
import type { CheckpointData } from "../runFolder";
import type { SystemInstance } from "../system";
import type { OptimizerSlot } from "./runAccess";
import { dueSteps } from "./writer";

export type CheckpointParams = CheckpointData["params"];

export interface Analysis<N extends AnalysisName = AnalysisName> {
  readonly name: N;
  /** Written in the file's header; a change archives the old file. */
  readonly settings: Record<string, unknown>;
  /** More header fields: the scored examples, the query, the reference step. */
  readonly header: Pick<AnalysisHeader, "examples" | "query" | "referenceStep" | "baselines">;
  /**
   * "checkpoints": computed from the saved parameters alone (runs from any framework, no code
   * loaded); "model": the system's model holds the checkpoint's parameters when `compute` runs.
   */
  readonly needs: "checkpoints" | "model";
  /** The steps of `steps` (ascending) this analysis covers; the last one too when `includeLast` (the run ended). */
  due(steps: readonly number[], includeLast: boolean): number[];
  /** The record for `step`. */
  compute(step: number): AnalysisRecords[N] | Promise<AnalysisRecords[N]>;
  dispose(): void;
}

/** What every analysis may use. */
export interface AnalysisContext {
  settings: AnalysesSpec;
  /** The checkpoint every analysis compares against (the first readable one, normally step 0). */
  referenceStep: number;
  /** A checkpoint's saved parameters (read once per checkpoint by the loop). */
  params: (step: number) => CheckpointParams;
  /** Learning rate at a step (NaN when not logged). */
  lr: (step: number) => number;
  emit: Emit;
  /** run.json as read when the analyzer started (its `config` describes the model and optimizer). */
  manifest: RunManifest;
  /** A checkpoint's `__metadata__` (params order, layout, optimizer); undefined when unreadable. */
  checkpointMetadata: (step: number) => Readonly<Record<string, string>> | undefined;
}

/** What the analyses that need the model use besides: the system, and a way to load a checkpoint into it. */
export interface ModelContext extends AnalysisContext {
  system: SystemInstance;
  /** Loads a checkpoint's parameters into the system's model. */
  restore: (step: number) => void;
  /** One optimizer slot of a checkpoint (e.g. Adam's "v"), read only when asked; undefined when it holds none. */
  optimizerSlot: (step: number, slot: string) => OptimizerSlot | undefined;
}

/** `due` for an analysis run every `every`-th checkpoint (0: never). */
export function cadence(every: number): Analysis["due"] {
  return (steps, includeLast) => dueSteps(steps, every, includeLast);
}
