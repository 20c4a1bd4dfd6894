// The Bayesian influence function per checkpoint (Kreer et al. 2025): SGLD around the checkpoint,
// −Cov(ℓ_i, φ) for the scored training examples against φ = the mean loss of the query set.
import type { AnalysesSpec } from "../../sdk/spec";
import type { BifRecord } from "../../shared/analysisFormat";
import { computeBif } from "../methods/bif";
import type { Examples } from "../methods/target";
import type { SystemInstance } from "../system";
import { exampleInfos, examplesOf, queryIndices, trainSubset } from "./examples";
import { type Analysis, cadence } from "./analysis";

export function createBifAnalysis(system: SystemInstance, settings: AnalysesSpec["bif"]): Analysis<"bif"> {
  const n = system.train.n;
  const rows = trainSubset(n, settings.trainExamples);
  const query = queryIndices(settings.query, system.data);
  // L_n(w) is the mean loss over every training example, whichever are scored.
  const train: Examples = {
    x: system.train.x,
    y: system.train.y,
    indices: Int32Array.from({ length: n }, (_, i) => i),
  };
  const queries = examplesOf(system, query.split, query.indices);
  const target = system.target();
  return {
    name: "bif",
    settings: { ...settings },
    needs: "model",
    due: cadence(settings.every),
    header: { examples: exampleInfos(system.spec, system.data, "train", rows), query: query.description },
    async compute(step: number): Promise<BifRecord> {
      const result = await computeBif(
        target,
        train,
        { examples: queries, groups: new Int32Array(query.indices.length) },
        {
          rows,
          stepSize: settings.epsilon,
          localization: settings.gamma,
          ...(settings.nBeta > 0 ? { nBeta: settings.nBeta } : {}),
          chains: settings.chains,
          draws: settings.draws,
          burnIn: settings.burnIn,
          thin: settings.thin,
          batchSize: settings.batchSize,
          seed: step,
        },
      );
      const traces = result.traces.map((t) => ({ loss: Array.from(t.loss), query: Array.from(t.query) }));
      if (result.kind === "diverged")
        return {
          step,
          values: Array.from(rows, () => Number.NaN),
          traces,
          rhat: null,
          ess: null,
          warning: result.message,
        };
      const warning = result.warnings.join("; ");
      return {
        step,
        values: Array.from(result.bif),
        stdErr: Array.from(result.stdErr, (v) => (Number.isFinite(v) ? v : null)),
        traces,
        rhat: Number.isFinite(result.diagnostics.lossRhat) ? result.diagnostics.lossRhat : null,
        ess: Number.isFinite(result.diagnostics.lossEss) ? result.diagnostics.lossEss : null,
        ...(warning ? { warning } : {}),
      };
    },
    dispose: () => {
      queries.x.dispose();
      queries.y.dispose();
    },
  };
}
