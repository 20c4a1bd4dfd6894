// The records of a TensorBoard event file, decoded with protobufjs: the `Event` message of
// tensorflow/core/util/event.proto, reduced to what scalars need, declared below with protobufjs's
// reflection API (fields left out are skipped by the decoder: graphs, images, histograms).
//
// Why protobufjs (8.x): a well-kept, widely used decoder (gRPC's and Google's Node client
// libraries build on it) whose reflection types compile a decoder per message at run time, the
// fastest in JavaScript for 10⁶ small records; one small dependency (`long`), bundled by esbuild
// into the extension (no node_modules at run time). @bufbuild/protobuf decodes by interpreting
// descriptors, and declaring a schema in code there means writing FileDescriptorProtos by hand.
//
// Scalars come in two shapes: `simple_value` (PyTorch's SummaryWriter.add_scalar, TF1) and a
// one-element `tensor` (TF2's tf.summary.scalar, PyTorch with new_style=True) holding float_val,
// double_val, int_val, int64_val, half_val or little-endian `tensor_content`, with `dtype` saying
// which. A tensor whose summary metadata names another plugin (histograms, text, images) is not a
// scalar, whatever its shape.
import * as protobuf from "protobufjs/light";

const { Field, Type, Root } = protobuf;

/** tensorflow/core/framework/types.proto DataType values that can hold a scalar we plot. */
export const DT = { FLOAT: 1, DOUBLE: 2, INT32: 3, INT64: 9, BFLOAT16: 14, HALF: 19 } as const;

/** The subset of event.proto / summary.proto / tensor.proto read here (field numbers as in TensorFlow). */
function buildSchema(): protobuf.Type {
  const dim = new Type("Dim").add(new Field("size", 1, "int64"));
  const shape = new Type("TensorShapeProto").add(new Field("dim", 2, "Dim", "repeated"));
  const tensor = new Type("TensorProto")
    .add(new Field("dtype", 1, "int32")) // enum DataType: a varint on the wire
    .add(new Field("tensor_shape", 2, "TensorShapeProto"))
    .add(new Field("tensor_content", 4, "bytes"))
    .add(new Field("float_val", 5, "float", "repeated"))
    .add(new Field("double_val", 6, "double", "repeated"))
    .add(new Field("int_val", 7, "int32", "repeated"))
    .add(new Field("int64_val", 10, "int64", "repeated"))
    .add(new Field("half_val", 13, "int32", "repeated"));
  const pluginData = new Type("PluginData").add(new Field("plugin_name", 1, "string"));
  const metadata = new Type("SummaryMetadata").add(new Field("plugin_data", 1, "PluginData"));
  const value = new Type("Value")
    .add(new Field("tag", 1, "string"))
    .add(new Field("simple_value", 2, "float"))
    .add(new Field("tensor", 8, "TensorProto"))
    .add(new Field("metadata", 9, "SummaryMetadata"));
  const summary = new Type("Summary").add(new Field("value", 1, "Value", "repeated"));
  const event = new Type("Event")
    .add(new Field("wall_time", 1, "double"))
    .add(new Field("step", 2, "int64"))
    .add(new Field("file_version", 3, "string"))
    .add(new Field("summary", 5, "Summary"));
  const root = new Root();
  for (const t of [dim, shape, tensor, pluginData, metadata, value, summary, event]) root.add(t);
  root.resolveAll();
  return event;
}

const EVENT = buildSchema();

/** One scalar of an event. */
export interface ScalarValue {
  tag: string;
  value: number;
}

/** What an event record holds for us. */
export interface DecodedEvent {
  /** Seconds since the epoch. */
  wallTime: number;
  step: number;
  /** "brain.Event:2" on a file's first record; undefined otherwise. */
  fileVersion: string | undefined;
  /** The event's scalars (empty for events with none: graphs, images, the version record). */
  scalars: ScalarValue[];
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;

/** An int64 as protobufjs gives it (a `Long`, or a number) as a number (exact up to 2⁵³). */
function int64(x: unknown): number {
  if (typeof x === "number") return x;
  if (isRecord(x) && typeof x["toNumber"] === "function") {
    const n: unknown = x["toNumber"]();
    if (typeof n === "number") return n;
  }
  return 0;
}

/** IEEE half precision bits → number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** bfloat16 bits (the top half of a float32) → number. */
function bfloat16ToNumber(h: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, (h & 0xffff) << 16);
  return b.getFloat32(0);
}

function firstNumber(list: unknown): number | undefined {
  if (!Array.isArray(list) || list.length !== 1) return undefined;
  const x: unknown = list[0];
  return typeof x === "number" ? x : undefined;
}

