// Which symmetries a model has (Kunin et al. 2021), decided from what a run folder holds: the
// parameter names and shapes of a checkpoint and the configuration in run.json. Built-in models
// (mlp, deepLinear, transformer) are described exactly by their config; a PyTorch state dict is
// read as a stack of Linear layers (weights [out, in]) with the activation and loss named in the
// config. What cannot be decided without the model is said in `notes`, never guessed.
import type { Law, Part, Symmetry } from "./conservation";

export interface SymmetryReport {
  symmetries: Symmetry[];
  /** What was not detected and why (an activation without the symmetry, an unknown model, ...). */
  notes: string[];
}

type Shapes = ReadonlyMap<string, { shape: readonly number[] }>;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (o: Obj | undefined, key: string): string | undefined =>
  o && typeof o[key] === "string" ? (o[key] as string) : undefined;

/**
 * The degree k of positive homogeneity σ(αz) = α^k σ(z) for α > 0, or why there is none. Leaky ReLU
 * and PReLU are homogeneous of degree 1; tanh, GELU, sigmoid, softplus, SiLU are not.
 */
export function homogeneity(activation: string): { degree: number } | { why: string } {
  const a = activation.toLowerCase().replace(/[^a-z]/g, "");
  if (["relu", "leakyrelu", "prelu", "linear", "identity", "none"].includes(a)) return { degree: 1 };
  if (a === "quadratic" || a === "square") return { degree: 2 };
  return { why: `${activation} is not positively homogeneous (σ(αz) ≠ α^k σ(z)), so it has no rescale symmetry` };
}

/** Whether the loss is softmax cross-entropy (classes), regression, or unknown, from the config. */
function lossKind(config: Obj): "classes" | "regression" | undefined {
  const task = isObj(config["task"]) ? config["task"] : undefined;
  switch (str(task, "kind")) {
    case "modularArithmetic":
    case "sparseParity":
      return "classes";
    case "teacherStudent":
    case "hierarchical":
      return "regression";
    case "file":
      return str(task, "targets") === "classes" ? "classes" : "regression";
  }
  // A PyTorch script's own config: `loss`, or a number of classes.
  const loss = (str(config, "loss") ?? str(config, "criterion") ?? "").toLowerCase().replace(/[^a-z]/g, "");
  if (["crossentropy", "ce", "crossentropyloss", "softmax", "nll", "nllloss"].includes(loss)) return "classes";
  if (["mse", "mseloss", "l2", "regression", "huber"].includes(loss)) return "regression";
  if (typeof config["num_classes"] === "number" || typeof config["classes"] === "number") return "classes";
  return undefined;
}

const rows = (tensor: string, units: number, offset = 0): Part => ({ tensor, axis: 0, units, offset });
const cols = (tensor: string, units: number, offset = 0): Part => ({ tensor, axis: 1, units, offset });

function rescale(layer: string, count: number, plus: Part[], minus: Part[], degree: number): Symmetry {
  return { kind: "rescale", layer, law: { form: "quadratic", count, plus, minus, degree } };
}

/** Translation of a softmax readout W (classes along `classAxis`) and its optional bias. */
function translation(
  layer: string,
  weight: string,
  shape: readonly number[],
  classAxis: 0 | 1,
  bias?: string,
): Symmetry {
  const features = shape[1 - classAxis]!;
  const plus: Part[] = [classAxis === 1 ? rows(weight, features) : cols(weight, features)];
  if (bias) plus.push(rows(bias, 1, features));
  const law: Law = { form: "linear", count: features + (bias ? 1 : 0), plus, minus: [], degree: 1 };
  return { kind: "translation", layer, law };
}

function scale(layer: string, tensors: string[]): Symmetry {
  return {
    kind: "scale",
    layer,
    law: { form: "quadratic", count: 1, plus: tensors.map((t) => rows(t, 1)), minus: [], degree: 1 },
  };
}

