// TracIn per checkpoint (Pruthi et al. 2020): η_t ∇ℓ(z)·q̄ for every scored training example z,
// q̄ the mean gradient of the query set, with LoGra-projected per-example gradients (one fixed
// projection for the whole run, so checkpoints are comparable).
import type { AnalysesSpec } from "../../sdk/spec";
import type { TracinRecord } from "../../shared/analysisFormat";
import { UsageError } from "../errors";
import { GradientProjector, projectionError } from "../methods/perExample";
import { tracInCheckpoint } from "../methods/tracin";
import type { SystemInstance } from "../system";
import { exampleInfos, examplesOf, queryIndices, trainSubset } from "./examples";
import { type Analysis, cadence } from "./analysis";

/** Training examples whose exact gradients measure the projection's error at each checkpoint. */
const ERROR_PROBE = 8;

export function createTracinAnalysis(
  system: SystemInstance,
  settings: AnalysesSpec["tracin"],
  lr: (step: number) => number,
): Analysis<"tracin"> {
  const rows = trainSubset(system.train.n, settings.trainExamples);
  const train = examplesOf(system, "train", rows);
  const query = queryIndices(settings.query, system.data);
  const queries = examplesOf(system, query.split, query.indices);
  const k = settings.projectionDim;
  // Per linear layer the projected gradient is k × k (input factor × output-gradient factor);
  // parameters the tap cannot see share one plain projection of the same width.
  const spec = { kIn: k, kOut: k, kFallback: k * k, seed: system.spec.seed };
  const projector = new GradientProjector(system.target(), spec);
  const errorProbe = examplesOf(system, "train", rows.subarray(0, Math.min(ERROR_PROBE, rows.length)));
  return {
    name: "tracin",
    settings: { ...settings },
    needs: "model",
    due: cadence(settings.every),
    header: { examples: exampleInfos(system.spec, system.data, "train", rows), query: query.description },
    compute(step: number): TracinRecord {
      const eta = lr(step);
      // A run folder without the learning rates (a producer that does not log "lr") is the run's
      // shortcoming, not the analyzer's: said plainly, not as an internal error.
      if (!Number.isFinite(eta))
        throw new UsageError(
          `tracin: no learning rate logged at step ${step} (metrics.jsonl needs "lr" at each checkpoint's step)`,
        );
      const scores = tracInCheckpoint(projector, train, queries, { lr: eta });
      // How far the projection is from the exact gradients here: the same projection, on a few examples.
      const error = projectionError(system.target(), errorProbe, spec);
      return { step, lr: eta, values: Array.from(scores.scores), projectionError: error.rms };
    },
    dispose: () => {
      projector.dispose();
      for (const t of [train.x, train.y, queries.x, queries.y, errorProbe.x, errorProbe.y]) t.dispose();
    },
  };
}
