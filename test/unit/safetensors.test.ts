import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
  type DecodedSafetensors,
  type TensorToEncode,
  SafetensorsError,
  bfloat16ToNumber,
  decodeSafetensors,
  encodeSafetensors,
  float16ToNumber,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  readSafetensorsSync,
  readSafetensorsTensor,
  metadataJson,
} from "../../src/shared/safetensors";
import { execFileSync } from "node:child_process";
import { childJob, runChildJob } from "../childRun";

// Sync reads in a child process (killed at a time limit), for files that would block or exhaust
// memory if the reader regressed, and to measure peak memory apart from the test runner.
childJob({
  readWhole: ([p]) => readSafetensorsSync(p as string).tensors.length,
  readHeader: ([p]) => readSafetensorsHeaderSync(p as string).tensors.length,
});

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "lm-safetensors-"));
}

function u8(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Builds a file by hand: a header object, raw data bytes, header padded with spaces to 8 unless told otherwise. */
function craft(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  opts: { pad?: boolean; rawHeader?: Uint8Array } = {},
): Uint8Array {
  let h = opts.rawHeader ?? new TextEncoder().encode(JSON.stringify(header));
  if (opts.pad !== false && h.length % 8 !== 0) {
    const padded = new Uint8Array(h.length + (8 - (h.length % 8))).fill(0x20);
    padded.set(h);
    h = padded;
  }
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function bytesOfU16(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    v.setUint16(i * 2, x, true);
  });
  return out;
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const SAMPLE: TensorToEncode[] = [
  {
    name: "w",
    dtype: "F32",
    shape: [2, 3],
    data: new Float32Array([1.5, -2, 0, -0, 3.4028234663852886e38, 1.401298464324817e-45]),
  },
  { name: "scalar", dtype: "F32", shape: [], data: new Float32Array([Math.fround(Math.PI)]) },
  { name: "empty", dtype: "F32", shape: [0, 3], data: new Float32Array(0) },
  { name: "ids", dtype: "I32", shape: [4], data: new Int32Array([0, -1, 2147483647, -2147483648]) },
  { name: "d", dtype: "F64", shape: [3, 1], data: new Float64Array([0.1, 1e300, -5e-324]) },
  { name: "special", dtype: "F32", shape: [3], data: new Float32Array([Number.NaN, Infinity, -Infinity]) },
  { name: "cube", dtype: "F32", shape: [2, 2, 2], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) },
  { name: "emptyI", dtype: "I32", shape: [0], data: new Int32Array(0) },
];

function assertSameTensors(decoded: DecodedSafetensors, expected: readonly TensorToEncode[]): void {
  assert.deepEqual(decoded.tensors.map((t) => t.name).sort(), expected.map((t) => t.name).sort());
  for (const e of expected) {
    const d = decoded.byName.get(e.name);
    assert.ok(d, e.name);
    assert.equal(d.dtype, e.dtype, e.name);
    assert.deepEqual(d.shape, e.shape, e.name);
    assert.equal(d.data.constructor, e.data.constructor, e.name);
    assert.equal(d.data.length, e.data.length, e.name);
    for (let i = 0; i < e.data.length; i++)
      assert.ok(Object.is(d.data[i], e.data[i]), `${e.name}[${i}]: ${String(d.data[i])} vs ${String(e.data[i])}`);
  }
}

