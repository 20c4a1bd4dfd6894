// Checks that a TaskData is what the trainer can turn into tensors: the right typed arrays, the
// right lengths for n and the declared shapes, token ids below the vocabulary, class labels below
// the class count, finite floats. Custom tasks go through it with their name in the message; the
// built-in tasks go through it as a final check.
import type { InputKind, OutputKind, Split, TaskData } from "./task";

/** Throws an Error starting with `${label}: ` at the first problem found. */
export function validateTaskData(data: TaskData, label: string): void {
  const fail: Fail = (msg) => {
    throw new Error(`${label}: ${msg}`);
  };
  if (typeof data !== "object" || data === null) fail(`expected a TaskData object, got ${describe(data)}`);
  checkInput(data.input, fail);
  checkOutput(data.output, fail);
  checkSplit(data.train, "train", data.input, data.output, fail);
  checkSplit(data.test, "test", data.input, data.output, fail);
  if (data.train.n < 1) fail("train has n = 0; a task needs at least one training example");
}

type Fail = (msg: string) => never;

function isPositiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1;
}

function checkInput(input: InputKind | undefined, fail: Fail): void {
  if (typeof input !== "object" || input === null)
    fail(`input must be { kind: "tokens", vocab, length } or { kind: "features", dim }, got ${describe(input)}`);
  if (input.kind === "tokens") {
    if (!isPositiveInt(input.vocab)) fail(`input.vocab must be a positive integer, got ${describe(input.vocab)}`);
    if (!isPositiveInt(input.length)) fail(`input.length must be a positive integer, got ${describe(input.length)}`);
  } else if (input.kind === "features") {
    if (!isPositiveInt(input.dim)) fail(`input.dim must be a positive integer, got ${describe(input.dim)}`);
    const seq = input.sequence;
    if (seq !== undefined) {
      // A custom task may lay out sequences too: the layout must cut `dim` exactly.
      if (typeof seq !== "object" || seq === null || !isPositiveInt(seq.length) || !isPositiveInt(seq.tokenDim))
        fail(`input.sequence must be { length, tokenDim } of positive integers, got ${describe(seq)}`);
      if (seq.length * seq.tokenDim !== input.dim)
        fail(`input.sequence: length·tokenDim = ${seq.length}·${seq.tokenDim} must equal input.dim ${input.dim}`);
    }
  } else {
    fail(`input.kind must be "tokens" or "features", got ${describe((input as { kind: unknown }).kind)}`);
  }
}

function checkOutput(output: OutputKind | undefined, fail: Fail): void {
  if (typeof output !== "object" || output === null)
    fail(`output must be { kind: "classes", count } or { kind: "regression", dim }, got ${describe(output)}`);
  if (output.kind === "classes") {
    if (!isPositiveInt(output.count)) fail(`output.count must be a positive integer, got ${describe(output.count)}`);
  } else if (output.kind === "regression") {
    if (!isPositiveInt(output.dim)) fail(`output.dim must be a positive integer, got ${describe(output.dim)}`);
  } else {
    fail(`output.kind must be "classes" or "regression", got ${describe((output as { kind: unknown }).kind)}`);
  }
}

function checkSplit(split: Split | undefined, name: string, input: InputKind, output: OutputKind, fail: Fail): void {
  if (typeof split !== "object" || split === null) fail(`${name} must be a split { n, x, y }, got ${describe(split)}`);
  const n = split.n;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
    fail(`${name}.n must be a non-negative integer, got ${describe(n)}`);

  const { x, y } = split;
  if (input.kind === "tokens") {
    if (!(x instanceof Int32Array)) fail(`${name}.x must be an Int32Array of token ids, got ${typeName(x)}`);
    if (x.length !== n * input.length)
      fail(`${name}.x has length ${x.length}, expected n·length = ${n}·${input.length} = ${n * input.length}`);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < 0 || v >= input.vocab)
        fail(`${name}.x[${i}] = ${v} (row ${Math.floor(i / input.length)}) is not a token id in [0, ${input.vocab})`);
    }
  } else {
    if (!(x instanceof Float32Array)) fail(`${name}.x must be a Float32Array of features, got ${typeName(x)}`);
    if (x.length !== n * input.dim)
      fail(`${name}.x has length ${x.length}, expected n·dim = ${n}·${input.dim} = ${n * input.dim}`);
    const bad = firstNonFinite(x);
    if (bad >= 0) fail(`${name}.x[${bad}] = ${x[bad]} (row ${Math.floor(bad / input.dim)}) is not finite`);
  }

  if (output.kind === "classes") {
    if (!(y instanceof Int32Array)) fail(`${name}.y must be an Int32Array of class labels, got ${typeName(y)}`);
    if (y.length !== n) fail(`${name}.y has length ${y.length}, expected n = ${n}`);
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (v < 0 || v >= output.count) fail(`${name}.y[${i}] = ${v} is not a class label in [0, ${output.count})`);
    }
  } else {
    if (!(y instanceof Float32Array))
      fail(`${name}.y must be a Float32Array of regression targets, got ${typeName(y)}`);
    if (y.length !== n * output.dim)
      fail(`${name}.y has length ${y.length}, expected n·dim = ${n}·${output.dim} = ${n * output.dim}`);
    const bad = firstNonFinite(y);
    if (bad >= 0) fail(`${name}.y[${bad}] = ${y[bad]} (row ${Math.floor(bad / output.dim)}) is not finite`);
  }
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // v - v is NaN for ±Infinity and NaN, 0 otherwise: one comparison per element.
    if (v - v !== 0) return i;
  }
  return -1;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === undefined || v === null) return String(v);
  return typeName(v);
}
