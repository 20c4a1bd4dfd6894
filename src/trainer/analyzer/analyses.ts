// Every analysis the analyzer knows, built for one run: the weight-space one (checkpoints only)
// and, when the model is at hand, the ones that need it. The others say why they do not run.
import type { AnalysisName } from "../../sdk/spec";
import type { Analysis, AnalysisContext, ModelContext } from "./analysis";
import { createBifAnalysis } from "./bifAnalysis";
import { createConservationAnalysis } from "./conservationAnalysis";
import { createFourierAnalysis, fourierUnsupported } from "./fourierAnalysis";
import { createIclAnalysis, iclUnsupported } from "./iclAnalysis";
import { createKernelAnalysis } from "./kernelAnalysis";
import { createLlcAnalysis } from "./llcAnalysis";
import { createSharpnessAnalysis } from "./sharpnessAnalysis";
import { createTracinAnalysis } from "./tracinAnalysis";
import { createWeightsAnalysis } from "./weights";

/** The analyses that need the model (and so the experiment file's code), not just checkpoints. */
export const MODEL_ANALYSES = ["kernel", "fourier", "tracin", "bif", "sharpness", "llc", "icl"] as const;

/**
 * The analyses that are wanted, switched on (`every` > 0) and applicable. `model` is undefined
 * when the experiment file is not to be loaded: then only the checkpoint analyses are built.
 */
export function createAnalyses(
  ctx: AnalysisContext,
  model: ModelContext | undefined,
  wanted: (name: AnalysisName) => boolean,
): Analysis[] {
  const on = (name: AnalysisName) => wanted(name) && ctx.settings[name].every > 0;
  const out: Analysis[] = [];
  if (on("weights")) out.push(createWeightsAnalysis(ctx));
  if (on("conservation")) out.push(createConservationAnalysis(ctx));
  if (!model) return out;
  if (on("kernel")) out.push(createKernelAnalysis(model));
  if (on("fourier")) {
    const why = fourierUnsupported(model.system);
    if (why) ctx.emit({ type: "log", level: "info", message: `fourier skipped: ${why}` });
    else out.push(createFourierAnalysis(model.system, ctx.settings.fourier));
  }
  if (on("tracin")) out.push(createTracinAnalysis(model.system, ctx.settings.tracin, ctx.lr));
  if (on("bif")) out.push(createBifAnalysis(model.system, ctx.settings.bif));
  if (on("sharpness")) out.push(createSharpnessAnalysis(model, ctx.settings.sharpness));
  if (on("llc")) out.push(createLlcAnalysis(model.system, ctx.settings.llc));
  if (on("icl")) {
    const why = iclUnsupported(model.system);
    if (why) ctx.emit({ type: "log", level: "info", message: `icl skipped: ${why}` });
    else out.push(createIclAnalysis(model.system, ctx.settings.icl));
  }
  return out;
}
