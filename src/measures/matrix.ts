// Dense row-major Float64 matrices: the one shape every analysis here takes and returns.
// Float64 on purpose: Frobenius inner products of kernels sum n² products, and float32 loses the
// small differences (kernel distance near 0, CKA near 1) the panels show.

/** A dense `rows × cols` matrix, row-major: entry (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** A matrix of the given shape over `data` (copied into a Float64Array when it is not one), zeros when omitted. */
export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`matrix shape must be nonnegative integers, got ${rows}×${cols}`);
  }
  if (data !== undefined && data.length !== rows * cols) {
    throw new RangeError(`matrix ${rows}×${cols} needs ${rows * cols} values, got ${data.length}`);
  }
  const values =
    data === undefined ? new Float64Array(rows * cols) : data instanceof Float64Array ? data : Float64Array.from(data);
  return { rows, cols, data: values };
}

/** A matrix from nested rows (tests and small literals). */
export function fromRows(rows: ReadonlyArray<ArrayLike<number>>): Matrix {
  const cols = rows.length === 0 ? 0 : rows[0]!.length;
  const m = matrix(rows.length, cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) throw new RangeError(`row ${i} has ${row.length} values, expected ${cols}`);
    for (let j = 0; j < cols; j++) m.data[i * cols + j] = row[j]!;
  });
  return m;
}

export function get(m: Matrix, i: number, j: number): number {
  return m.data[i * m.cols + j]!;
}

export function transpose(m: Matrix): Matrix {
  const out = matrix(m.cols, m.rows);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.data[j * m.rows + i] = m.data[i * m.cols + j]!;
  return out;
}

/** A·B. */
export function matMul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new RangeError(`matMul: ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const out = matrix(a.rows, b.cols);
  const { data: o } = out;
  // i-k-j order: the inner loop walks rows of B and of the output contiguously.
  for (let i = 0; i < a.rows; i++) {
    const oRow = i * b.cols;
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k]!;
      if (aik === 0) continue;
      const bRow = k * b.cols;
      for (let j = 0; j < b.cols; j++) o[oRow + j]! += aik * b.data[bRow + j]!;
    }
  }
  return out;
}

/** Aᵀ·B without forming Aᵀ (both n × ·): the cross-covariance shape the CKA feature form needs. */
export function matMulTransA(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows)
    throw new RangeError(`matMulTransA: ${a.rows}×${a.cols} and ${b.rows}×${b.cols} need equal rows`);
  const out = matrix(a.cols, b.cols);
  const { data: o } = out;
  for (let r = 0; r < a.rows; r++) {
    const aRow = r * a.cols;
    const bRow = r * b.cols;
    for (let i = 0; i < a.cols; i++) {
      const ari = a.data[aRow + i]!;
      if (ari === 0) continue;
      const oRow = i * b.cols;
      for (let j = 0; j < b.cols; j++) o[oRow + j]! += ari * b.data[bRow + j]!;
    }
  }
  return out;
}

/** A·Bᵀ without forming Bᵀ (both · × p): Gram matrices. */
export function matMulTransB(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols)
    throw new RangeError(`matMulTransB: ${a.rows}×${a.cols} and ${b.rows}×${b.cols} need equal columns`);
  const out = matrix(a.rows, b.rows);
  const p = a.cols;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += a.data[i * p + k]! * b.data[j * p + k]!;
      out.data[i * b.rows + j] = s;
    }
  }
  return out;
}

/** X·Xᵀ (n×n), computing each symmetric pair once: half the work of matMulTransB(x, x). */
export function gram(x: Matrix): Matrix {
  const n = x.rows;
  const p = x.cols;
  const out = matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += x.data[i * p + k]! * x.data[j * p + k]!;
      out.data[i * n + j] = s;
      out.data[j * n + i] = s;
    }
  }
  return out;
}

/** ⟨A, B⟩_F = Σ_ij A_ij B_ij. */
export function frobeniusInner(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows || a.cols !== b.cols)
    throw new RangeError(`frobeniusInner: ${a.rows}×${a.cols} vs ${b.rows}×${b.cols}`);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** ‖A‖_F. */
export function frobeniusNorm(a: Matrix): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * a.data[i]!;
  return Math.sqrt(s);
}

/** X with each column's mean subtracted (X_c = C X, C = I − 11ᵀ/n). */
export function centerColumns(x: Matrix): Matrix {
  const out = matrix(x.rows, x.cols, Float64Array.from(x.data));
  if (x.rows === 0) return out;
  for (let j = 0; j < x.cols; j++) {
    let mean = 0;
    for (let i = 0; i < x.rows; i++) mean += x.data[i * x.cols + j]!;
    mean /= x.rows;
    for (let i = 0; i < x.rows; i++) out.data[i * x.cols + j]! -= mean;
  }
  return out;
}

/** C K C for a square K (C = I − 11ᵀ/n): K_ij − rowMean_i − colMean_j + grandMean, in O(n²). */
export function doubleCenter(k: Matrix): Matrix {
  if (k.rows !== k.cols) throw new RangeError(`doubleCenter needs a square matrix, got ${k.rows}×${k.cols}`);
  const n = k.rows;
  const rowMean = new Float64Array(n);
  const colMean = new Float64Array(n);
  let grand = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = k.data[i * n + j]!;
      rowMean[i]! += v;
      colMean[j]! += v;
      grand += v;
    }
  }
  for (let i = 0; i < n; i++) {
    rowMean[i]! /= n;
    colMean[i]! /= n;
  }
  grand /= n * n;
  const out = matrix(n, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) out.data[i * n + j] = k.data[i * n + j]! - rowMean[i]! - colMean[j]! + grand;
  return out;
}
