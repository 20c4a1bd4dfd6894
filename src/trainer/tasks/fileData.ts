// Tasks read from files: .npy (x and targets in separate arrays), .csv (header row, numeric columns)
// and .json ({ x, y } arrays or an array of records). Paths are relative to the experiment file's
// folder. Every error names the file as the user wrote it and, where there is one, the line (CSV),
// record (JSON) or element (.npy) at fault.
import { readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { Rng } from "../../sdk/rng";
import type { FileDataSpec } from "../../sdk/spec";
import { parseNpy, type NpyArray } from "./npy";
import type { Split, TaskContext, TaskData } from "./task";

type Targets = FileDataSpec["targets"];

/** One file (or .npy pair) read into memory: features and targets, row-major. */
interface Table {
  n: number;
  dim: number;
  x: Float32Array;
  /** Int32Array of class indices (targets "classes") or Float32Array [n, yDim] (regression). */
  y: Int32Array | Float32Array;
  yDim: number;
  /** CSV and JSON records: the columns used, by name, so a separate test file is read the same way. */
  columns?: { inputs: string[]; target: string };
}

type Format = "npy" | "csv" | "json";

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  if (ext === ".npy") return "npy";
  if (ext === ".csv") return "csv";
  if (ext === ".json") return "json";
  throw new Error(`${path}: unsupported file type "${ext || "(none)"}" (expected .json, .csv or .npy)`);
}