/** What a checkpoint's metadata says about its tensors (docs/run-format.md, "Metadata"). */
export interface CheckpointLayout {
  /** `params`: the parameter names in model order (a state dict's registration order). */
  order?: readonly string[];
  /** `layout`: "pytorch" when weights are [out, in] (the Python logger); else [in, out]. */
  layout?: "pytorch" | "in-out";
}

/**
 * Symmetries of a run's model from its run.json `config` and a checkpoint's tensor shapes (and,
 * for runs from elsewhere, the checkpoint's parameter order and layout).
 */
export function detectSymmetries(config: unknown, shapes: Shapes, checkpoint: CheckpointLayout = {}): SymmetryReport {
  const cfg = isObj(config) ? config : {};
  const model = isObj(cfg["model"]) ? cfg["model"] : undefined;
  switch (str(model, "kind")) {
    case "mlp":
    case "deepLinear":
      return chainOf(model!, cfg, shapes);
    case "transformer":
      return transformerOf(model!, cfg, shapes);
    case "randomFeatures":
      // One trained linear layer (the features are fixed): no hidden units to rescale or permute.
      return {
        symmetries: [],
        notes: ["random features: only the linear readout trains, which has no rescaling or permutation symmetry"],
      };
    case "custom":
      return {
        symmetries: [],
        notes: [
          `custom model "${str(model, "name") ?? "?"}": its symmetries cannot be determined without its code (the forward is not in the checkpoint)`,
        ],
      };
  }
  return stateDictOf(cfg, shapes, checkpoint);
}

const has = (shapes: Shapes, name: string) => shapes.has(name);
const shapeOf = (shapes: Shapes, name: string) => shapes.get(name)?.shape ?? [];

function readoutNote(kind: "classes" | "regression" | undefined): string {
  return kind === "regression"
    ? "no translation symmetry: the loss is not softmax cross-entropy (regression)"
    : 'translation symmetry of the readout not determined: the config does not say the loss is softmax cross-entropy (add loss: "cross_entropy" to it)';
}

/** mlp and deepLinear: [embed →] layers.0 → … → (out | last layer), our [in, out] layout. */
function chainOf(model: Obj, cfg: Obj, shapes: Shapes): SymmetryReport {
  const notes: string[] = [];
  const symmetries: Symmetry[] = [];
  const deep = model["kind"] === "deepLinear";
  const act = deep ? { degree: 1 } : homogeneity(str(model, "activation") ?? "?");
  const layers: string[] = [];
  for (let i = 0; has(shapes, `layers.${i}.weight`); i++) layers.push(`layers.${i}`);
  if (has(shapes, "out.weight")) layers.push("out");
  if (layers.length === 0) return { symmetries, notes: ["no layers.N.weight or out.weight in the checkpoint"] };
  const bias = (l: string) => (has(shapes, `${l}.bias`) ? `${l}.bias` : undefined);

  // The embedding feeds the first layer linearly: embedding dimension j against the first layer's
  // rows p·e + j of every position p.
  if (has(shapes, "embed.weight")) {
    const e = shapeOf(shapes, "embed.weight")[1]!;
    symmetries.push(rescale(`embed → ${layers[0]}`, e, [cols("embed.weight", e)], [rows(`${layers[0]}.weight`, e)], 1));
  }
  if ("why" in act) notes.push(`no rescale symmetry between layers: ${act.why}`);
  else
    for (let i = 0; i + 1 < layers.length; i++) {
      const a = layers[i]!;
      const b = layers[i + 1]!;
      const h = shapeOf(shapes, `${a}.weight`)[1]!;
      const ba = bias(a);
      const plus = [cols(`${a}.weight`, h), ...(ba ? [rows(ba, h)] : [])];
      symmetries.push(rescale(`${a} → ${b}`, h, plus, [rows(`${b}.weight`, h)], act.degree));
    }
  const readout = layers[layers.length - 1]!;
  const kind = lossKind(cfg);
  if (kind === "classes")
    symmetries.push(translation(readout, `${readout}.weight`, shapeOf(shapes, `${readout}.weight`), 1, bias(readout)));
  else notes.push(readoutNote(kind));
  notes.push("no scale symmetry: the model has no normalization layer");
  return { symmetries, notes };
}

