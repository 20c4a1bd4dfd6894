// CRC-32C (Castagnoli), the checksum of TFRecord framing (TensorBoard event files). Node's zlib
// has only the IEEE CRC-32, so this is the table-driven algorithm, eight bytes per step
// ("slicing-by-8"): event records are tens of bytes, and a file of 10⁶ of them is ~50 MB to check.
// Pure: no Node or DOM imports.

const POLY = 0x82f63b78; // reflected Castagnoli polynomial

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) t[i] = ((prev[i] as number) >>> 8) ^ (t0[(prev[i] as number) & 0xff] as number);
    tables.push(t);
  }
  return tables;
})();

// One constant per table (destructuring TABLES in the function went through the iterator protocol
// on every call: 2·10⁶ calls for 10⁶ records, most of the framing's time).
const T0 = TABLES[0] as Uint32Array;
const T1 = TABLES[1] as Uint32Array;
const T2 = TABLES[2] as Uint32Array;
const T3 = TABLES[3] as Uint32Array;
const T4 = TABLES[4] as Uint32Array;
const T5 = TABLES[5] as Uint32Array;
const T6 = TABLES[6] as Uint32Array;
const T7 = TABLES[7] as Uint32Array;

/** CRC-32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a =
      (crc ^
        ((bytes[i] as number) |
          ((bytes[i + 1] as number) << 8) |
          ((bytes[i + 2] as number) << 16) |
          ((bytes[i + 3] as number) << 24))) >>>
      0;
    crc =
      (T7[a & 0xff] as number) ^
      (T6[(a >>> 8) & 0xff] as number) ^
      (T5[(a >>> 16) & 0xff] as number) ^
      (T4[a >>> 24] as number) ^
      (T3[bytes[i + 4] as number] as number) ^
      (T2[bytes[i + 5] as number] as number) ^
      (T1[bytes[i + 6] as number] as number) ^
      (T0[bytes[i + 7] as number] as number);
  }
  for (; i < end; i++) crc = (T0[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The "masked" CRC TFRecord stores: rotated right by 15 bits plus a constant, because a CRC of
 * data that itself holds CRCs is weak (tensorflow/core/lib/hash/crc32c.h).
 */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Masked CRC-32C of `bytes[start, end)`. */
export function maskedCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return maskCrc(crc32c(bytes, start, end));
}
