// The rules of each model kind (the builders in ../builders.ts fill the defaults).
import { buildFields, CUSTOM_DEFAULTS, models } from "../builders";
import { checkedNumber, fieldsOf, unreachable } from "./fields";
import type { Kind } from "./parts";
import { MAX_TRANSFORMER_LAYERS, type ModelSpec } from "../spec";
import { boolean, embed, func, isInt, nonEmptyString, oneOf, positiveInt, positiveNumber, rule, widths } from "./rules";

export const MODELS: Record<string, Kind<ModelSpec>> = {
  mlp: {
    build: (g) => fieldsOf(models.mlp(g)),
    template: () => models.mlp(),
    fields: {
      embed,
      hidden: widths,
      activation: oneOf(["relu", "gelu", "gelu_tanh", "tanh", "linear", "quadratic"]),
      initScale: positiveNumber,
      alpha: positiveNumber,
      centered: boolean,
      bias: boolean,
    },
  },
  transformer: {
    build: (g) => fieldsOf(models.transformer(g)),
    template: () => models.transformer(),
    fields: {
      layers: rule(
        (v) => isInt(v) && v >= 1 && v <= MAX_TRANSFORMER_LAYERS,
        `must be a whole number from 1 to ${MAX_TRANSFORMER_LAYERS}`,
      ),
      dModel: positiveInt,
      heads: positiveInt,
      dMlp: positiveInt,
      activation: oneOf(["relu", "gelu", "gelu_tanh"]),
      layerNorm: boolean,
      initScale: positiveNumber,
      readout: oneOf(["last", "everyPosition"]),
    },
    cross: (o, ok, path, problems) => {
      if (ok.has("heads") && ok.has("dModel") && checkedNumber(o, "dModel") % checkedNumber(o, "heads") !== 0)
        problems.add(`${path}.heads`, `must divide ${path}.dModel`);
    },
  },
  deepLinear: {
    build: (g) => fieldsOf(models.deepLinear(g)),
    template: () => models.deepLinear(),
    fields: { hidden: widths, initScale: positiveNumber },
  },
  randomFeatures: {
    build: (g) => fieldsOf(models.randomFeatures(g)),
    template: () => models.randomFeatures(),
    fields: {
      features: rule((v) => v === "inputs" || (isInt(v) && v >= 1), 'must be a positive integer or "inputs"'),
      activation: oneOf(["relu", "gelu", "gelu_tanh", "tanh", "linear", "quadratic"]),
      normalize: boolean,
    },
  },
  custom: {
    build: (g) => buildFields("custom", CUSTOM_DEFAULTS, g),
    template: () => models.custom({ init: unreachable, forward: unreachable }),
    fields: { name: nonEmptyString, init: func, forward: func },
  },
};