test("round trip F32/I32/F64 incl. scalar, empty and non-finite values", () => {
  const buf = encodeSafetensors(SAMPLE, { a: "1" });
  const decoded = decodeSafetensors(u8(buf));
  assertSameTensors(decoded, SAMPLE);
  // Structure: header length multiple of 8, data tiles the rest, every tensor naturally aligned.
  const h = parseSafetensorsHeader(u8(buf));
  assert.equal(h.headerBytes % 8, 0);
  assert.equal(h.dataStart, 8 + h.headerBytes);
  assert.equal(h.fileSize, buf.length);
  const totalData = SAMPLE.reduce((s, t) => s + t.data.byteLength, 0);
  assert.equal(buf.length, 8 + h.headerBytes + totalData);
  for (const t of h.tensors) {
    const size = t.dtype === "F64" ? 8 : 4;
    assert.equal(t.begin % size, 0, `${t.name} begins at ${t.begin}`);
  }
  // The padding is spaces, after the JSON.
  const headerText = Buffer.from(buf.subarray(8, 8 + h.headerBytes)).toString("utf8");
  assert.match(headerText, /^\{.*\} *$/s);
  // Decoded arrays own their memory (copies), so mutating them does not touch the file buffer.
  const w = decoded.byName.get("w");
  assert.ok(w);
  w.data[0] = 99;
  assert.equal(decodeSafetensors(u8(buf)).byName.get("w")?.data[0], 1.5);
});

test("encoding matches the format byte for byte on a tiny case", () => {
  const buf = encodeSafetensors([{ name: "a", dtype: "F32", shape: [2], data: new Float32Array([1, -2]) }], { k: "v" });
  const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
  const expected = Buffer.concat([
    Buffer.from([padded.length, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from(padded),
    Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]),
  ]);
  assert.equal(buf.toString("hex"), expected.toString("hex"));
});

test("metadata round trip, and no metadata gives {}", () => {
  const metadata = {
    format: "learning-mechanics/checkpoint",
    step: "1200",
    params: JSON.stringify(["a", "b"]),
    unicode: 'ünï "quoted" \n ✓',
    empty: "",
  };
  const buf = encodeSafetensors([{ name: "a", dtype: "F32", shape: [1], data: new Float32Array([1]) }], metadata);
  assert.deepEqual(decodeSafetensors(u8(buf)).metadata, metadata);
  assert.deepEqual(parseSafetensorsHeader(u8(buf)).metadata, metadata);
  const bare = encodeSafetensors([{ name: "a", dtype: "F32", shape: [1], data: new Float32Array([1]) }]);
  assert.deepEqual(decodeSafetensors(u8(bare)).metadata, {});
  assert.ok(!Buffer.from(bare).toString("latin1").includes("__metadata__"));
  // A file with no tensors at all is valid.
  const none = encodeSafetensors([], { only: "meta" });
  const d = decodeSafetensors(u8(none));
  assert.deepEqual(d.tensors, []);
  assert.deepEqual(d.metadata, { only: "meta" });
});

test("the encoder validates its input", () => {
  const f = (t: Partial<TensorToEncode>): TensorToEncode => ({
    name: "x",
    dtype: "F32",
    shape: [2],
    data: new Float32Array(2),
    ...t,
  });
  expectError(() => encodeSafetensors([f({ shape: [3] })]), /shape \[3\] needs 3 elements, data has 2/);
  expectError(() => encodeSafetensors([f({ shape: [] })]), /needs 1 elements, data has 2/);
  expectError(
    () => encodeSafetensors([f({ data: new Float64Array(2) })]),
    /F32 needs a Float32Array, got Float64Array/,
  );
  expectError(() => encodeSafetensors([f({ dtype: "I32" })]), /I32 needs a Int32Array/);
  expectError(() => encodeSafetensors([f({}), f({})]), /duplicate tensor name "x"/);
  expectError(() => encodeSafetensors([f({ name: "__metadata__" })]), /cannot be a tensor name/);
  expectError(() => encodeSafetensors([f({ name: "" })]), /non-empty/);
  expectError(() => encodeSafetensors([f({ shape: [-2] })]), /invalid dimension -2/);
  expectError(() => encodeSafetensors([f({ shape: [1.5] })]), /invalid dimension 1.5/);
  expectError(() => encodeSafetensors([f({})], { k: 1 as unknown as string }), /metadata "k" must be a string/);
});