/** The built-in transformer (src/trainer/models/transformer.ts). */
function transformerOf(model: Obj, cfg: Obj, shapes: Shapes): SymmetryReport {
  const notes: string[] = [];
  const symmetries: Symmetry[] = [];
  const act = homogeneity(str(model, "activation") ?? "?");
  const residual = ["embed.weight", "pos.weight"];
  for (let l = 0; has(shapes, `blocks.${l}.attn.wq`); l++) {
    const p = `blocks.${l}`;
    const d = shapeOf(shapes, `${p}.attn.wq`)[1]!;
    // Scores use q_j k_j: column j of W_Q times α, of W_K over α. The values are mixed linearly,
    // so column j of W_V against row j of W_O.
    symmetries.push(rescale(`${p}.attn q·k`, d, [cols(`${p}.attn.wq`, d)], [cols(`${p}.attn.wk`, d)], 1));
    symmetries.push(rescale(`${p}.attn v·o`, d, [cols(`${p}.attn.wv`, d)], [rows(`${p}.attn.wo`, d)], 1));
    const m = shapeOf(shapes, `${p}.mlp.w1`)[1]!;
    if ("degree" in act)
      symmetries.push(
        rescale(`${p}.mlp`, m, [cols(`${p}.mlp.w1`, m), rows(`${p}.mlp.b1`, m)], [rows(`${p}.mlp.w2`, m)], act.degree),
      );
    else if (l === 0) notes.push(`no rescale symmetry in the MLP blocks: ${act.why}`);
    residual.push(`${p}.attn.wo`, `${p}.mlp.w2`, `${p}.mlp.b2`);
  }
  // With LayerNorm before every read of the residual stream (ln1, ln2, lnf), scaling everything
  // that writes to it changes nothing (up to LayerNorm's ε).
  if (model["layerNorm"] === true && residual.every((t) => has(shapes, t)))
    symmetries.push(scale("residual stream", residual));
  else notes.push("no scale symmetry: the transformer has no LayerNorm (layerNorm: false)");
  const kind = lossKind(cfg);
  if (kind === "classes")
    symmetries.push(translation("unembed", "unembed.weight", shapeOf(shapes, "unembed.weight"), 1));
  else notes.push(readoutNote(kind));
  return { symmetries, notes };
}

/** Natural order: "layers.10" after "layers.2" (numeric segments compared as numbers). */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

type Module =
  | { kind: "linear"; name: string; out: number; in: number; bias: boolean }
  | { kind: "norm"; name: string; size: number; batch: boolean }
  | { kind: "other"; name: string; why: string };

/**
 * A state dict read as a plain stack: Linear layers (`weight` [out, in] in PyTorch's layout, [in,
 * out] in ours; `bias` [out]) and normalization layers (1-D `weight` and `bias`, BatchNorm also
 * `running_mean`), in the checkpoint's `params` order (else natural order of the names), each
 * Linear reading the previous one's output. Anything else (convolutions, embeddings, fused
 * attention) makes the structure undeterminable without the model.
 */
