// The safetensors file format (Hugging Face), in plain Node: no tensor library.
//
//   [8 bytes]  N, the header length, unsigned little-endian 64-bit
//   [N bytes]  UTF-8 JSON: { "__metadata__": {string: string},
//                            "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ... }
//              padded with spaces to a multiple of 8 bytes (as the reference writer does)
//   [rest]     raw little-endian tensor data; data_offsets are relative to the start of this part
//
// Validation follows the reference implementation (huggingface/safetensors `validate`): the header
// starts with `{`, the tensors tile the data part exactly (no overlap, no gap, no trailing bytes),
// and each tensor's byte length is product(shape) × dtype size. Anything else is a
// `SafetensorsError` naming the problem, so a truncated or corrupt file never yields garbage.
//
// Files may be hostile (a checkpoint linked to /dev/zero, a header length of 2^63, a 28 MB header):
// only regular files are opened (safeRead.ts); the header length is checked against
// READ_LIMITS.safetensorsHeaderBytes and the file size before anything is allocated; every tensor's
// offsets are checked against the file size and dtype × shape before any data is read; a whole file
// is decoded only up to READ_LIMITS.checkpointBytes, tensor by tensor, never as one buffer.
// Metadata values are strings; those holding JSON are parsed only where needed (`metadataJson`).

import * as fs from "node:fs";
import type * as fsp from "node:fs/promises";
import { tryParseJson } from "./jsonText";
import { FileRefusedError, READ_LIMITS, openRegular, openRegularSync } from "./safeRead";

/**
 * Longest header accepted (READ_LIMITS.safetensorsHeaderBytes, 16 MiB; the reference implementation
 * allows 100 MB, but a header that large costs a reader hundreds of MB once parsed).
 */
export const MAX_HEADER_BYTES: number = READ_LIMITS.safetensorsHeaderBytes;

/** Dtypes whose header entries we accept, with their size in bytes. */
const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

/** Every dtype this module can parse and decode. */
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** Dtypes this module writes. */
export type EncodableDtype = "F32" | "I32" | "F64";

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.hasOwn(DTYPE_BYTES, value);
}

/** Size in bytes of one element of `dtype`. */
export function dtypeByteSize(dtype: SafetensorsDtype): number {
  return DTYPE_BYTES[dtype];
}

/** A malformed, truncated or unsupported safetensors file, or invalid tensors given to the encoder. */
export class SafetensorsError extends Error {
  override readonly name = "SafetensorsError";
  /** The file concerned, when the data came from a file. */
  readonly file: string | undefined;
  constructor(message: string, file?: string) {
    super(file === undefined ? message : `${file}: ${message}`);
    this.file = file;
  }
}