test("header-only read of a 3 GiB sparse file reads no tensor data", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const big = 805306368; // float32 elements: 3 GiB, more than readFile could even hold in one Buffer
  const header = {
    __metadata__: { step: "7" },
    big: { dtype: "F32", shape: [big], data_offsets: [0, big * 4] },
    small: { dtype: "F32", shape: [3], data_offsets: [big * 4, big * 4 + 12] },
  };
  const head = craft(header);
  const file = path.join(dir, "huge.safetensors");
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, head, 0, head.length, 0);
  const small = new Float32Array([0.5, -1, 2]);
  fs.writeSync(fd, new Uint8Array(small.buffer), 0, 12, head.length + big * 4); // leaves a hole: sparse
  fs.closeSync(fd);
  const size = fs.statSync(file).size;
  assert.equal(size, head.length + big * 4 + 12);

  const started = process.memoryUsage().arrayBuffers;
  for (const h of [await readSafetensorsHeader(file), readSafetensorsHeaderSync(file)]) {
    assert.equal(h.fileSize, size);
    assert.equal(h.headerBytes, head.length - 8);
    assert.deepEqual(h.metadata, { step: "7" });
    assert.deepEqual(
      h.tensors.map((x) => ({ name: x.name, dtype: x.dtype, shape: x.shape, begin: x.begin, end: x.end })),
      [
        { name: "big", dtype: "F32", shape: [big], begin: head.length, end: head.length + big * 4 },
        { name: "small", dtype: "F32", shape: [3], begin: head.length + big * 4, end: head.length + big * 4 + 12 },
      ],
    );
  }
  // One tensor can be read alone, at its absolute offsets.
  const h = await readSafetensorsHeader(file);
  const s = await readSafetensorsTensor(file, h, "small");
  assert.deepEqual(Array.from(s.data), [0.5, -1, 2]);
  await assert.rejects(readSafetensorsTensor(file, h, "nope"), /no tensor named "nope"/);
  assert.ok(process.memoryUsage().arrayBuffers - started < 100 * 1024 * 1024, "read far less than the file");
  // Whole-file reads of a file this size are refused rather than attempted.
  assert.throws(() => readSafetensorsSync(file), {
    name: "SafetensorsError",
    message: `${file}: is ${size} bytes, over the 2147483648-byte limit for reading a whole checkpoint`,
  });
});

test("header read from disk equals parsing the whole buffer; whole-file readers decode it", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const buf = encodeSafetensors(SAMPLE, { step: "3" });
  const file = path.join(dir, "step-00000003.safetensors");
  fs.writeFileSync(file, u8(buf));
  assert.deepEqual(await readSafetensorsHeader(file), parseSafetensorsHeader(u8(buf)));
  assert.deepEqual(readSafetensorsHeaderSync(file), parseSafetensorsHeader(u8(buf)));
  assertSameTensors(await readSafetensors(file), SAMPLE);
  assertSameTensors(readSafetensorsSync(file), SAMPLE);
  // parseSafetensorsHeader on just the prefix, given the real file size, agrees too.
  const h = parseSafetensorsHeader(u8(buf));
  assert.deepEqual(parseSafetensorsHeader(u8(buf).subarray(0, h.dataStart), buf.length), h);
});

test("every truncation of a file is a SafetensorsError, from memory and from disk", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const buf = u8(encodeSafetensors(SAMPLE, { a: "b" }));
  const { dataStart } = parseSafetensorsHeader(buf);
  for (let len = 0; len < buf.length; len++) {
    const cut = buf.slice(0, len);
    const pattern =
      len < 8
        ? /truncated file: \d+ bytes, fewer than the 8-byte header length/
        : len < dataStart
          ? /header length \d+ is larger than the file allows/
          : /out of range: the data part has only \d+ bytes \(truncated file\?\)/;
    expectError(() => decodeSafetensors(cut), pattern);
  }
  for (const len of [0, 5, 8, dataStart - 1, dataStart, buf.length - 1]) {
    const file = path.join(dir, `cut-${len}.safetensors`);
    fs.writeFileSync(file, buf.subarray(0, len));
    await assert.rejects(
      readSafetensorsHeader(file),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(file) && e.file === file,
    );
    assert.throws(() => readSafetensorsHeaderSync(file), SafetensorsError);
    assert.throws(() => readSafetensorsSync(file), SafetensorsError);
  }
});

