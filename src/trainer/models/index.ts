// Model construction: a resolved ModelSpec (validated, defaults filled) and the task's shapes in,
// named tfjs variables and a forward pass out. Parameter names are stable checkpoint keys.
import type { Rng } from "../../sdk/rng";
import type { ModelSpec, Split } from "../../sdk/spec";
import { buildCustom } from "./custom";
import { buildDeepLinear } from "./deepLinear";
import type { Model, ModelIO } from "./model";
import { buildMlp } from "./mlp";
import { buildRandomFeatures } from "./randomFeatures";
import { buildTransformer } from "./transformer";

export type { Model, ModelIO, NamedVariable } from "./model";
export { buildCustom } from "./custom";
export { buildDeepLinear } from "./deepLinear";
export { buildMlp } from "./mlp";
export { buildRandomFeatures, type RandomFeaturesModel } from "./randomFeatures";
export { buildTransformer, type TransformerModel } from "./transformer";

/**
 * Builds the model; all initial values come from `rng` (same seed → bit-identical weights on every
 * backend). `train`: the training inputs, which a random-features model with `normalize` scales its
 * features from (the same data gives the same scale, so a resumed run and the analyzer match).
 */
export function buildModel(spec: ModelSpec, io: ModelIO, rng: Rng, train?: Pick<Split, "n" | "x">): Model {
  switch (spec.kind) {
    case "mlp":
      return buildMlp(spec, io, rng);
    case "transformer":
      return buildTransformer(spec, io, rng);
    case "deepLinear":
      return buildDeepLinear(spec, io, rng);
    case "randomFeatures":
      return buildRandomFeatures(spec, io, rng, train);
    case "custom":
      return buildCustom(spec, io, rng);
    default: {
      const never: never = spec;
      throw new Error(`unknown model kind ${JSON.stringify((never as { kind: unknown }).kind)}`);
    }
  }
}
