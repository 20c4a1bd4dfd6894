// Decoder-only transformer in the setting of Nanda et al. 2023 ("Progress measures for grokking"):
// token + learned positional embeddings, `layers` blocks of causal multi-head attention and an MLP,
// each added to the residual stream, optional LayerNorm (off by default, as in Nanda), and an
// unembedding read from the last position only. No attention biases, no unembedding bias.
//
// Init (Nanda's code, times initScale): W_E, W_pos, W_Q, W_K, W_V, W_O, W_in and W_out all
// N(0, 1/d_model); W_U N(0, 1/out) (Nanda: randn(d_model, d_vocab)/√d_vocab); MLP biases 0;
// LayerNorm gains 1 and biases 0 (not scaled).
//
// Attention: scores = q·kᵀ/√d_head with q, k, v [batch·heads, length, d_head], causal mask (a
// query sees keys at its own and earlier positions), softmax over keys. In the last block only the
// last position's query, attention output and MLP are computed, since nothing else reaches the
// unembedding; `residualStream` computes every position (same values) for inspection and tests.
//
// `readout: "everyPosition"` (in-context regression, Garg et al. 2022): the input is a sequence of
// vectors (features with `sequence: { length, tokenDim }`), read in by a linear embedding W_E
// [tokenDim, d_model] (N(0, 1/d_model) like the rest), and a scalar readout W_U [d_model, 1]
// (N(0, 1/d_model): fan-in, so the initial predictions are O(1)) applied at every position the
// task asks for: output k (of `out`) is read at token k·(length/out), e.g. each x_i of an
// in-context regression. Every block computes every position under the causal mask, so output k
// depends on tokens 0..k·(length/out) only.
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../../sdk/rng";
import type { TransformerSpec } from "../../sdk/spec";
import { addBias, addPositional, batchMatMul, dense, gatherRows } from "../ops";
import type { Model, ModelIO } from "./model";
import { ParamStore, activate, outputDim } from "./params";

interface Block {
  wq: tf.Tensor2D;
  wk: tf.Tensor2D;
  wv: tf.Tensor2D;
  wo: tf.Tensor2D;
  w1: tf.Tensor2D;
  b1: tf.Tensor1D;
  w2: tf.Tensor2D;
  b2: tf.Tensor1D;
  ln1?: { g: tf.Tensor1D; b: tf.Tensor1D };
  ln2?: { g: tf.Tensor1D; b: tf.Tensor1D };
}

export interface TransformerModel extends Model {
  /** The residual stream after the final block (before lnf / unembed), [batch, length, dModel], every position. */
  residualStream(x: tf.Tensor): tf.Tensor3D;
}

const LN_EPS = 1e-5;

function layerNorm(x: tf.Tensor2D, ln: { g: tf.Tensor1D; b: tf.Tensor1D } | undefined): tf.Tensor2D {
  if (!ln) return x;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, LN_EPS)));
    return tf.add(tf.mul(normed, ln.g), ln.b) as tf.Tensor2D;
  });
}

/** How the model reads its input: token ids through a table, or a vector sequence through a linear map. */
type Reading =
  | { kind: "tokens"; vocab: number; length: number }
  | { kind: "sequence"; tokenDim: number; length: number; stride: number };

/** The input the spec's readout needs, or an Error saying what the task gives instead. */
function reading(spec: TransformerSpec, io: ModelIO): Reading {
  const input = io.input;
  const out = outputDim(io.output);
  if (spec.readout === "everyPosition") {
    if (input.kind !== "features" || input.sequence === undefined)
      throw new Error(
        `transformer: readout "everyPosition" needs a task of vector sequences (tasks.inContextRegression), but the task gives ${input.kind === "tokens" ? "token ids" : `flat features of dimension ${input.dim}`}`,
      );
    const { length, tokenDim } = input.sequence;
    if (io.output.kind !== "regression" || length % out !== 0)
      throw new Error(
        `transformer: readout "everyPosition" predicts one real value per group of tokens, so the task's ${io.output.kind === "regression" ? `${out} outputs must divide its ${length} tokens` : "outputs must be regression targets, not classes"}`,
      );
    return { kind: "sequence", tokenDim, length, stride: length / out };
  }
  if (input.kind !== "tokens") {
    throw new Error(
      `transformer: needs token inputs ([batch, length] int32 ids), but the task gives features of dimension ${input.dim}; use an mlp or a custom model`,
    );
  }
  return { kind: "tokens", vocab: input.vocab, length: input.length };
}