test("corrupt headers yield a SafetensorsError naming the problem", () => {
  const f32 = (n: number): Uint8Array => new Uint8Array(n * 4);
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  assert.equal(decodeSafetensors(craft(ok, f32(2))).tensors.length, 1);

  // Header length field.
  const huge = craft(ok, f32(2));
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  expectError(() => decodeSafetensors(huge), /header length 9223372036854775808 exceeds the 16777216-byte limit/);
  const tooLong = craft(ok, f32(2));
  new DataView(tooLong.buffer).setBigUint64(0, BigInt(tooLong.length), true);
  expectError(() => decodeSafetensors(tooLong), /header length \d+ is larger than the file allows/);
  const zero = craft(ok, f32(2));
  new DataView(zero.buffer).setBigUint64(0, 0n, true);
  expectError(() => decodeSafetensors(zero), /too small for a JSON object/);

  // JSON itself.
  const enc = new TextEncoder();
  expectError(
    () => decodeSafetensors(craft(null, new Uint8Array(0), { rawHeader: enc.encode('{"a": {"dtype": "F32",') })),
    /header is not valid JSON/,
  );
  expectError(
    () => decodeSafetensors(craft(null, new Uint8Array(0), { rawHeader: enc.encode("  {}") })),
    /header does not start with "\{" \(first byte 0x20\)/,
  );
  expectError(
    () =>
      decodeSafetensors(
        craft(null, new Uint8Array(0), { rawHeader: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x20]) }),
      ),
    /not valid UTF-8/,
  );
  expectError(() => decodeSafetensors(craft([1, 2])), /header does not start with "\{" \(first byte 0x5b\)/);
  expectError(
    () => decodeSafetensors(craft(null, new Uint8Array(0), { rawHeader: enc.encode("{}\0\0\0\0\0\0") })),
    /not valid JSON/,
  );

  // Entries.
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F4", shape: [2], data_offsets: [0, 8] } }, f32(2))),
    /tensor "a": unknown dtype "F4"/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { shape: [2], data_offsets: [0, 8] } }, f32(2))),
    /tensor "a": unknown dtype undefined/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(2))),
    /tensor "a": size mismatch: F32 shape \[3\] needs 12 bytes, data_offsets \[0, 8\] span 8/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: "2", data_offsets: [0, 8] } }, f32(2))),
    /shape is string, not an array/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, f32(2))),
    /invalid dimension -1/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [2], data_offsets: [0] } }, f32(2))),
    /data_offsets must be two non-negative integers, got \[0\]/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8.5] } }, f32(2))),
    /data_offsets must be two non-negative integers/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [0], data_offsets: [8, 0] } }, f32(2))),
    /end before they begin/,
  );
  expectError(
    () => decodeSafetensors(craft({ a: [1] }, f32(2))),
    /tensor "a": header entry is an array, not an object/,
  );
  expectError(
    () => decodeSafetensors(craft({ __metadata__: { step: 3 }, ...ok }, f32(2))),
    /__metadata__ "step" is number, not a string/,
  );
  expectError(() => decodeSafetensors(craft({ __metadata__: "x", ...ok }, f32(2))), /__metadata__ is string/);

  // Offsets: out of range, overlapping, gaps, trailing bytes.
  expectError(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, f32(3))),
    /tensor "a": data_offsets \[8, 16\] out of range: the data part has only 12 bytes/,
  );
  expectError(
    () =>
      decodeSafetensors(
        craft(
          {
            a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
            b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
          },
          f32(3),
        ),
      ),
    /tensor "b" overlaps tensor "a"/,
  );
  expectError(
    () =>
      decodeSafetensors(
        craft(
          {
            a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
            b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
          },
          f32(3),
        ),
      ),
    /gap of 4 bytes in the data before tensor "b"/,
  );
  expectError(
    () => decodeSafetensors(craft(ok, f32(3))),
    /4 bytes after the last tensor's data are not described by the header/,
  );
  // Unpadded headers are still read (other writers need not pad).
  const unpadded = craft({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32(1), { pad: false });
  assert.deepEqual(Array.from(decodeSafetensors(unpadded).byName.get("a")?.data ?? []), [0]);
});

