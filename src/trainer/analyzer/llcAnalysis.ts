// The local learning coefficient per checkpoint (Lau et al. 2023; devinterp): SGLD around the
// checkpoint, λ̂ = nβ(E[L_n(w)] − L_n(w*)), with the BIF's sampler and diagnostics.
import type { AnalysesSpec } from "../../sdk/spec";
import type { LlcRecord } from "../../shared/analysisFormat";
import { computeLlc } from "../methods/llc";
import type { Examples } from "../methods/target";
import type { SystemInstance } from "../system";
import { type Analysis, cadence } from "./analysis";

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

export function createLlcAnalysis(system: SystemInstance, settings: AnalysesSpec["llc"]): Analysis<"llc"> {
  const n = system.train.n;
  const train: Examples = {
    x: system.train.x,
    y: system.train.y,
    indices: Int32Array.from({ length: n }, (_, i) => i),
  };
  const target = system.target();
  return {
    name: "llc",
    settings: { ...settings },
    header: {},
    needs: "model",
    due: cadence(settings.every),
    async compute(step: number): Promise<LlcRecord> {
      const r = await computeLlc(target, train, {
        stepSize: settings.epsilon,
        localization: settings.gamma,
        ...(settings.nBeta > 0 ? { nBeta: settings.nBeta } : {}),
        chains: settings.chains,
        draws: settings.draws,
        burnIn: settings.burnIn,
        thin: settings.thin,
        batchSize: settings.batchSize,
        seed: step,
      });
      const warning = r.warnings.join("; ");
      return {
        step,
        llc: finiteOrNull(r.llc),
        stdErr: finiteOrNull(r.stdErr),
        chainLlc: r.chainLlc,
        loss: r.initLoss,
        nBeta: r.options.nBeta,
        traces: r.traces.map((t) => Array.from(t.loss)),
        rhat: finiteOrNull(r.rhat),
        ess: finiteOrNull(r.ess),
        ...(warning ? { warning } : {}),
      };
    },
    dispose: () => {},
  };
}