function stateDictOf(cfg: Obj, shapes: Shapes, checkpoint: CheckpointLayout): SymmetryReport {
  const torch = checkpoint.layout === "pytorch";
  const prefixes = new Map<string, string[]>();
  const known = (checkpoint.order ?? []).filter((n) => shapes.has(n));
  const names = [...known, ...[...shapes.keys()].filter((n) => !known.includes(n)).sort(naturalCompare)];
  for (const name of names) {
    const dot = name.lastIndexOf(".");
    const prefix = dot < 0 ? "" : name.slice(0, dot);
    prefixes.set(prefix, [...(prefixes.get(prefix) ?? []), name.slice(dot + 1)]);
  }
  const modules: Module[] = [];
  for (const prefix of prefixes.keys()) {
    const fields = prefixes.get(prefix)!;
    const at = (f: string) => (prefix ? `${prefix}.${f}` : f);
    const w = shapes.get(at("weight"))?.shape;
    if (!w) {
      modules.push({ kind: "other", name: prefix, why: `"${prefix}" has no weight (${fields.join(", ")})` });
      continue;
    }
    if (w.length === 2 && !/emb|wte|wpe/i.test(prefix))
      modules.push({
        kind: "linear",
        name: prefix,
        out: torch ? w[0]! : w[1]!,
        in: torch ? w[1]! : w[0]!,
        bias: fields.includes("bias"),
      });
    else if (w.length === 1)
      modules.push({ kind: "norm", name: prefix, size: w[0]!, batch: fields.includes("running_mean") });
    else
      modules.push({
        kind: "other",
        name: prefix,
        why: `"${prefix}.weight" has shape [${w.join(", ")}] (not a Linear or a normalization layer)`,
      });
  }
  const other = modules.find((m) => m.kind === "other");
  if (other)
    return {
      symmetries: [],
      notes: [
        `symmetries not determined: the checkpoint is not a plain stack of Linear layers (${other.why}); they cannot be determined without the model`,
      ],
    };
  const linears = modules.filter((m) => m.kind === "linear");
  if (linears.length === 0)
    return { symmetries: [], notes: ["symmetries not determined: no Linear weights in the checkpoint"] };
  for (let i = 1; i < linears.length; i++)
    if (linears[i]!.in !== linears[i - 1]!.out)
      return {
        symmetries: [],
        notes: [
          `symmetries not determined: "${linears[i]!.name}" reads ${linears[i]!.in} features but "${linears[i - 1]!.name}" writes ${linears[i - 1]!.out}, so the layers are not one chain; they cannot be determined without the model`,
        ],
      };

  const notes: string[] = [];
  const symmetries: Symmetry[] = [];
  const actName = str(cfg, "activation") ?? str(cfg, "act") ?? str(cfg, "nonlinearity");
  const act = actName === undefined ? undefined : homogeneity(actName);
  let rescaleNoted = false;
  for (let i = 0; i < modules.length; i++) {
    const a = modules[i]!;
    if (a.kind !== "linear") continue;
    const next = modules[i + 1];
    const bias = a.bias ? [rows(`${a.name}.bias`, a.out)] : [];
    if (next?.kind === "norm" && next.size === a.out) {
      // Normalization right after: scaling the layer's weight and bias changes nothing.
      symmetries.push(
        scale(`${a.name} (before ${next.name})`, [`${a.name}.weight`, ...(a.bias ? [`${a.name}.bias`] : [])]),
      );
      if (next.batch)
        notes.push(`${next.name} is a BatchNorm: the scale symmetry holds with batch statistics (training mode)`);
      continue;
    }
    if (next?.kind !== "linear") continue;
    if (act === undefined || "why" in act) {
      if (!rescaleNoted)
        notes.push(
          act === undefined
            ? 'rescale symmetries not determined: the config names no activation (add activation: "relu" to it)'
            : `no rescale symmetry between layers: ${act.why}`,
        );
      rescaleNoted = true;
      continue;
    }
    // PyTorch layout: unit i's incoming weights are row i of W_a, its outgoing ones column i of
    // W_b; ours the other way round.
    const incoming = (torch ? rows : cols)(`${a.name}.weight`, a.out);
    const outgoing = (torch ? cols : rows)(`${next.name}.weight`, a.out);
    symmetries.push(rescale(`${a.name} → ${next.name}`, a.out, [incoming, ...bias], [outgoing], act.degree));
  }
  const readout = linears[linears.length - 1]!;
  const kind = lossKind(cfg);
  if (kind === "classes")
    symmetries.push(
      translation(
        readout.name,
        `${readout.name}.weight`,
        torch ? [readout.out, readout.in] : [readout.in, readout.out],
        torch ? 0 : 1,
        readout.bias ? `${readout.name}.bias` : undefined,
      ),
    );
  else notes.push(readoutNote(kind));
  return { symmetries, notes };
}