test("random byte corruption never escapes as anything but a SafetensorsError", () => {
  const buf = u8(encodeSafetensors(SAMPLE.slice(0, 5), { k: "v" }));
  const { dataStart } = parseSafetensorsHeader(buf);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const bad = buf.slice();
    bad[rand(dataStart)] = rand(256); // somewhere in the length prefix or the header
    try {
      const d = decodeSafetensors(bad);
      // If it still parses, it must still be self-consistent.
      for (const t of d.tensors)
        assert.equal(
          t.data.length,
          t.shape.reduce((a, b) => a * b, 1),
        );
    } catch (e) {
      assert.ok(e instanceof SafetensorsError, `iteration ${i}: ${String(e)}`);
      rejected++;
    }
  }
  assert.ok(rejected > 1000, `only ${rejected} of 2000 corruptions were rejected`);
});

test("F16, BF16, F8 and the other dtypes decode to known values", () => {
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x0000];
  const f16Expected = [1, -2, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, -0, 0.333251953125, 0];
  const bf16 = [0x3f80, 0xc040, 0x4049, 0x7f80, 0xff80, 0x0001, 0x8000, 0x4b18];
  const bf16Expected = [1, -3, 3.140625, Infinity, -Infinity, 2 ** -133, -0, 9961472];
  const e4m3 = [0x38, 0x7e, 0x01, 0xb8, 0x00];
  const e4m3Expected = [1, 448, 2 ** -9, -1, 0];
  const e5m2 = [0x3c, 0xc0, 0x7b, 0x7c];
  const e5m2Expected = [1, -2, 57344, Infinity];
  const i64 = new BigInt64Array([-(2n ** 53n), 42n, 2n ** 53n, -1n]);
  const data: Uint8Array[] = [
    bytesOfU16(f16),
    bytesOfU16([0x7e00]),
    bytesOfU16(bf16),
    bytesOfU16([0x7fc0]),
    new Uint8Array(e4m3),
    new Uint8Array([0x7f]),
    new Uint8Array(e5m2),
    new Uint8Array(i64.buffer),
    new Uint8Array([1, 0, 1]),
    new Uint8Array([0, 255, 7]),
    new Uint8Array([0xff, 0x80]),
  ];
  const names = ["f16", "f16nan", "bf16", "bf16nan", "e4m3", "e4m3nan", "e5m2", "i64", "bool", "u8", "i8"];
  const dtypes = ["F16", "F16", "BF16", "BF16", "F8_E4M3", "F8_E4M3", "F8_E5M2", "I64", "BOOL", "U8", "I8"];
  const header: Record<string, unknown> = {};
  let at = 0;
  const sizes = [2, 2, 2, 2, 1, 1, 1, 8, 1, 1, 1];
  data.forEach((d, i) => {
    header[names[i] as string] = {
      dtype: dtypes[i],
      shape: [d.length / (sizes[i] as number)],
      data_offsets: [at, at + d.length],
    };
    at += d.length;
  });
  const all = new Uint8Array(at);
  let o = 0;
  for (const d of data) {
    all.set(d, o);
    o += d.length;
  }
  const decoded = decodeSafetensors(craft(header, all));
  const get = (n: string): number[] => Array.from(decoded.byName.get(n)?.data ?? []);
  const same = (actual: number[], expected: number[], what: string): void => {
    assert.equal(actual.length, expected.length, what);
    actual.forEach((a, i) => {
      assert.ok(Object.is(a, expected[i]), `${what}[${i}]: ${a} vs ${String(expected[i])}`);
    });
  };
  same(get("f16"), f16Expected, "f16");
  assert.ok(Number.isNaN(get("f16nan")[0]));
  same(get("bf16"), bf16Expected, "bf16");
  assert.ok(Number.isNaN(get("bf16nan")[0]));
  same(get("e4m3"), e4m3Expected, "e4m3");
  assert.ok(Number.isNaN(get("e4m3nan")[0]));
  same(get("e5m2"), e5m2Expected, "e5m2");
  same(get("i64"), [-(2 ** 53), 42, 2 ** 53, -1], "i64");
  assert.ok(decoded.byName.get("f16")?.data instanceof Float32Array);
  assert.ok(decoded.byName.get("bf16")?.data instanceof Float32Array);
  assert.ok(decoded.byName.get("i64")?.data instanceof Float64Array);
  same(get("bool"), [1, 0, 1], "bool");
  same(get("u8"), [0, 255, 7], "u8");
  same(get("i8"), [-1, -128], "i8");
  // The scalar helpers agree with the tables.
  assert.equal(float16ToNumber(0x3c00), 1);
  assert.equal(bfloat16ToNumber(0x4049), 3.140625);

  // A BOOL byte other than 0/1 is corrupt data.
  const badBool = craft({ b: { dtype: "BOOL", shape: [2], data_offsets: [0, 2] } }, new Uint8Array([1, 2]));
  expectError(() => decodeSafetensors(badBool), /BOOL tensor holds byte 2 at element 1/);
});

