// A reader for NumPy's .npy format (versions 1, 2 and 3), written from the format's description:
// magic "\x93NUMPY", major and minor version bytes, a little-endian header length (uint16 in v1,
// uint32 in v2/v3), then a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 4), } padded with spaces to alignment, then the raw C-order data.
// Errors start with the file's label so users see which file is at fault.

export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface NpyArray {
  /** The dtype as written in the file, e.g. "<f4". */
  descr: string;
  /** "f" float, "i" signed int, "u" unsigned int, "b" bool. */
  kind: "f" | "i" | "u" | "b";
  shape: number[];
  /** The elements in C order, in native byte order (float16 is widened to Float32Array, bool is Uint8Array of 0/1). */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses a whole .npy file. `label` (usually the path as the user wrote it) prefixes every error. */
export function parseNpy(bytes: Uint8Array, label: string): NpyArray {
  const fail = (msg: string): never => {
    throw new Error(`${label}: ${msg}`);
  };
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m))
    fail("not a .npy file (missing the \\x93NUMPY magic string)");
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3) fail(`unsupported .npy format version ${major}.${minor} (supported: 1, 2, 3)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else {
    if (bytes.length < 12) fail("truncated header");
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length)
    fail(
      `truncated header: it claims ${headerLen} bytes, the file has ${bytes.length - headerStart} after the length field`,
    );
  const headerText = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(headerStart, dataStart));

  let header: unknown;
  try {
    header = new PyLiteralParser(headerText).parseAll();
  } catch (e) {
    return fail(`cannot parse the header ${JSON.stringify(headerText.trim())}: ${(e as Error).message}`);
  }
  if (!(header instanceof Map)) return fail(`the header is not a dict: ${JSON.stringify(headerText.trim())}`);
  const descr = header.get("descr");
  const fortran = header.get("fortran_order");
  const shapeRaw = header.get("shape");
  if (typeof descr !== "string") {
    return fail(
      Array.isArray(descr)
        ? "structured dtypes (record arrays) are not supported; save a plain numeric array"
        : "the header has no 'descr' string",
    );
  }
  if (typeof fortran !== "boolean") fail("the header has no 'fortran_order' True/False");
  if (fortran)
    fail(
      "fortran_order arrays are not supported (save a C-ordered array, e.g. np.save(path, np.ascontiguousarray(a)))",
    );
  if (!Array.isArray(shapeRaw) || !shapeRaw.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 0))
    fail("the header has no 'shape' tuple of non-negative integers");
  const shape = shapeRaw as number[];

  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  if (!m) return fail(`unsupported dtype '${descr}' (supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool)`);
  const order = m[1]!;
  const kind = m[2] as NpyArray["kind"];
  const size = Number(m[3]);
  const supported: Record<NpyArray["kind"], number[]> = { f: [2, 4, 8], i: [1, 2, 4, 8], u: [1, 2, 4, 8], b: [1] };
  if (!supported[kind].includes(size))
    fail(`unsupported dtype '${descr}' (supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool)`);

  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * size;
  const have = bytes.length - dataStart;
  if (have < need)
    fail(`truncated data: shape (${shape.join(", ")}) of '${descr}' needs ${need} bytes, the file has ${have}`);

  // Copy the data into its own (aligned) buffer in native little-endian order.
  // (A Node Buffer's slice() is a view into a shared pool, so copy explicitly.)
  const raw = new Uint8Array(need);
  raw.set(bytes.subarray(dataStart, dataStart + need));
  if (order === ">" && size > 1) {
    for (let i = 0; i < need; i += size) raw.subarray(i, i + size).reverse();
  }
  const buf = raw.buffer;
  let data: NpyData;
  if (kind === "f") {
    if (size === 2) data = halfToFloat32(new Uint16Array(buf));
    else data = size === 4 ? new Float32Array(buf) : new Float64Array(buf);
  } else if (kind === "i") {
    data =
      size === 1
        ? new Int8Array(buf)
        : size === 2
          ? new Int16Array(buf)
          : size === 4
            ? new Int32Array(buf)
            : new BigInt64Array(buf);
  } else if (kind === "u") {
    data =
      size === 1
        ? new Uint8Array(buf)
        : size === 2
          ? new Uint16Array(buf)
          : size === 4
            ? new Uint32Array(buf)
            : new BigUint64Array(buf);
  } else {
    data = new Uint8Array(buf);
  }
  return { descr, kind, shape, data };
}

function halfToFloat32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const v = h[i]!;
    const sign = v & 0x8000 ? -1 : 1;
    const exp = (v >> 10) & 0x1f;
    const frac = v & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Parses the subset of Python literals .npy headers use: dicts, tuples, lists, strings, ints, True/False/None. */
class PyLiteralParser {
  private pos = 0;
  constructor(private readonly s: string) {}

  parseAll(): unknown {
    const v = this.value();
    this.skip();
    if (this.pos !== this.s.length)
      throw new Error(`unexpected ${JSON.stringify(this.s.slice(this.pos, this.pos + 10))} at offset ${this.pos}`);
    return v;
  }

  private skip(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }

  private value(): unknown {
    this.skip();
    const c = this.s[this.pos];
    if (c === "{") return this.dict();
    if (c === "(") return this.sequence(")");
    if (c === "[") return this.sequence("]");
    if (c === "'" || c === '"') return this.string();
    const word = /^(True|False|None|-?\d+L?)/.exec(this.s.slice(this.pos, this.pos + 32));
    if (word) {
      this.pos += word[0].length;
      if (word[0] === "True") return true;
      if (word[0] === "False") return false;
      if (word[0] === "None") return null;
      return Number(word[0].replace("L", ""));
    }
    throw new Error(`unexpected ${JSON.stringify(this.s.slice(this.pos, this.pos + 10))} at offset ${this.pos}`);
  }

  private expect(ch: string): void {
    this.skip();
    if (this.s[this.pos] !== ch) throw new Error(`expected '${ch}' at offset ${this.pos}`);
    this.pos++;
  }

  /** Consumes `ch` if it is next; returns whether it did. */
  private accept(ch: string): boolean {
    this.skip();
    if (this.s[this.pos] === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  private dict(): Map<unknown, unknown> {
    this.expect("{");
    const out = new Map<unknown, unknown>();
    while (!this.accept("}")) {
      const key = this.value();
      this.expect(":");
      out.set(key, this.value());
      if (!this.accept(",")) {
        this.expect("}");
        break;
      }
    }
    return out;
  }

  private sequence(close: string): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    while (!this.accept(close)) {
      out.push(this.value());
      if (!this.accept(",")) {
        this.expect(close);
        break;
      }
    }
    return out;
  }

  private string(): string {
    const quote = this.s[this.pos]!;
    const end = this.s.indexOf(quote, this.pos + 1);
    if (end < 0) throw new Error(`unterminated string at offset ${this.pos}`);
    const out = this.s.slice(this.pos + 1, end);
    this.pos = end + 1;
    return out;
  }
}