function readFile(ctx: TaskContext, path: string): Buffer {
  try {
    return readFileSync(resolve(ctx.baseDir, path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "file not found" : err.code === "EISDIR" ? "is a directory" : err.message;
    throw new Error(`${path}: ${why} (resolved to ${resolve(ctx.baseDir, path)})`);
  }
}

/**
 * The rows (0-based, data rows of the file) of each split when one file is split by `testFraction`
 * with `splitSeed`; rows keep their file order within each split. The one computation of the
 * split, for the data and for the run folder's data.json.
 */
export function fileSplitRows(
  rows: number,
  testFraction: number,
  splitSeed: number,
): { train: Int32Array; test: Int32Array } {
  const nTrain = rows - Math.round(testFraction * rows);
  const order = new Rng(splitSeed, "split").permutation(rows);
  return { train: order.slice(0, nTrain).sort(), test: order.slice(nTrain).sort() };
}

export function loadFileTask(spec: FileDataSpec, ctx: TaskContext): TaskData {
  const { targets, testFraction, splitSeed } = spec;
  if (targets !== "classes" && targets !== "regression")
    throw new Error(`file task: targets must be "classes" or "regression", got ${String(targets)}`);
  const format = formatOf(spec.train);
  if (spec.test !== undefined && formatOf(spec.test) !== format)
    throw new Error(`${spec.test}: the test file must have the same type as the train file ${spec.train}`);

  let train: Table;
  let test: Table | undefined;
  if (format === "npy") {
    if (spec.inputColumns !== undefined || spec.targetColumn !== undefined)
      throw new Error(
        `${spec.train}: inputColumns/targetColumn apply to .csv and .json files; for .npy give the targets as trainTargets/testTargets`,
      );
    if (spec.trainTargets === undefined)
      throw new Error(`${spec.train}: a .npy task needs trainTargets, the .npy file of the training targets`);
    train = loadNpyPair(ctx, spec.train, spec.trainTargets, targets);
    if (spec.test !== undefined) {
      if (spec.testTargets === undefined)
        throw new Error(`${spec.test}: a .npy test file needs testTargets, the .npy file of the test targets`);
      test = loadNpyPair(ctx, spec.test, spec.testTargets, targets);
    } else if (spec.testTargets !== undefined) {
      throw new Error(`${spec.testTargets}: testTargets is given but test (the test inputs) is not`);
    }
  } else {
    if (spec.trainTargets !== undefined || spec.testTargets !== undefined)
      throw new Error(
        `${spec.train}: trainTargets/testTargets apply to .npy files; for .${format} choose the target with targetColumn`,
      );
    const load = (path: string, s: FileDataSpec) => {
      const text = readFile(ctx, path).toString("utf8");
      return format === "csv" ? parseCsvTable(text, path, s) : parseJsonTable(text, path, s);
    };
    train = load(spec.train, spec);
    // The test file's columns are picked by the train file's names, whatever their order there.
    const cols = train.columns;
    if (spec.test !== undefined)
      test = load(spec.test, cols ? { ...spec, inputColumns: cols.inputs, targetColumn: cols.target } : spec);
  }

  let trainSplit: Split;
  let testSplit: Split;
  if (test !== undefined) {
    if (test.dim !== train.dim)
      throw new Error(`${spec.test}: ${test.dim} input features per row, but ${spec.train} has ${train.dim}`);
    if (test.yDim !== train.yDim)
      throw new Error(`${spec.test}: ${test.yDim} targets per row, but ${spec.train} has ${train.yDim}`);
    if (train.n < 1) throw new Error(`${spec.train}: no rows`);
    trainSplit = { n: train.n, x: train.x, y: train.y };
    testSplit = { n: test.n, x: test.x, y: test.y };
  } else {
    if (!(testFraction >= 0 && testFraction < 1))
      throw new Error(`file task: testFraction must be in [0, 1), got ${testFraction}`);
    const nTest = Math.round(testFraction * train.n);
    const nTrain = train.n - nTest;
    if (nTrain < 1)
      throw new Error(
        `${spec.train}: ${train.n} rows leave no training rows after holding out testFraction = ${testFraction}`,
      );
    const rows = fileSplitRows(train.n, testFraction, splitSeed);
    trainSplit = takeRows(train, rows.train);
    testSplit = takeRows(train, rows.test);
  }

  const output: TaskData["output"] =
    targets === "classes"
      ? { kind: "classes", count: Math.max(maxLabel(trainSplit.y), maxLabel(testSplit.y)) + 1 }
      : { kind: "regression", dim: train.yDim };
  return { input: { kind: "features", dim: train.dim }, output, train: trainSplit, test: testSplit };
}

function maxLabel(y: Int32Array | Float32Array): number {
  let m = 0;
  for (let i = 0; i < y.length; i++) if (y[i]! > m) m = y[i]!;
  return m;
}

function takeRows(t: Table, rows: Int32Array): Split {
  const n = rows.length;
  const x = new Float32Array(n * t.dim);
  const y = t.y instanceof Int32Array ? new Int32Array(n) : new Float32Array(n * t.yDim);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    x.set(t.x.subarray(r * t.dim, (r + 1) * t.dim), i * t.dim);
    if (y instanceof Int32Array) y[i] = t.y[r]!;
    else y.set(t.y.subarray(r * t.yDim, (r + 1) * t.yDim), i * t.yDim);
  }
  return { n, x, y };
}

// ---------------------------------------------------------------- class labels

const MAX_CLASS = 2 ** 31 - 2;

function isClassIndex(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= MAX_CLASS;
}

// ---------------------------------------------------------------- .npy

function loadNpyPair(ctx: TaskContext, xPath: string, yPath: string, targets: Targets): Table {
  if (formatOf(yPath) !== "npy") throw new Error(`${yPath}: targets of a .npy task must be a .npy file too`);
  const xa = parseNpy(readFile(ctx, xPath), xPath);
  const ya = parseNpy(readFile(ctx, yPath), yPath);
  if (xa.shape.length === 0) throw new Error(`${xPath}: expected an array of rows [n, ...], got a scalar`);
  if (ya.shape.length === 0) throw new Error(`${yPath}: expected an array of targets [n, ...], got a scalar`);
  const n = xa.shape[0]!;
  if (ya.shape[0] !== n)
    throw new Error(
      `${yPath}: shape (${ya.shape.join(", ")}) has ${ya.shape[0]} rows, but ${xPath} (shape (${xa.shape.join(", ")})) has ${n}`,
    );
  const dim = xa.shape.slice(1).reduce((a, b) => a * b, 1);
  const yDim = ya.shape.slice(1).reduce((a, b) => a * b, 1);
  if (n > 0 && dim === 0) throw new Error(`${xPath}: shape (${xa.shape.join(", ")}) has no features per row`);
  const x = npyToFloat32(xa, xPath, dim);

  if (targets === "classes") {
    if (yDim !== 1)
      throw new Error(`${yPath}: class targets must have shape (n,) or (n, 1), got (${ya.shape.join(", ")})`);
    const y = new Int32Array(n);
    const d = ya.data;
    for (let i = 0; i < n; i++) {
      const v = Number(d[i]!);
      if (!isClassIndex(v))
        throw new Error(`${yPath}: element ${i} is not a class index (a non-negative integer): ${String(d[i])}`);
      y[i] = v;
    }
    return { n, dim, x, y, yDim: 1 };
  }
  if (yDim === 0) throw new Error(`${yPath}: shape (${ya.shape.join(", ")}) has no targets per row`);
  return { n, dim, x, y: npyToFloat32(ya, yPath, yDim), yDim };
}

function npyToFloat32(a: NpyArray, label: string, rowSize: number): Float32Array {
  const d = a.data;
  let out: Float32Array;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
  } else {
    out = d instanceof Float32Array ? d : Float32Array.from(d);
  }
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    if (v - v !== 0) {
      // Float64 values beyond float32's range become Infinity here; say so.
      const orig = Number(d[i]!);
      const why = Number.isFinite(orig) ? `${orig} overflows float32` : `${orig} is not finite`;
      throw new Error(`${label}: element ${i} (row ${Math.floor(i / Math.max(1, rowSize))}): ${why}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- column selection (CSV, JSON records)

interface Columns {
  inputs: number[];
  target: number;
}

function selectColumns(names: string[], file: string, spec: FileDataSpec): Columns {
  const index = new Map<string, number>();
  names.forEach((name, i) => {
    if (index.has(name)) throw new Error(`${file}: duplicate column "${name}" in the header`);
    index.set(name, i);
  });
  const find = (name: string, what: string): number => {
    const i = index.get(name);
    if (i === undefined)
      throw new Error(
        `${file}: no column "${name}" (${what}); the columns are ${names.map((c) => `"${c}"`).join(", ")}`,
      );
    return i;
  };
  if (names.length < 2 && spec.inputColumns === undefined)
    throw new Error(`${file}: needs at least two columns (inputs and a target), found ${names.length}`);
  const target = spec.targetColumn !== undefined ? find(spec.targetColumn, "targetColumn") : names.length - 1;
  let inputs: number[];
  if (spec.inputColumns !== undefined) {
    if (spec.inputColumns.length === 0) throw new Error(`${file}: inputColumns is empty`);
    inputs = spec.inputColumns.map((c) => find(c, "in inputColumns"));
    if (inputs.includes(target))
      throw new Error(`${file}: the target column "${names[target]}" is also listed in inputColumns`);
  } else {
    inputs = names.map((_, i) => i).filter((i) => i !== target);
  }
  return { inputs, target };
}

// ---------------------------------------------------------------- CSV

/** Splits one CSV line into fields (RFC 4180 quoting; quoted fields cannot span lines). */
function splitCsvLine(line: string, file: string, lineNo: number): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let field = "";
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0)
          throw new Error(`${file}:${lineNo}: unterminated quoted field (quoted fields cannot contain line breaks)`);
        field += line.slice(j, q);
        if (line[q + 1] === '"') {
          field += '"';
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // Allow spaces between the closing quote and the comma.
      while (line[i] === " " || line[i] === "\t") i++;
      out.push(field);
      if (i >= line.length) return out;
      if (line[i] !== ",")
        throw new Error(`${file}:${lineNo}: unexpected text after a quoted field at column ${i + 1}`);
      i++;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

function parseNumberField(raw: string, file: string, lineNo: number, column: string): number {
  const t = raw.trim();
  if (t === "") throw new Error(`${file}:${lineNo}: column "${column}" is empty`);
  const v = Number(t);
  if (Number.isNaN(v))
    throw new Error(`${file}:${lineNo}: column "${column}" is not a number (${JSON.stringify(raw)})`);
  if (!Number.isFinite(v))
    throw new Error(`${file}:${lineNo}: column "${column}" is not finite (${JSON.stringify(raw)})`);
  return v;
}

export function parseCsvTable(text: string, file: string, spec: FileDataSpec): Table {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // An upper bound on the rows, to allocate once.
  let lineCount = 1;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineCount++;

  let pos = 0;
  let lineNo = 0;
  /** The next line without its terminator, or undefined at the end. */
  const nextLine = (): string | undefined => {
    if (pos > text.length || (pos === text.length && lineNo > 0)) return undefined;
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(pos, end - 1) : text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    return line;
  };

  let headerLine = nextLine();
  while (headerLine !== undefined && headerLine.trim() === "") headerLine = nextLine();
  if (headerLine === undefined) throw new Error(`${file}: empty file (a header row is required)`);
  const names = splitCsvLine(headerLine, file, lineNo).map((s) => s.trim());
  names.forEach((name, i) => {
    if (name === "") throw new Error(`${file}:${lineNo}: header column ${i + 1} has no name`);
  });
  if (names.every((c) => !Number.isNaN(Number(c))))
    throw new Error(
      `${file}:${lineNo}: the first row looks like data (${JSON.stringify(headerLine)}); a header row with column names is required`,
    );
  const { inputs, target } = selectColumns(names, file, spec);
  const dim = inputs.length;
  const classes = spec.targets === "classes";
  const targetName = names[target]!;

  const x = new Float32Array(lineCount * dim);
  const yClasses = classes ? new Int32Array(lineCount) : undefined;
  const yReg = classes ? undefined : new Float32Array(lineCount);
  let n = 0;
  for (let line = nextLine(); line !== undefined; line = nextLine()) {
    if (line.trim() === "") continue;
    const fields = splitCsvLine(line, file, lineNo);
    if (fields.length !== names.length)
      throw new Error(`${file}:${lineNo}: ${fields.length} fields, expected ${names.length} (as in the header)`);
    for (let j = 0; j < dim; j++) {
      const c = inputs[j]!;
      x[n * dim + j] = parseNumberField(fields[c]!, file, lineNo, names[c]!);
    }
    const raw = fields[target]!;
    const v = parseNumberField(raw, file, lineNo, targetName);
    if (yClasses) {
      if (!isClassIndex(v))
        throw new Error(
          `${file}:${lineNo}: column "${targetName}" is not a class index (a non-negative integer): ${JSON.stringify(raw)}`,
        );
      yClasses[n] = v;
    } else {
      yReg![n] = v;
    }
    n++;
  }
  return {
    n,
    dim,
    x: x.slice(0, n * dim),
    y: yClasses ? yClasses.slice(0, n) : yReg!.slice(0, n),
    yDim: 1,
    columns: { inputs: inputs.map((i) => names[i]!), target: targetName },
  };
}

// ---------------------------------------------------------------- JSON

export function parseJsonTable(text: string, file: string, spec: FileDataSpec): Table {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(doc)) return jsonRecords(doc, file, spec);
  if (typeof doc === "object" && doc !== null && "x" in doc && "y" in doc) {
    if (spec.inputColumns !== undefined || spec.targetColumn !== undefined)
      throw new Error(
        `${file}: inputColumns/targetColumn apply to arrays of records; this file has { "x", "y" } arrays`,
      );
    return jsonXY(doc as { x: unknown; y: unknown }, file, spec.targets);
  }
  throw new Error(
    `${file}: expected { "x": number[][], "y": number[] | number[][] } or an array of records [{ "column": number, ... }]`,
  );
}

function jsonNumber(v: unknown, file: string, where: string): number {
  if (typeof v !== "number") throw new Error(`${file}: ${where} is not a number (${JSON.stringify(v) ?? String(v)})`);
  return v;
}

/** A JSON array of numbers or of equal-length number arrays, flattened row-major. */
function jsonMatrix(rows: unknown, file: string, name: string): { n: number; width: number; values: Float64Array } {
  if (!Array.isArray(rows)) throw new Error(`${file}: "${name}" must be an array`);
  const n = rows.length;
  if (n === 0) return { n, width: 1, values: new Float64Array(0) };
  const nested = Array.isArray(rows[0]);
  const width = nested ? (rows[0] as unknown[]).length : 1;
  if (nested && width === 0) throw new Error(`${file}: ${name}[0] is empty`);
  const values = new Float64Array(n * width);
  for (let i = 0; i < n; i++) {
    const row: unknown = rows[i];
    if (nested) {
      if (!Array.isArray(row)) throw new Error(`${file}: ${name}[${i}] is not an array (${name}[0] is)`);
      if (row.length !== width)
        throw new Error(`${file}: ${name}[${i}] has ${row.length} values, expected ${width} (as ${name}[0])`);
      for (let j = 0; j < width; j++) values[i * width + j] = jsonNumber(row[j], file, `${name}[${i}][${j}]`);
    } else {
      if (Array.isArray(row)) throw new Error(`${file}: ${name}[${i}] is an array but ${name}[0] is a number`);
      values[i] = jsonNumber(row, file, `${name}[${i}]`);
    }
  }
  return { n, width, values };
}

function jsonXY(doc: { x: unknown; y: unknown }, file: string, targets: Targets): Table {
  const xm = jsonMatrix(doc.x, file, "x");
  const ym = jsonMatrix(doc.y, file, "y");
  if (ym.n !== xm.n) throw new Error(`${file}: "x" has ${xm.n} rows but "y" has ${ym.n}`);
  const x = Float32Array.from(xm.values);
  if (targets === "classes") {
    if (ym.width !== 1)
      throw new Error(`${file}: class targets "y" must be a list of class indices, got rows of ${ym.width} values`);
    const y = new Int32Array(ym.n);
    for (let i = 0; i < ym.n; i++) {
      const v = ym.values[i]!;
      if (!isClassIndex(v)) throw new Error(`${file}: y[${i}] is not a class index (a non-negative integer): ${v}`);
      y[i] = v;
    }
    return { n: xm.n, dim: xm.width, x, y, yDim: 1 };
  }
  return { n: xm.n, dim: xm.width, x, y: Float32Array.from(ym.values), yDim: ym.width };
}

function jsonRecords(records: unknown[], file: string, spec: FileDataSpec): Table {
  if (records.length === 0) throw new Error(`${file}: the array of records is empty`);
  const first = records[0];
  if (typeof first !== "object" || first === null || Array.isArray(first))
    throw new Error(`${file}: [0] is not a record (an object of column: number)`);
  const names = Object.keys(first);
  const { inputs, target } = selectColumns(names, file, spec);
  const dim = inputs.length;
  const n = records.length;
  const x = new Float32Array(n * dim);
  const classes = spec.targets === "classes";
  const y = classes ? new Int32Array(n) : new Float32Array(n);
  const targetName = names[target]!;
  const get = (rec: Record<string, unknown>, i: number, name: string): number => {
    if (!(name in rec)) throw new Error(`${file}: [${i}]: column "${name}" is missing`);
    const v = rec[name];
    if (typeof v !== "number")
      throw new Error(`${file}: [${i}]: column "${name}" is not a number (${JSON.stringify(v) ?? String(v)})`);
    return v;
  };
  for (let i = 0; i < n; i++) {
    const rec = records[i];
    if (typeof rec !== "object" || rec === null || Array.isArray(rec))
      throw new Error(`${file}: [${i}] is not a record (an object of column: number)`);
    const r = rec as Record<string, unknown>;
    for (let j = 0; j < dim; j++) x[i * dim + j] = get(r, i, names[inputs[j]!]!);
    const v = get(r, i, targetName);
    if (classes && !isClassIndex(v))
      throw new Error(`${file}: [${i}]: column "${targetName}" is not a class index (a non-negative integer): ${v}`);
    y[i] = v;
  }
  return { n, dim, x, y, yDim: 1, columns: { inputs: inputs.map((i) => names[i]!), target: targetName } };
}