test("tensor data at odd file offsets is copied into aligned arrays", () => {
  // Header of 9 bytes (unpadded) puts the F32 data at file offset 17; decode must still work.
  const values = new Float32Array([1.25, -3, 7]);
  const file = craft(null, new Uint8Array(values.buffer), {
    pad: false,
    rawHeader: new TextEncoder().encode('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'.padEnd(57, " ")),
  });
  const h = parseSafetensorsHeader(file);
  assert.equal(h.tensors[0]?.begin, 65);
  assert.equal(h.tensors[0]?.begin % 4, 1);
  const d = decodeSafetensors(file).byName.get("a");
  assert.ok(d?.data instanceof Float32Array);
  assert.deepEqual(Array.from(d.data), [1.25, -3, 7]);
  // And from a Buffer that is itself a slice at an odd offset of a larger allocation.
  const host = new Uint8Array(file.length + 3);
  host.set(file, 3);
  assert.deepEqual(Array.from(decodeSafetensors(host.subarray(3)).byName.get("a")?.data ?? []), [1.25, -3, 7]);
});

test("decode and parse accept a Node Buffer directly", () => {
  const buf: Buffer = encodeSafetensors([{ name: "a", dtype: "I32", shape: [2], data: new Int32Array([7, -7]) }], {
    k: "v",
  });
  assert.deepEqual(Array.from(decodeSafetensors(buf).byName.get("a")?.data ?? []), [7, -7]);
  assert.deepEqual(parseSafetensorsHeader(buf).metadata, { k: "v" });
});

test("a checkpoint that is a /dev/zero link or a FIFO is refused at once, naming the file (was: 2.5 GB, then a crash)", (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const zero = path.join(dir, "step-00000010.safetensors");
  fs.symlinkSync("/dev/zero", zero);
  const fifo = path.join(dir, "step-00000020.safetensors");
  execFileSync("mkfifo", [fifo]);
  for (const [file, kind] of [
    [zero, "a character device"],
    [fifo, "a FIFO"],
  ] as const) {
    for (const job of ["readWhole", "readHeader"]) {
      const r = runChildJob(__filename, job, [file], 15_000);
      assert.equal(r.timedOut, false, `${job} ${file}`);
      assert.deepEqual(
        r.error,
        {
          message: `${file}: is ${kind}, not a regular file; a checkpoint must be a regular file`,
          name: "SafetensorsError",
        },
        r.stderr,
      );
      assert.ok((r.maxRssBytes ?? Infinity) < 200 << 20, `peak RSS ${r.maxRssBytes}`);
    }
  }
});