export interface TensorToEncode {
  name: string;
  dtype: EncodableDtype;
  shape: number[];
  data: Float32Array | Int32Array | Float64Array;
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** ABSOLUTE byte offsets in the file (`8 + headerBytes + data_offsets[i]`): [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N: length of the JSON header in bytes, padding included (not counting the 8-byte length prefix). */
  headerBytes: number;
  /** Absolute file offset where tensor data starts: 8 + headerBytes. */
  dataStart: number;
  /** Total size of the file (8 + headerBytes + data bytes). */
  fileSize: number;
  /** `__metadata__`, or {} when absent. */
  metadata: Record<string, string>;
  /** In the order their data appears in the file. */
  tensors: TensorInfo[];
}

/** What `decodeSafetensors` returns per dtype: F16, BF16 and F8 widen to float32; I64/U64 become float64. */
export type DecodedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export interface DecodedTensor extends TensorInfo {
  data: DecodedArray;
}

export interface DecodedSafetensors {
  metadata: Record<string, string>;
  /** In file order; look one up by name with `tensors.find(...)` or `byName`. */
  tensors: DecodedTensor[];
  byName: Map<string, DecodedTensor>;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[], where: string, file?: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new SafetensorsError(
        `${where}: shape ${JSON.stringify(shape)} has an invalid dimension ${String(d)}`,
        file,
      );
    n *= d;
  }
  if (!Number.isSafeInteger(n))
    throw new SafetensorsError(`${where}: shape ${JSON.stringify(shape)} has too many elements`, file);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Encoding

const ENCODE_ARRAY: Record<EncodableDtype, { is: (a: unknown) => boolean; label: string }> = {
  F32: { is: (a) => a instanceof Float32Array, label: "Float32Array" },
  I32: { is: (a) => a instanceof Int32Array, label: "Int32Array" },
  F64: { is: (a) => a instanceof Float64Array, label: "Float64Array" },
};

/**
 * Encodes tensors as one safetensors file. Header keys are `__metadata__` then the tensors by name;
 * data is laid out widest dtype first (then by name), so with the 8-byte-padded header every tensor
 * starts at a file offset that is a multiple of its element size.
 */
export function encodeSafetensors(
  tensors: readonly TensorToEncode[],
  metadata?: Readonly<Record<string, string>>,
): Buffer {
  const names = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== "string" || t.name === "")
      throw new SafetensorsError("tensor name must be a non-empty string");
    if (t.name === "__metadata__") throw new SafetensorsError('"__metadata__" cannot be a tensor name');
    if (names.has(t.name)) throw new SafetensorsError(`duplicate tensor name "${t.name}"`);
    names.add(t.name);
    const spec = (ENCODE_ARRAY as Record<string, { is: (a: unknown) => boolean; label: string } | undefined>)[t.dtype];
    if (spec === undefined)
      throw new SafetensorsError(`tensor "${t.name}": cannot encode dtype ${String(t.dtype)} (F32, I32 or F64)`);
    if (!spec.is(t.data))
      throw new SafetensorsError(
        `tensor "${t.name}": dtype ${t.dtype} needs a ${spec.label}, got ${Object.prototype.toString.call(t.data).slice(8, -1)}`,
      );
    const n = elementCount(t.shape, `tensor "${t.name}"`);
    if (t.data.length !== n)
      throw new SafetensorsError(
        `tensor "${t.name}": shape ${JSON.stringify(t.shape)} needs ${n} elements, data has ${t.data.length}`,
      );
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new SafetensorsError(`metadata "${k}" must be a string, got ${typeof v}`);
    }
  }

  const byName = (a: TensorToEncode, b: TensorToEncode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const layout = [...tensors].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || byName(a, b));
  const offsets = new Map<string, [number, number]>();
  let dataBytes = 0;
  for (const t of layout) {
    offsets.set(t.name, [dataBytes, dataBytes + t.data.byteLength]);
    dataBytes += t.data.byteLength;
  }

  // JSON built from entries rather than an object, so that a name such as "__proto__" stays an ordinary key.
  const members = (kv: Array<[string, unknown]>): string =>
    kv.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
  const parts: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0)
    parts.push(`"__metadata__":{${members(Object.entries(metadata))}}`);
  const tensorEntries = [...tensors]
    .sort(byName)
    .map((t): [string, unknown] => [
      t.name,
      { dtype: t.dtype, shape: [...t.shape], data_offsets: offsets.get(t.name) },
    ]);
  if (tensorEntries.length > 0) parts.push(members(tensorEntries));
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerBytes = json.length + ((8 - (json.length % 8)) % 8);
  if (headerBytes > MAX_HEADER_BYTES)
    throw new SafetensorsError(`header of ${headerBytes} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  const file = Buffer.alloc(8 + headerBytes + dataBytes);
  // Written through a plain Uint8Array view (the @types/node in use predates TS's generic typed arrays).
  const out = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, BigInt(headerBytes), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes);
  const dataStart = 8 + headerBytes;
  for (const t of layout) {
    const [begin] = offsets.get(t.name) as [number, number];
    const at = dataStart + begin;
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      const view = new DataView(out.buffer, out.byteOffset + at, t.data.byteLength);
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i] as number;
        if (t.dtype === "F32") view.setFloat32(i * 4, v, true);
        else if (t.dtype === "I32") view.setInt32(i * 4, v, true);
        else view.setFloat64(i * 8, v, true);
      }
    }
  }
  return file;
}

// ---------------------------------------------------------------------------------------------
// Header parsing

function describeJsonType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/**
 * Parses and validates the header at the start of `buf`. `buf` may be the whole file or just its
 * first `8 + N` bytes; `fileSize` (default `buf.length`) is the size of the whole file, against
 * which the tensors' offsets are checked. Returned offsets are absolute file offsets.
 */
export function parseSafetensorsHeader(
  input: Uint8Array | Buffer,
  fileSize: number = input.length,
  file?: string,
): SafetensorsHeader {
  const buf = bytesOf(input);
  if (buf.length < 8) {
    throw new SafetensorsError(
      `truncated file: ${Math.min(fileSize, buf.length)} bytes, fewer than the 8-byte header length`,
      file,
    );
  }
  const headerBytes = headerLengthOf(buf, fileSize, file);
  if (8 + headerBytes > buf.length) {
    throw new SafetensorsError(
      `header length ${headerBytes} is larger than the ${buf.length - 8} header bytes given`,
      file,
    );
  }
  return parseHeaderBytes(buf.subarray(8, 8 + headerBytes), fileSize, file);
}

/** Parses and validates the N header bytes (without the 8-byte length) of a file of `fileSize` bytes. */
function parseHeaderBytes(headerBuf: Uint8Array, fileSize: number, file: string | undefined): SafetensorsHeader {
  const headerBytes = headerBuf.length;
  if (headerBytes < 2) throw new SafetensorsError(`header length ${headerBytes} is too small for a JSON object`, file);

  if (headerBuf[0] !== 0x7b /* { */) {
    throw new SafetensorsError(
      `header does not start with "{" (first byte 0x${(headerBuf[0] as number).toString(16).padStart(2, "0")})`,
      file,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBuf);
  } catch {
    throw new SafetensorsError("header is not valid UTF-8", file);
  }
  // Errors give a position, never the text (tryParseJson; the header may be any file's bytes).
  const json = tryParseJson(text);
  if (!json.ok) throw new SafetensorsError(`header is not valid JSON: ${json.problem}`, file);
  const parsed = json.value;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new SafetensorsError(`header is ${describeJsonType(parsed)}, not a JSON object`, file);
  }

  const dataStart = 8 + headerBytes;
  const dataBytes = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw new SafetensorsError(`__metadata__ is ${describeJsonType(entry)}, not an object of strings`, file);
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string")
          throw new SafetensorsError(`__metadata__ "${k}" is ${describeJsonType(v)}, not a string`, file);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true }); // even "__proto__"
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new SafetensorsError(`${where}: header entry is ${describeJsonType(entry)}, not an object`, file);
    }
    const e = entry as Record<string, unknown>;
    const dtype = e["dtype"];
    if (!isSafetensorsDtype(dtype))
      throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)}`, file);
    const shape = e["shape"];
    if (!Array.isArray(shape))
      throw new SafetensorsError(`${where}: shape is ${describeJsonType(shape)}, not an array`, file);
    const count = elementCount(shape as number[], where, file);
    const offs = e["data_offsets"];
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    ) {
      throw new SafetensorsError(
        `${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offs)}`,
        file,
      );
    }
    const [b, en] = offs as [number, number];
    if (en < b) throw new SafetensorsError(`${where}: data_offsets [${b}, ${en}] end before they begin`, file);
    if (en > dataBytes) {
      throw new SafetensorsError(
        `${where}: data_offsets [${b}, ${en}] out of range: the data part has only ${dataBytes} bytes (truncated file?)`,
        file,
      );
    }
    const expected = count * DTYPE_BYTES[dtype];
    if (en - b !== expected) {
      throw new SafetensorsError(
        `${where}: size mismatch: ${dtype} shape ${JSON.stringify(shape)} needs ${expected} bytes, data_offsets [${b}, ${en}] span ${en - b}`,
        file,
      );
    }
    tensors.push({ name, dtype, shape: [...(shape as number[])], begin: dataStart + b, end: dataStart + en });
  }

  // The tensors must tile the data part: sorted by offset, each begins where the previous ended.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  let prev: string | undefined;
  for (const t of tensors) {
    if (t.begin < at) {
      throw new SafetensorsError(
        `tensor "${t.name}" overlaps tensor "${prev ?? ""}" (data_offsets [${t.begin - dataStart}, ${t.end - dataStart}])`,
        file,
      );
    }
    if (t.begin > at) {
      throw new SafetensorsError(
        `gap of ${t.begin - at} bytes in the data before tensor "${t.name}" (data_offsets [${t.begin - dataStart}, ${t.end - dataStart}])`,
        file,
      );
    }
    at = t.end;
    prev = t.name;
  }
  if (at !== fileSize) {
    throw new SafetensorsError(
      `${fileSize - at} bytes after the last tensor's data are not described by the header`,
      file,
    );
  }
  return { headerBytes, dataStart, fileSize, metadata, tensors };
}

