// User-defined models: parameters are created through a ParamContext (deterministic, named), and
// the user's forward runs on a record of them. Every problem names the model.
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../../sdk/rng";
import type { CustomModelSpec, ParamContext } from "../../sdk/spec";
import { SystemError } from "../errors";
import type { Model, ModelIO } from "./model";
import { ParamStore, outputDim, size } from "./params";

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

export function buildCustom(spec: CustomModelSpec, io: ModelIO, rng: Rng): Model {
  const who = `custom model "${spec.name}"`;
  const store = new ParamStore(`custom_${spec.name.replace(/[^A-Za-z0-9_.-]/g, "_")}`, rng);
  let open = true;
  const ctx: ParamContext = {
    input: io.input,
    output: io.output,
    // The user's own stream, independent of the parameters' streams.
    rng: rng.fork("custom"),
    param(name, shape, init) {
      if (!open)
        throw new Error(`${who}: param("${name}") called after init returned; create every parameter inside init`);
      if (typeof name !== "string" || name.length === 0)
        throw new Error(`${who}: parameter names must be non-empty strings, got ${JSON.stringify(name)}`);
      if (store.has(name)) throw new Error(`${who}: duplicate parameter name "${name}"`);
      if (!Array.isArray(shape) || shape.some((n) => !Number.isInteger(n) || n <= 0)) {
        throw new Error(
          `${who}: parameter "${name}" has a bad shape ${JSON.stringify(shape)}; expected an array of positive integers`,
        );
      }
      const n = size(shape);
      if (init === "zeros") store.zeros(name, shape);
      else if (init === "ones") store.ones(name, shape);
      else if (init instanceof Float32Array) {
        if (init.length !== n) {
          throw new Error(
            `${who}: parameter "${name}" of shape ${shapeText(shape)} needs ${n} values, got a Float32Array of length ${init.length}`,
          );
        }
        store.add(name, shape, Float32Array.from(init));
      } else if (typeof init === "object" && init !== null && typeof init.std === "number") {
        if (!Number.isFinite(init.std) || init.std < 0)
          throw new Error(`${who}: parameter "${name}": std must be a finite number ≥ 0, got ${init.std}`);
        store.normal(name, shape, init.std);
      } else {
        throw new Error(
          `${who}: parameter "${name}": init must be "zeros", "ones", { std } or a Float32Array, got ${String(init)}`,
        );
      }
    },
  };
  try {
    spec.init(ctx);
  } catch (e) {
    store.dispose();
    throw e;
  } finally {
    open = false;
  }
  const record: Record<string, tf.Tensor> = {};
  for (const p of store.params) record[p.name] = p.variable;
  const out = outputDim(io.output);

  // A forward that breaks its contract is the user's model to fix (a config problem on model.forward).
  function forward(x: tf.Tensor): tf.Tensor {
    const y: unknown = spec.forward(record, x, io);
    if (!(y instanceof tf.Tensor))
      throw new SystemError(
        "model.forward",
        `${who}: forward returned ${y === null ? "null" : typeof y}, expected a tensor [batch, ${out}]`,
      );
    const batch = x.shape[0]!;
    if (y.rank !== 2 || y.shape[0] !== batch || y.shape[1] !== out) {
      throw new SystemError(
        "model.forward",
        `${who}: forward returned shape ${shapeText(y.shape)}, expected ${shapeText([batch, out])}`,
      );
    }
    if (y.dtype !== "float32")
      throw new SystemError("model.forward", `${who}: forward returned dtype ${y.dtype}, expected float32`);
    return y;
  }

  return { params: store.params, forward, dispose: () => store.dispose() };
}