/** The one element of a scalar-shaped tensor, or undefined when it is not one (or not a number). */
export function tensorScalar(t: Record<string, unknown>): number | undefined {
  const shape = t["tensor_shape"];
  if (isRecord(shape) && Array.isArray(shape["dim"])) {
    let elements = 1;
    for (const d of shape["dim"]) elements *= isRecord(d) ? int64(d["size"]) : 0;
    if (elements !== 1) return undefined;
  }
  const dtype = typeof t["dtype"] === "number" ? t["dtype"] : 0;
  const content = t["tensor_content"];
  if (content instanceof Uint8Array && content.length > 0) {
    const v = new DataView(content.buffer, content.byteOffset, content.byteLength);
    const width = { [DT.FLOAT]: 4, [DT.DOUBLE]: 8, [DT.INT32]: 4, [DT.INT64]: 8, [DT.HALF]: 2, [DT.BFLOAT16]: 2 }[
      dtype
    ];
    if (width === undefined || content.byteLength !== width) return undefined;
    switch (dtype) {
      case DT.FLOAT:
        return v.getFloat32(0, true);
      case DT.DOUBLE:
        return v.getFloat64(0, true);
      case DT.INT32:
        return v.getInt32(0, true);
      case DT.INT64:
        return Number(v.getBigInt64(0, true));
      case DT.HALF:
        return halfToNumber(v.getUint16(0, true));
      default:
        return bfloat16ToNumber(v.getUint16(0, true));
    }
  }
  switch (dtype) {
    case DT.FLOAT:
      return firstNumber(t["float_val"]);
    case DT.DOUBLE:
      return firstNumber(t["double_val"]);
    case DT.INT32:
      return firstNumber(t["int_val"]);
    case DT.INT64: {
      const list = t["int64_val"];
      return Array.isArray(list) && list.length === 1 ? int64(list[0]) : undefined;
    }
    case DT.HALF:
    case DT.BFLOAT16: {
      const h = firstNumber(t["half_val"]);
      if (h === undefined) return undefined;
      return dtype === DT.HALF ? halfToNumber(h) : bfloat16ToNumber(h);
    }
    default:
      return undefined;
  }
}

function pluginName(value: Record<string, unknown>): string | undefined {
  const m = value["metadata"];
  if (!isRecord(m)) return undefined;
  const p = m["plugin_data"];
  return isRecord(p) && typeof p["plugin_name"] === "string" && p["plugin_name"] !== "" ? p["plugin_name"] : undefined;
}

/** A Reader over the buffer of the last call, reused: a Reader (and a subarray) per record cost ~15 % of opening a log. */
let reader: protobuf.Reader | undefined;
let readerBuffer: Uint8Array | undefined;

/**
 * Decodes one event record, `data[start, end)`. Throws (protobufjs's error: "index out of
 * range", "invalid wire type") when the bytes are not an Event; the caller counts the record as bad.
 */
export function decodeEvent(data: Uint8Array, start = 0, end = data.length): DecodedEvent {
  if (readerBuffer !== data || reader === undefined) {
    reader = protobuf.Reader.create(data);
    readerBuffer = data;
  }
  reader.pos = start;
  const ev = EVENT.decode(reader, end - start);
  const scalars: ScalarValue[] = [];
  const summary: unknown = ev["summary"];
  if (isRecord(summary) && Array.isArray(summary["value"])) {
    for (const raw of summary["value"]) {
      if (!isRecord(raw) || typeof raw["tag"] !== "string") continue;
      // protobufjs sets a field it read as an own property; absent ones come from the prototype.
      if (Object.hasOwn(raw, "simple_value") && typeof raw["simple_value"] === "number") {
        scalars.push({ tag: raw["tag"], value: raw["simple_value"] });
        continue;
      }
      const t = raw["tensor"];
      if (!isRecord(t)) continue;
      const plugin = pluginName(raw);
      if (plugin !== undefined && plugin !== "scalars") continue;
      const v = tensorScalar(t);
      if (v !== undefined) scalars.push({ tag: raw["tag"], value: v });
    }
  }
  const version: unknown = ev["file_version"];
  return {
    wallTime: typeof ev["wall_time"] === "number" ? ev["wall_time"] : 0,
    step: int64(ev["step"]),
    fileVersion: typeof version === "string" && version !== "" ? version : undefined,
    scalars,
  };
}

/** An event's fields for `encodeEvent` (tests and benchmarks write event files with it). */
export interface EventFields {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** Scalars as simple_value, or as a tensor of the given dtype (float_val / double_val, or tensor_content). */
  values?: {
    tag: string;
    value: number;
    as?: "simple" | "float_val" | "double_val" | "tensor_content";
  }[];
}

/** One Event message's bytes (protobufjs's encoder for the same schema). */
export function encodeEvent(e: EventFields): Uint8Array {
  const values = (e.values ?? []).map((v) => {
    switch (v.as ?? "simple") {
      case "simple":
        return { tag: v.tag, simple_value: v.value };
      case "float_val":
        return { tag: v.tag, tensor: { dtype: DT.FLOAT, float_val: [v.value] } };
      case "double_val":
        return { tag: v.tag, tensor: { dtype: DT.DOUBLE, double_val: [v.value] } };
      default: {
        const content = new Uint8Array(4);
        new DataView(content.buffer).setFloat32(0, v.value, true);
        return { tag: v.tag, tensor: { dtype: DT.FLOAT, tensor_content: content } };
      }
    }
  });
  const message = EVENT.fromObject({
    wall_time: e.wallTime,
    step: e.step,
    ...(e.fileVersion !== undefined ? { file_version: e.fileVersion } : {}),
    ...(values.length > 0 ? { summary: { value: values } } : {}),
  });
  return EVENT.encode(message).finish();
}