export function buildTransformer(spec: TransformerSpec, io: ModelIO, rng: Rng): TransformerModel {
  const input = reading(spec, io);
  const d = spec.dModel;
  if (d % spec.heads !== 0) throw new Error(`transformer: dModel ${d} is not divisible by heads ${spec.heads}`);
  const heads = spec.heads;
  const dHead = d / heads;
  const T = input.length;
  const out = outputDim(io.output);
  const store = new ParamStore("transformer", rng);
  const std = spec.initScale / Math.sqrt(d);

  const embed = store.normal(
    "embed.weight",
    [input.kind === "tokens" ? input.vocab : input.tokenDim, d],
    std,
  ) as tf.Tensor2D;
  const pos = store.normal("pos.weight", [T, d], std) as tf.Tensor2D;
  const lnPair = (name: string) => ({
    g: store.ones(`${name}.g`, [d]) as tf.Tensor1D,
    b: store.zeros(`${name}.b`, [d]) as tf.Tensor1D,
  });
  const blocks: Block[] = [];
  for (let l = 0; l < spec.layers; l++) {
    const p = `blocks.${l}`;
    const block: Block = {
      wq: store.normal(`${p}.attn.wq`, [d, d], std) as tf.Tensor2D,
      wk: store.normal(`${p}.attn.wk`, [d, d], std) as tf.Tensor2D,
      wv: store.normal(`${p}.attn.wv`, [d, d], std) as tf.Tensor2D,
      wo: store.normal(`${p}.attn.wo`, [d, d], std) as tf.Tensor2D,
      w1: store.normal(`${p}.mlp.w1`, [d, spec.dMlp], std) as tf.Tensor2D,
      b1: store.zeros(`${p}.mlp.b1`, [spec.dMlp]) as tf.Tensor1D,
      w2: store.normal(`${p}.mlp.w2`, [spec.dMlp, d], std) as tf.Tensor2D,
      b2: store.zeros(`${p}.mlp.b2`, [d]) as tf.Tensor1D,
    };
    if (spec.layerNorm) {
      block.ln1 = lnPair(`${p}.ln1`);
      block.ln2 = lnPair(`${p}.ln2`);
    }
    blocks.push(block);
  }
  const lnf = spec.layerNorm ? lnPair("lnf") : undefined;
  const unembed = (
    input.kind === "tokens"
      ? store.normal("unembed.weight", [d, out], spec.initScale / Math.sqrt(out))
      : store.normal("unembed.weight", [d, 1], std)
  ) as tf.Tensor2D;

  /** [batch·T, d] → [batch·heads, T, dHead]. */
  const splitHeads = (m: tf.Tensor2D, batch: number, len: number): tf.Tensor3D =>
    tf.reshape(tf.transpose(tf.reshape(m, [batch, len, heads, dHead]), [0, 2, 1, 3]), [batch * heads, len, dHead]);

  /** Additive causal mask [T, T]: 0 where key ≤ query, −1e9 above the diagonal. */
  const causalMask = (): tf.Tensor2D => {
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
    return tf.tensor2d(m, [T, T]);
  };

  /**
   * One block on the residual stream r [batch·T, d]. With `lastOnly`, returns only the last
   * position's updated stream [batch, d].
   */
  function block(b: Block, r: tf.Tensor2D, batch: number, lastOnly: boolean): tf.Tensor2D {
    const a = layerNorm(r, b.ln1);
    const k = splitHeads(dense(a, b.wk), batch, T);
    const v = splitHeads(dense(a, b.wv), batch, T);
    let rq: tf.Tensor2D = r;
    let q: tf.Tensor3D;
    let scores: tf.Tensor3D;
    if (lastOnly) {
      // The last query sees every key: no mask needed.
      rq = tf.reshape(tf.slice(tf.reshape(r, [batch, T, d]), [0, T - 1, 0], [batch, 1, d]), [batch, d]);
      const aq = tf.reshape(tf.slice(tf.reshape(a, [batch, T, d]), [0, T - 1, 0], [batch, 1, d]), [batch, d]);
      q = splitHeads(dense(aq as tf.Tensor2D, b.wq), batch, 1);
      scores = tf.mul(batchMatMul(q, k, true), 1 / Math.sqrt(dHead));
    } else {
      q = splitHeads(dense(a, b.wq), batch, T);
      scores = tf.add(tf.mul(batchMatMul(q, k, true), 1 / Math.sqrt(dHead)), causalMask());
    }
    const lq = lastOnly ? 1 : T;
    const probs = tf.softmax(scores) as tf.Tensor3D; // over keys (last axis)
    const z = batchMatMul(probs, v); // [batch·heads, lq, dHead]
    const merged = tf.reshape(tf.transpose(tf.reshape(z, [batch, heads, lq, dHead]), [0, 2, 1, 3]), [
      batch * lq,
      d,
    ]) as tf.Tensor2D;
    const r1 = tf.add(rq, dense(merged, b.wo)) as tf.Tensor2D;
    const m = layerNorm(r1, b.ln2);
    const hidden = activate(addBias(dense(m, b.w1), b.b1), spec.activation) as tf.Tensor2D;
    return tf.add(r1, addBias(dense(hidden, b.w2), b.b2)) as tf.Tensor2D;
  }

  function embedTokens(x: tf.Tensor): tf.Tensor2D {
    if (input.kind === "sequence") {
      const width = T * input.tokenDim;
      if (x.rank !== 2 || x.shape[1] !== width)
        throw new Error(`transformer: expected sequences [batch, ${width}], got [${x.shape.join(", ")}]`);
      return addPositional(dense(tf.reshape(x, [-1, input.tokenDim]) as tf.Tensor2D, embed), pos);
    }
    if (x.rank !== 2 || x.shape[1] !== T)
      throw new Error(`transformer: expected tokens [batch, ${T}], got [${x.shape.join(", ")}]`);
    return addPositional(gatherRows(embed, tf.reshape(x, [-1]) as tf.Tensor1D), pos);
  }

  function forward(x: tf.Tensor): tf.Tensor {
    if (input.kind === "sequence") return forwardEveryPosition(x, input.stride);
    return tf.tidy(() => {
      const batch = x.shape[0]!;
      let r = embedTokens(x);
      blocks.forEach((b, l) => {
        r = block(b, r, batch, l === blocks.length - 1);
      });
      return dense(layerNorm(r, lnf), unembed);
    });
  }

  /** Outputs [batch, out]: the scalar readout at tokens 0, stride, 2·stride, … of the full causal stream. */
  function forwardEveryPosition(x: tf.Tensor, stride: number): tf.Tensor {
    return tf.tidy(() => {
      const batch = x.shape[0]!;
      let r = embedTokens(x);
      for (const b of blocks) r = block(b, r, batch, false);
      const read = tf.reshape(tf.slice(tf.reshape(r, [batch, out, stride, d]), [0, 0, 0, 0], [batch, out, 1, d]), [
        batch * out,
        d,
      ]) as tf.Tensor2D;
      return tf.reshape(dense(layerNorm(read, lnf), unembed), [batch, out]);
    });
  }

  function residualStream(x: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      const batch = x.shape[0]!;
      let r = embedTokens(x);
      for (const b of blocks) r = block(b, r, batch, false);
      return tf.reshape(r, [batch, T, d]);
    });
  }

  return { params: store.params, forward, residualStream, dispose: () => store.dispose() };
}