test("the header length is checked against the 16 MiB limit and the file size before allocating", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A 28 MB header (the hover used to parse it at a cost of 489 MB): refused from its length alone.
  const file = path.join(dir, "big-header.safetensors");
  const n = 28_000_000;
  const fd = fs.openSync(file, "w");
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(n), true);
  fs.writeSync(fd, prefix, 0, 8, 0);
  fs.writeSync(fd, new TextEncoder().encode("{}"), 0, 2, 8 + n - 2); // sparse
  fs.closeSync(fd);
  const tooBig = {
    name: "SafetensorsError",
    message: `${file}: header length ${n} exceeds the 16777216-byte limit (not a safetensors file, or corrupt)`,
  };
  await assert.rejects(readSafetensorsHeader(file), tooBig);
  assert.throws(() => readSafetensorsHeaderSync(file), tooBig);
  assert.throws(() => readSafetensorsSync(file), tooBig);
  const r = runChildJob(__filename, "readHeader", [file], 15_000);
  assert.equal(r.error?.name, "SafetensorsError");
  assert.ok((r.maxRssBytes ?? Infinity) < 100 << 20, `peak RSS ${r.maxRssBytes}`);
});

test("tensor offsets beyond the file are refused before any data is read", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "lies.safetensors");
  const huge = 1_000_000_000;
  fs.writeFileSync(
    file,
    craft({ a: { dtype: "F32", shape: [huge], data_offsets: [0, huge * 4] } }, new Uint8Array(16)),
  );
  const pattern =
    /lies\.safetensors: tensor "a": data_offsets \[0, 4000000000\] out of range: the data part has only 16 bytes/;
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => readSafetensorsSync(file), pattern);
  await assert.rejects(readSafetensors(file), pattern);
  await assert.rejects(readSafetensorsHeader(file), pattern);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20);
});

test("header JSON errors give a position and never quote the bytes", () => {
  const secret = new TextEncoder().encode('{"password": hunter2}');
  expectError(
    () => decodeSafetensors(craft(null, new Uint8Array(0), { rawHeader: secret })),
    /^header is not valid JSON: unexpected character at line 1, column 14$/,
  );
  try {
    decodeSafetensors(craft(null, new Uint8Array(0), { rawHeader: secret }));
  } catch (e) {
    assert.doesNotMatch((e as Error).message, /hunter2|password/);
  }
});

test("metadata that is not JSON leaves the header readable; metadataJson parses lazily and names the file and key", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "step-20.safetensors");
  const meta = { step: "20", params: '["w"]', optimizer: "adam, t=3 (not JSON)", stats: '{"w": {"norm": NaN}}' };
  fs.writeFileSync(
    file,
    u8(encodeSafetensors([{ name: "w", dtype: "F32", shape: [1], data: new Float32Array([1]) }], meta)),
  );
  const h = await readSafetensorsHeader(file);
  assert.deepEqual(h.metadata, meta);
  assert.deepEqual(metadataJson(h.metadata, "params", file), ["w"]);
  assert.equal(metadataJson(h.metadata, "missing", file), undefined);
  assert.ok(Number.isNaN((metadataJson(h.metadata, "stats", file) as { w: { norm: number } }).w.norm));
  assert.throws(() => metadataJson(h.metadata, "optimizer", file), {
    name: "SafetensorsError",
    message: `${file}: __metadata__ "optimizer" is not valid JSON: unexpected character at line 1, column 1`,
  });
  assert.deepEqual(Array.from(readSafetensorsSync(file).byName.get("w")?.data ?? []), [1]);
});

test("whole-file reads decode tensor by tensor into arrays of their own", async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "step-00000001.safetensors");
  fs.writeFileSync(file, u8(encodeSafetensors(SAMPLE)));
  for (const d of [readSafetensorsSync(file), await readSafetensors(file)]) {
    assertSameTensors(d, SAMPLE);
    const buffers = new Set(d.tensors.map((x) => x.data.buffer));
    assert.equal(buffers.size, d.tensors.length, "no tensor shares memory with another");
    for (const x of d.tensors) assert.equal(x.data.byteLength, x.data.buffer.byteLength);
  }
  // A file that shrinks between the header and the data is a SafetensorsError, not garbage.
  const h = await readSafetensorsHeader(file);
  fs.truncateSync(file, h.fileSize - 4);
  await assert.rejects(readSafetensorsTensor(file, h, "w"), /file changed size since its header was read/);
});
