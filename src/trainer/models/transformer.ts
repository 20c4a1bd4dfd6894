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

export function buildTransformer(spec: TransformerSpec, io: ModelIO, rng: Rng): TransformerModel {
  const input = io.input;
  if (input.kind !== "tokens") {
    throw new Error(
      `transformer: needs token inputs ([batch, length] int32 ids), but the task gives features of dimension ${input.dim}; use an mlp or a custom model`,
    );
  }
  const d = spec.dModel;
  if (d % spec.heads !== 0) throw new Error(`transformer: dModel ${d} is not divisible by heads ${spec.heads}`);
  const heads = spec.heads;
  const dHead = d / heads;
  const T = input.length;
  const out = outputDim(io.output);
  const store = new ParamStore("transformer", rng);
  const std = spec.initScale / Math.sqrt(d);

  const embed = store.normal("embed.weight", [input.vocab, d], std) as tf.Tensor2D;
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
  const unembed = store.normal("unembed.weight", [d, out], spec.initScale / Math.sqrt(out)) as tf.Tensor2D;

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
    if (x.rank !== 2 || x.shape[1] !== T)
      throw new Error(`transformer: expected tokens [batch, ${T}], got [${x.shape.join(", ")}]`);
    return addPositional(gatherRows(embed, tf.reshape(x, [-1]) as tf.Tensor1D), pos);
  }

  function forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const batch = x.shape[0]!;
      let r = embedTokens(x);
      blocks.forEach((b, l) => {
        r = block(b, r, batch, l === blocks.length - 1);
      });
      return dense(layerNorm(r, lnf), unembed);
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