// ---------------------------------------------------------------------------------------------
// Reading from disk

/**
 * A Node Buffer as a plain Uint8Array over the same memory. (Public functions take
 * `Uint8Array | Buffer` because the @types/node in use predates TypeScript's generic typed arrays,
 * so a Buffer does not type-check as a Uint8Array.)
 */
function bytesOf(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** N from the first 8 bytes, checked against the limit and the file size before anything is allocated. */
function headerLengthOf(prefix: Uint8Array, fileSize: number, file: string | undefined): number {
  if (prefix.length < 8 || fileSize < 8)
    throw new SafetensorsError(
      `truncated file: ${Math.min(fileSize, prefix.length)} bytes, fewer than the 8-byte header length`,
      file,
    );
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(
      `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`,
      file,
    );
  const headerBytes = Number(n);
  if (8 + headerBytes > fileSize)
    throw new SafetensorsError(
      `header length ${headerBytes} is larger than the file allows (${fileSize} bytes in all): truncated or corrupt`,
      file,
    );
  return headerBytes;
}

/** safeRead's refusal (a FIFO, a device, a directory) as a SafetensorsError naming the file. */
function refusal(err: unknown, path: string): unknown {
  return err instanceof FileRefusedError
    ? new SafetensorsError(`${err.detail}; a checkpoint must be a regular file`, path)
    : err;
}

/** Reads exactly `length` bytes at `position` into `out` (a SafetensorsError if the file ends first). */
function readExactSync(fd: number, out: Uint8Array, position: number, path: string, what: string): void {
  let got = 0;
  while (got < out.length) {
    const n = fs.readSync(fd, out, got, out.length - got, position + got);
    if (n === 0) throw new SafetensorsError(`truncated while reading ${what} (the file shrank?)`, path);
    got += n;
  }
}

async function readExact(
  fh: fsp.FileHandle,
  out: Uint8Array,
  position: number,
  path: string,
  what: string,
): Promise<void> {
  let got = 0;
  while (got < out.length) {
    const { bytesRead } = await fh.read(out, got, out.length - got, position + got);
    if (bytesRead === 0) throw new SafetensorsError(`truncated while reading ${what} (the file shrank?)`, path);
    got += bytesRead;
  }
}

function headerFromFdSync(fd: number, size: number, path: string): SafetensorsHeader {
  const prefix = new Uint8Array(Math.min(8, size));
  readExactSync(fd, prefix, 0, path, "the header length");
  const headerBytes = headerLengthOf(prefix, size, path);
  const header = new Uint8Array(headerBytes);
  readExactSync(fd, header, 8, path, "the header");
  return parseHeaderBytes(header, size, path);
}

async function headerFromHandle(fh: fsp.FileHandle, size: number, path: string): Promise<SafetensorsHeader> {
  const prefix = new Uint8Array(Math.min(8, size));
  await readExact(fh, prefix, 0, path, "the header length");
  const headerBytes = headerLengthOf(prefix, size, path);
  const header = new Uint8Array(headerBytes);
  await readExact(fh, header, 8, path, "the header");
  return parseHeaderBytes(header, size, path);
}

function openSync(path: string): { fd: number; size: number } {
  try {
    return openRegularSync(path);
  } catch (e) {
    throw refusal(e, path);
  }
}

async function open(path: string): Promise<{ handle: fsp.FileHandle; size: number }> {
  try {
    return await openRegular(path);
  } catch (e) {
    throw refusal(e, path);
  }
}

/**
 * Reads and validates the header of a safetensors file without reading its tensor data: one
 * fstat, then the first 8 bytes and the N header bytes (N checked first). Offsets are absolute.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const { handle, size } = await open(path);
  try {
    return await headerFromHandle(handle, size, path);
  } finally {
    await handle.close();
  }
}

/** Synchronous `readSafetensorsHeader`. */
export function readSafetensorsHeaderSync(path: string): SafetensorsHeader {
  const { fd, size } = openSync(path);
  try {
    return headerFromFdSync(fd, size, path);
  } finally {
    fs.closeSync(fd);
  }
}

function checkWholeSize(header: SafetensorsHeader, path: string): void {
  if (header.fileSize > READ_LIMITS.checkpointBytes) {
    throw new SafetensorsError(
      `is ${header.fileSize} bytes, over the ${READ_LIMITS.checkpointBytes}-byte limit for reading a whole checkpoint`,
      path,
    );
  }
}

function decoded(header: SafetensorsHeader, tensors: DecodedTensor[]): DecodedSafetensors {
  return { metadata: header.metadata, tensors, byName: new Map(tensors.map((t) => [t.name, t])) };
}

/**
 * Reads and decodes a whole safetensors file: the header first (validated against the file size),
 * then each tensor's bytes into its own array, so the file is never held twice. Files over
 * READ_LIMITS.checkpointBytes are refused.
 */
export async function readSafetensors(path: string): Promise<DecodedSafetensors> {
  const { handle, size } = await open(path);
  try {
    const header = await headerFromHandle(handle, size, path);
    checkWholeSize(header, path);
    const tensors: DecodedTensor[] = [];
    for (const t of header.tensors) {
      const bytes = new Uint8Array(t.end - t.begin);
      await readExact(handle, bytes, t.begin, path, `tensor "${t.name}"`);
      tensors.push({ ...t, data: decodeOwned(t.dtype, bytes, path) });
    }
    return decoded(header, tensors);
  } finally {
    await handle.close();
  }
}

/** Synchronous `readSafetensors`. */
export function readSafetensorsSync(path: string): DecodedSafetensors {
  const { fd, size } = openSync(path);
  try {
    const header = headerFromFdSync(fd, size, path);
    checkWholeSize(header, path);
    return decoded(header, tensorsFromFdSync(fd, header.tensors, path));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads one tensor of a file whose header was read with `readSafetensorsHeader`, reading only its
 * bytes. Throws a SafetensorsError if the file has changed size since.
 */
export async function readSafetensorsTensor(
  path: string,
  header: SafetensorsHeader,
  name: string,
): Promise<DecodedTensor> {
  const info = header.tensors.find((t) => t.name === name);
  if (info === undefined) throw new SafetensorsError(`no tensor named "${name}"`, path);
  const { handle, size } = await open(path);
  try {
    if (size !== header.fileSize)
      throw new SafetensorsError(
        `file changed size since its header was read (${header.fileSize} → ${size} bytes)`,
        path,
      );
    const bytes = new Uint8Array(info.end - info.begin);
    await readExact(handle, bytes, info.begin, path, `tensor "${name}"`);
    return { ...info, data: decodeOwned(info.dtype, bytes, path) };
  } finally {
    await handle.close();
  }
}

/**
 * Reads the tensors of `path` that `wanted` selects, given the header's entry of each, reading only
 * their bytes: a reader that needs some tensors (the parameters, not the optimizer state) checks
 * the header first and never allocates for the rest. Throws a SafetensorsError if the file has
 * changed size since `header` was read.
 */
export function readSafetensorsTensorsSync(
  path: string,
  header: SafetensorsHeader,
  wanted: (t: TensorInfo) => boolean,
): DecodedTensor[] {
  const { fd, size } = openSync(path);
  try {
    if (size !== header.fileSize)
      throw new SafetensorsError(
        `file changed size since its header was read (${header.fileSize} → ${size} bytes)`,
        path,
      );
    return tensorsFromFdSync(fd, header.tensors.filter(wanted), path);
  } finally {
    fs.closeSync(fd);
  }
}

/** Each tensor's bytes read from `fd` into its own decoded array (the file is never held whole). */
function tensorsFromFdSync(fd: number, infos: readonly TensorInfo[], path: string): DecodedTensor[] {
  return infos.map((t) => {
    const bytes = new Uint8Array(t.end - t.begin);
    readExactSync(fd, bytes, t.begin, path, `tensor "${t.name}"`);
    return { ...t, data: decodeOwned(t.dtype, bytes, path) };
  });
}

/**
 * The value of metadata `key` parsed as JSON (the trainer stores `params`, `stats` and `optimizer`
 * as JSON strings), or undefined when the key is absent. Parsed only when asked for, so a value
 * that is not JSON troubles only the reader that needs it: that reader gets a SafetensorsError
 * naming the file and the key (never quoting the value).
 */
export function metadataJson(metadata: Readonly<Record<string, string>>, key: string, file?: string): unknown {
  if (!Object.hasOwn(metadata, key)) return undefined;
  const parsed = tryParseJson(metadata[key] as string);
  if (!parsed.ok) throw new SafetensorsError(`__metadata__ "${key}" is not valid JSON: ${parsed.problem}`, file);
  return parsed.value;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes a whole file held in memory. Each tensor's data is copied into its own (aligned) typed
 * array, so the result does not keep `buf` alive and is safe to mutate.
 *
 * Dtype → array: F32 → Float32Array; F64 → Float64Array; I32 → Int32Array; U32 → Uint32Array;
 * I16/U16/I8/U8 → the matching typed array; BOOL → Uint8Array (0/1); F16, BF16, F8_E5M2 and
 * F8_E4M3 (the "fn" variant: no infinities) → Float32Array (exact); I64 and U64 → Float64Array
 * (exact up to 2^53 in magnitude, rounded to the nearest double beyond).
 */
export function decodeSafetensors(input: Uint8Array | Buffer, file?: string): DecodedSafetensors {
  const buf = bytesOf(input);
  const header = parseSafetensorsHeader(buf, buf.length, file);
  const tensors = header.tensors.map(
    (t): DecodedTensor => ({ ...t, data: decodeTensorBytes(t.dtype, buf, t.begin, t.end) }),
  );
  return { metadata: header.metadata, tensors, byName: new Map(tensors.map((t) => [t.name, t])) };
}

/** Decodes the little-endian bytes `buf[begin, end)` of one tensor of `dtype`. */
export function decodeTensorBytes(dtype: SafetensorsDtype, buf: Uint8Array, begin: number, end: number): DecodedArray {
  const size = DTYPE_BYTES[dtype];
  const bytes = end - begin;
  if (bytes < 0 || bytes % size !== 0 || end > buf.length)
    throw new SafetensorsError(`${dtype} data of ${bytes} bytes at [${begin}, ${end}) is invalid`);
  const n = bytes / size;
  const view = new DataView(buf.buffer, buf.byteOffset + begin, bytes);
  // Same-width types: copy the bytes (aligned by construction of the new buffer) and view them.
  const copy = (): ArrayBuffer => {
    const ab = new ArrayBuffer(bytes);
    new Uint8Array(ab).set(buf.subarray(begin, end));
    return ab;
  };
  switch (dtype) {
    case "U8":
      return new Uint8Array(copy());
    case "BOOL": {
      const out = new Uint8Array(copy());
      for (let i = 0; i < n; i++)
        if ((out[i] as number) > 1)
          throw new SafetensorsError(`BOOL tensor holds byte ${out[i] as number} at element ${i} (must be 0 or 1)`);
      return out;
    }
    case "I8":
      return new Int8Array(copy());
    case "F32":
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copy());
      return fill(new Float32Array(n), (i) => view.getFloat32(i * 4, true));
    case "I32":
      if (LITTLE_ENDIAN_HOST) return new Int32Array(copy());
      return fill(new Int32Array(n), (i) => view.getInt32(i * 4, true));
    case "U32":
      if (LITTLE_ENDIAN_HOST) return new Uint32Array(copy());
      return fill(new Uint32Array(n), (i) => view.getUint32(i * 4, true));
    case "F64":
      if (LITTLE_ENDIAN_HOST) return new Float64Array(copy());
      return fill(new Float64Array(n), (i) => view.getFloat64(i * 8, true));
    case "I16":
      if (LITTLE_ENDIAN_HOST) return new Int16Array(copy());
      return fill(new Int16Array(n), (i) => view.getInt16(i * 2, true));
    case "U16":
      if (LITTLE_ENDIAN_HOST) return new Uint16Array(copy());
      return fill(new Uint16Array(n), (i) => view.getUint16(i * 2, true));
    case "F16": {
      const table = float16Table();
      return fill(new Float32Array(n), (i) => table[view.getUint16(i * 2, true)] as number);
    }
    case "BF16": {
      // bfloat16 is the top half of a float32: shift the bits into place.
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case "F8_E5M2": {
      // E5M2 is the top byte of a float16.
      const table = float16Table();
      return fill(new Float32Array(n), (i) => table[view.getUint8(i) << 8] as number);
    }
    case "F8_E4M3":
      return fill(new Float32Array(n), (i) => float8e4m3ToNumber(view.getUint8(i)));
    case "I64":
      return fill(new Float64Array(n), (i) => Number(view.getBigInt64(i * 8, true)));
    case "U64":
      return fill(new Float64Array(n), (i) => Number(view.getBigUint64(i * 8, true)));
  }
}

/**
 * Decodes bytes that were read for this tensor alone (an exact, fresh buffer): same-width
 * little-endian dtypes take the buffer as it is instead of copying it.
 */
function decodeOwned(dtype: SafetensorsDtype, bytes: Uint8Array, file: string): DecodedArray {
  try {
    if (LITTLE_ENDIAN_HOST && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
      const ab = bytes.buffer;
      switch (dtype) {
        case "F32":
          return new Float32Array(ab);
        case "F64":
          return new Float64Array(ab);
        case "I32":
          return new Int32Array(ab);
        case "U32":
          return new Uint32Array(ab);
        case "I16":
          return new Int16Array(ab);
        case "U16":
          return new Uint16Array(ab);
        case "I8":
          return new Int8Array(ab);
        case "U8":
          return bytes;
        default:
          break;
      }
    }
    return decodeTensorBytes(dtype, bytes, 0, bytes.length);
  } catch (e) {
    if (e instanceof SafetensorsError && e.file === undefined) throw new SafetensorsError(e.message, file);
    throw e;
  }
}

function fill<T extends { length: number; [i: number]: number }>(out: T, f: (i: number) => number): T {
  for (let i = 0; i < out.length; i++) out[i] = f(i);
  return out;
}

let f16Table: Float32Array | undefined;
function float16Table(): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) f16Table[b] = float16ToNumber(b);
  }
  return f16Table;
}

/** IEEE 754 half precision bits → number. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits (the top half of a float32) → number. */
export function bfloat16ToNumber(bits: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = (bits & 0xffff) << 16;
  return f[0] as number;
}

/** float8 E4M3 "fn" bits (bias 7, no infinities, S.1111.111 is NaN) → number. */
export function float8e4m3ToNumber(bits: number): number {
  const sign = bits & 0x80 ? -1 : 1;
  const exp = (bits >> 3) & 0xf;
  const frac = bits & 0x7;
  if (exp === 0xf && frac === 0x7) return Number.NaN;
  if (exp === 0) return sign * frac * 2 ** -9;
  return sign * (1 + frac / 8) * 2 ** (exp - 7);
}
