// The analyses folder of a run: what the analyzer writes and the extension (or anyone) reads.
// Documented for humans in docs/analysis-format.md; keep the two in step. No tensor library and
// no `vscode` here.
//
//   analyses/<name>.jsonl   one per analysis: a header line, then one record per analysed checkpoint
//   analyses/archive/       earlier files of an analysis re-run with other settings (never deleted)
//
// Appending one complete line per checkpoint makes the files incremental (the analyzer skips the
// steps already present) and safe to read while they grow (a partial last line is ignored).
//
// Reading is bounded like metrics.jsonl's (lineScanner.ts): regular files only, in chunks, lines
// over READ_LIMITS.lineBytes skipped as bad lines; Python's NaN / Infinity tokens are accepted.
import * as fs from "node:fs";
import { join } from "node:path";
import { ANALYSIS_NAMES, type AnalysisName } from "../sdk/spec";
import { tryParseJson } from "./jsonText";
import { type ScanOptions, type ScannedLine, scanLines, scanLinesSync, scanText } from "./lineScanner";
import { BAD_LINE_DETAILS_KEPT, BAD_LINE_NUMBERS_KEPT, type BadLine } from "./metricsReader";
import { ANALYSES_DIR } from "./runFormat";
import { READ_LIMITS, readAtSync } from "./safeRead";

export { ANALYSIS_NAMES, type AnalysisName };

/**
 * The analyses that need only a run's checkpoints and run.json, never the experiment file's code:
 * the ones an untrusted workspace (or a run whose model cannot be rebuilt) gets. The others need
 * the model (src/trainer/analyzer/analyses.ts, `MODEL_ANALYSES`).
 */
export const CHECKPOINT_ANALYSES: readonly AnalysisName[] = ["weights", "conservation"];

export const ANALYSIS_FORMAT_VERSION = 1;

export function analysisPath(runDir: string, name: AnalysisName): string {
  return join(runDir, ANALYSES_DIR, `${name}.jsonl`);
}

/** First line of every analysis file. */
export interface AnalysisHeader {
  format: "learning-mechanics/analysis";
  formatVersion: number;
  analysis: AnalysisName;
  /** The settings the records were computed with (the experiment file's, with overrides applied). */
  settings: Record<string, unknown>;
  /** e.g. "learning-mechanics 0.2.0". */
  producer: string;
  createdAt: string;
  /** Influence analyses: the training examples scored, in the order of every record's `values`. */
  examples?: ExampleInfo[];
  /** Influence analyses: what the query set is, in words (e.g. "64 test examples"). */
  query?: string;
  /** Kernel analysis: the step whose kernel and representations are the reference (the first checkpoint, normally 0). */
  referenceStep?: number;
  /** In-context analysis: the baselines on the same test sequences (they do not depend on the checkpoint). */
  baselines?: IclBaselines;
}

/**
 * The in-context baselines (docs/analyses.md#in-context-learning): element k − 1 is the mean
 * squared error at context position k of a prediction of y_k from the k − 1 pairs before it.
 */
export interface IclBaselines {
  /** Minimum-norm least squares (numpy.linalg.lstsq); 0 pairs: the prediction 0. */
  leastSquares: number[];
  /** Ridge with λ = `ridgeLambda`: Bayes-optimal for w ~ N(0, I/dim). */
  ridge: number[];
  /** noise²·dim. */
  ridgeLambda: number;
  /** The label noise σ² (the floor every predictor's error stays above). */
  noiseVariance: number;
  /** Test sequences averaged over. */
  sequences: number;
  dim: number;
}

/** The model's in-context loss at one checkpoint. */
export interface IclRecord {
  step: number;
  /** Element k − 1: the test set's mean squared error of the prediction of y_k (at x_k's token), k = 1 … points. */
  loss: number[];
  /** Their mean: the test loss as training logs it. */
  mean: number;
}

/** A training example named in an influence header. */
export interface ExampleInfo {
  /** Index into the training split. */
  index: number;
  /** Class label, or undefined for regression. */
  label?: number;
  /** A short human description, e.g. "23 + 71 = 94 (mod 97)". */
  text: string;
  /** The example's index in the task, as the run folder's data.json names it (`train.indices[index]`). */
  dataIndex?: number;
}

/** Per-parameter statistics at one checkpoint. */
export interface TensorMovement {
  shape: number[];
  /** ‖W(t)‖_F */
  norm: number;
  /** ‖W(t) − W(0)‖_F / ‖W(0)‖_F; null when ‖W(0)‖ is 0. */
  relChange: number | null;
}

export interface WeightsRecord {
  step: number;
  /** Per parameter tensor, by checkpoint name. */
  tensors: Record<string, TensorMovement>;
  /** ‖w(t)‖ over all parameters. */
  paramNorm: number;
  /** ‖w(t) − w(0)‖ / ‖w(0)‖ over all parameters. */
  relChange: number | null;
}

export interface KernelRecord {
  step: number;
  /** Number of probe examples. */
  probe: number;
  /** Empirical-NTK kernel distance from the reference step (Fort et al. 2020). */
  kernelDistance: number;
  /** Centred kernel–target alignment of K_t (Baratin et al. 2021). */
  kta: number;
  /** Linear CKA of each layer's representation against the reference step (Kornblith et al. 2019). */
  cka: Record<string, number>;
  /** Per-parameter-group kernel distance, when the kernel decomposes by layer. */
  layerKernelDistance?: Record<string, number>;
}

export interface FourierRecord {
  step: number;
  /** Gini coefficient of the Fourier-basis norms of the embedding (Nanda et al. 2023). */
  gini: number;
  /** Mean over the embedding's columns (an MLP's hidden neurons) of each column's Fourier Gini. */
  neuronGini?: number;
  /** Norm of the embedding along each frequency k = 1 … (p−1)/2. */
  frequencyNorms: number[];
  keyFrequencies: number[];
  /** Loss on all pairs with the logits restricted to the key frequencies. */
  restrictedLoss: number;
  /** Loss on the training pairs with the key frequencies removed from the logits. */
  excludedLoss: number;
  /** Sum of squared weights over all parameters. */
  sumSquares: number;
}

export interface TracinRecord {
  step: number;
  /** Learning rate η at this checkpoint. */
  lr: number;
  /** η ∇ℓ(z_i) · ∇ℓ(query) for each example of the header's `examples`. */
  values: number[];
  /**
   * Measured error of the projection at this checkpoint: the rms over pairs of 8 training examples
   * of (projected − exact gradient dot product) / (‖g_i‖ ‖g_j‖).
   */
  projectionError?: number;
}

export interface ChainTrace {
  /** Training loss L(w) at each kept draw. */
  loss: number[];
  /** Query loss φ(w) at each kept draw. */
  query: number[];
}

export interface BifRecord {
  step: number;
  /** −Cov(ℓ_i, φ) for each example of the header's `examples`. */
  values: number[];
  /** Standard error of each value, from the spread of the per-chain covariances (null with one chain). */
  stdErr?: (number | null)[];
  traces: ChainTrace[];
  /** Split R-hat of the loss traces across chains (1 = mixed). */
  rhat: number | null;
  /** Effective sample size of the loss traces. */
  ess: number | null;
  /** Set when the chains have not mixed or a chain diverged. */
  warning?: string;
}

/** Sharpness at one checkpoint (docs/analyses.md, "Sharpness and the edge of stability"). */
export interface SharpnessRecord {
  step: number;
  /** Largest eigenvalues of the Hessian of the full-batch training objective, descending. */
  eigenvalues: number[];
  /** λ_max(P⁻¹H) with Adam's preconditioner at this checkpoint; null for SGD or without Adam state (step 0). */
  preconditioned: number | null;
  /** η of the next update (logged `lr`, else the schedule's); null when unknown. */
  lr: number | null;
  /** Stability threshold of `thresholdOf`: 2/η (GD), (2+2β)/η (momentum), (2+2β₁)/((1−β₁)η) (Adam). */
  threshold: number | null;
  thresholdOf: "sharpness" | "preconditioned";
  /** How Hessian-vector products were computed. */
  method: "exact" | "finite-difference";
  /** Estimated absolute error of eigenvalues[0]: Lanczos residual + |quotient(ε) − quotient(ε/2)|. */
  error: number;
  /** The same for `preconditioned`. */
  preconditionedError?: number;
  /** Hessian-vector products (error checks included). */
  iterations: number;
  /** Full-batch training objective L_n(w) at the checkpoint. */
  loss: number;
}

/** Local learning coefficient at one checkpoint (docs/analyses.md, "Local learning coefficient"). */
export interface LlcRecord {
  step: number;
  /** λ̂ = nβ(E_w[L_n(w)] − L_n(w*)) over the pooled draws of the completed chains; null when all diverged. */
  llc: number | null;
  /** Standard error from the spread of the per-chain estimates (null with one chain). */
  stdErr: number | null;
  /** λ̂ of each completed chain. */
  chainLlc: number[];
  /** L_n(w*). */
  loss: number;
  nBeta: number;
  /** L_n at each kept draw, per chain. */
  traces: number[][];
  rhat: number | null;
  ess: number | null;
  warning?: string;
}

/** One symmetry's conserved quantities at one checkpoint (Kunin et al. 2021; docs/analyses.md). */
export interface ConservedLaw {
  kind: "rescale" | "translation" | "scale";
  /** Where: "layers.0 → layers.1", "out", "residual stream". */
  layer: string;
  /** Number of conserved quantities (hidden units, readout features + bias, 1 for scale). */
  count: number;
  /** ‖Q(t)‖₂ over the quantities. */
  norm: number;
  /** Σ_u Q_u(t). */
  sum: number;
  /** ‖Q(t) − Q(0)‖ / ‖Q(0)‖ (null when Q(0) = 0). */
  drift: number | null;
  /** The drift the law predicts, ‖Q_pred(t) − Q(0)‖ / ‖Q(0)‖ (null without a prediction). */
  predicted: number | null;
  /** ‖Q(t) − Q_pred(t)‖ / ‖Q(0)‖: what the prediction leaves unexplained. */
  residual: number | null;
  /** How far the prediction holds: "exact", "leading order" (up to the η² gradient term), "decay only" (AdamW), "none". */
  quality: "exact" | "leading order" | "decay only" | "none";
}

export interface ConservationRecord {
  step: number;
  /** Learning rate η of the last update before this checkpoint (NaN → null when unknown). */
  lr: number | null;
  /** Σ η_j over the updates so far: the gradient-flow time t the laws are stated in. */
  time: number | null;
  /** a_t: the factor weight decay alone shrinks the parameters by (1 without decay; null when not predicted). */
  decay: number | null;
  /** The prediction used, in words, e.g. "SGD, coupled L2 λ = 0.01: Q(t) = a_t² Q(0), a_t = ∏(1 − η_j λ)". */
  law: string;
  symmetries: ConservedLaw[];
  /** What was not detected or predicted, and why. */
  notes: string[];
}

export interface AnalysisRecords {
  weights: WeightsRecord;
  kernel: KernelRecord;
  fourier: FourierRecord;
  tracin: TracinRecord;
  bif: BifRecord;
  sharpness: SharpnessRecord;
  llc: LlcRecord;
  conservation: ConservationRecord;
  icl: IclRecord;
}

export interface AnalysisFile<N extends AnalysisName> {
  header: AnalysisHeader;
  /** In file order; a record for a step appears at most once. */
  records: AnalysisRecords[N][];
  /** The file ends with an incomplete line (being written, or cut by a crash). */
  partialTail: boolean;
  /** Bytes up to and including the last "\n" (where a cut last line starts), set by the readers. */
  completeBytes?: number;
  /** 1-based numbers of complete lines that are not valid records (skipped); the first BAD_LINE_NUMBERS_KEPT. */
  badLines: number[];
  /** How many complete lines were not valid records, in all (set by the readers; absent means `badLines.length`). */
  badLineCount?: number;
  /** The first few bad lines with the reason (set by the readers). */
  badLineDetails?: BadLine[];
}

/** Problems of a parsed header; empty when valid. */
function headerProblems(value: unknown, expected?: AnalysisName): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return ["the first line is not a JSON object"];
  const h = value as Record<string, unknown>;
  const problems: string[] = [];
  if (h["format"] !== "learning-mechanics/analysis") problems.push('format must be "learning-mechanics/analysis"');
  if (typeof h["formatVersion"] !== "number") problems.push("formatVersion must be a number");
  else if (h["formatVersion"] > ANALYSIS_FORMAT_VERSION)
    problems.push(`formatVersion ${h["formatVersion"]} is newer than this reader (${ANALYSIS_FORMAT_VERSION})`);
  if (!ANALYSIS_NAMES.includes(h["analysis"] as AnalysisName))
    problems.push(`analysis must be one of ${ANALYSIS_NAMES.join(", ")}`);
  else if (expected && h["analysis"] !== expected)
    problems.push(`analysis is "${String(h["analysis"])}", expected "${expected}"`);
  if (typeof h["settings"] !== "object" || h["settings"] === null) problems.push("settings must be an object");
  return problems;
}

/** A record line: a JSON object with a finite numeric `step` (the fields are the writer's contract), or why not. */
function parseRecord(line: string): { ok: true; record: { step: number } } | { ok: false; reason: string } {
  const parsed = tryParseJson(line);
  if (!parsed.ok) return { ok: false, reason: `not valid JSON: ${parsed.problem}` };
  const value = parsed.value;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, reason: "not a JSON object" };
  const step = (value as { step?: unknown }).step;
  return typeof step === "number" && Number.isFinite(step)
    ? { ok: true, record: value as { step: number } }
    : { ok: false, reason: "no finite numeric step" };
}

/** JSON with object keys sorted, so equal settings compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export class AnalysisFileError extends Error {}

/** Builds an analysis file from its lines, one at a time, holding only the records. */
class AnalysisLines<N extends AnalysisName> {
  private header: AnalysisHeader | undefined;
  private readonly byStep = new Map<number, AnalysisRecords[N]>();
  private readonly badLines: number[] = [];
  private readonly badLineDetails: BadLine[] = [];
  private badLineCount = 0;
  private partialTail = false;
  private completeBytes = 0;
  /** Lines up to `completeBytes` (the number of the last terminated line). */
  private completeLines = 0;
  /** The header line as read, to tell an appended file from a replaced one (AnalysisFileReader). */
  headerBytes: Buffer | undefined;

  constructor(
    private readonly name: N,
    private readonly file: string,
    private readonly maxLineBytes: number,
  ) {}

  readonly onLine = (l: ScannedLine): void => {
    if (l.terminated) {
      this.completeBytes = l.end + 1;
      this.completeLines = l.number;
    }
    if (l.number === 1) {
      this.onHeader(l);
      return;
    }
    if (l.bytes === undefined) {
      this.bad(l, `longer than the ${this.maxLineBytes}-byte line limit`);
      return;
    }
    const text = l.bytes.toString("utf8");
    if (text.trim() === "") return;
    const r = parseRecord(text);
    if (r.ok) this.byStep.set(r.record.step, r.record as AnalysisRecords[N]);
    else this.bad(l, r.reason);
  };

  private onHeader(l: ScannedLine): void {
    const being = l.terminated ? "" : " (the file is empty or being written)";
    if (l.bytes === undefined)
      throw new AnalysisFileError(
        `${this.file}: the first line is longer than the ${this.maxLineBytes}-byte line limit${being}`,
      );
    const parsed = tryParseJson(l.bytes.toString("utf8"));
    if (!parsed.ok) throw new AnalysisFileError(`${this.file}: the first line is not a JSON header${being}`);
    const problems = headerProblems(parsed.value, this.name);
    if (problems.length > 0) throw new AnalysisFileError(`${this.file}: ${problems.join("; ")}`);
    this.header = parsed.value as AnalysisHeader;
    if (l.terminated) this.headerBytes = Buffer.from(l.bytes);
  }

  /** Where a scan of what was appended since starts: after the last complete line. */
  resumePoint(): { offset: number; line: number } {
    // The unterminated tail (if any) is read again, whole, with what follows it.
    this.partialTail = false;
    return { offset: this.completeBytes, line: this.completeLines };
  }

  private bad(l: ScannedLine, reason: string): void {
    if (!l.terminated) {
      this.partialTail = true;
      return;
    }
    this.badLineCount++;
    if (this.badLines.length < BAD_LINE_NUMBERS_KEPT) this.badLines.push(l.number);
    if (this.badLineDetails.length < BAD_LINE_DETAILS_KEPT) this.badLineDetails.push({ line: l.number, reason });
  }

  finish(): AnalysisFile<N> {
    if (this.header === undefined)
      throw new AnalysisFileError(
        `${this.file}: the first line is not a JSON header (the file is empty or being written)`,
      );
    return {
      header: this.header,
      records: [...this.byStep.values()].sort((a, b) => a.step - b.step),
      partialTail: this.partialTail,
      completeBytes: this.completeBytes,
      badLines: this.badLines,
      badLineCount: this.badLineCount,
      badLineDetails: this.badLineDetails,
    };
  }
}

/**
 * Parses an analysis file's text. Throws AnalysisFileError when the header is missing or invalid;
 * tolerates a partial last line and skips bad lines (counted, with reasons). A step written twice
 * keeps its last record (a resumed analyzer may have rewritten it).
 */
export function parseAnalysisText<N extends AnalysisName>(
  text: string,
  name: N,
  file = `${name}.jsonl`,
  options: ScanOptions = {},
): AnalysisFile<N> {
  const lines = new AnalysisLines(name, file, options.maxLineBytes ?? READ_LIMITS.lineBytes);
  scanText(text, lines.onLine, options);
  return lines.finish();
}

/**
 * Reads `analyses/<name>.jsonl` of a run; undefined when it does not exist. Read in chunks, line by
 * line (a regular file only: FileRefusedError otherwise); AnalysisFileError for a bad header.
 */
export function readAnalysis<N extends AnalysisName>(
  runDir: string,
  name: N,
  options: ScanOptions = {},
): AnalysisFile<N> | undefined {
  const path = analysisPath(runDir, name);
  const lines = new AnalysisLines(name, path, options.maxLineBytes ?? READ_LIMITS.lineBytes);
  try {
    scanLinesSync(path, lines.onLine, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return lines.finish();
}

/**
 * Reads one analysis file again and again, parsing only what was appended since the last read:
 * the panels re-read a run's analyses on every record the analyzer writes, and a whole re-read of
 * a large TracIn file (10,000 examples × 200 checkpoints, 48 MB) blocked the extension host for
 * about 0.4 s each time (bench/panelLoad.ts). The file is read whole again when it was replaced
 * (another inode: the analyzer archives and restarts), shrank, or its header line changed.
 * Records returned share objects with later reads: callers must not mutate them.
 */
export class AnalysisFileReader<N extends AnalysisName> {
  private lines: AnalysisLines<N> | undefined;
  private identity = "";
  /** Whole reads and incremental ones, for tests and the benchmark. */
  readonly reads = { whole: 0, appended: 0 };

  constructor(
    private readonly runDir: string,
    private readonly name: N,
    private readonly options: ScanOptions = {},
  ) {}

  read(): AnalysisFile<N> | undefined {
    const path = analysisPath(this.runDir, this.name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        this.lines = undefined;
        return undefined;
      }
      throw e;
    }
    const identity = `${stat.dev}:${stat.ino}`;
    const previous = this.lines;
    if (
      previous !== undefined &&
      stat.isFile() &&
      identity === this.identity &&
      this.sameHeader(path, previous, stat.size)
    ) {
      const from = previous.resumePoint();
      if (stat.size >= from.offset) {
        scanLinesSync(path, previous.onLine, { ...this.options, from });
        this.reads.appended++;
        return previous.finish();
      }
    }
    const lines = new AnalysisLines(this.name, path, this.options.maxLineBytes ?? READ_LIMITS.lineBytes);
    this.lines = undefined;
    try {
      scanLinesSync(path, lines.onLine, this.options);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    this.reads.whole++;
    const file = lines.finish();
    // Only a file whose header line is complete can be continued.
    if (lines.headerBytes !== undefined) {
      this.lines = lines;
      this.identity = identity;
    }
    return file;
  }

  /** Whether the file still starts with the header line read before. */
  private sameHeader(path: string, lines: AnalysisLines<N>, size: number): boolean {
    const header = lines.headerBytes;
    if (header === undefined || size < header.length) return false;
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch {
      return false;
    }
    try {
      return readAtSync(fd, header.length, 0).equals(header);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** AnalysisFileReaders by run folder and analysis, the `capacity` most recently used kept. */
export class AnalysisCache {
  private readonly readers = new Map<string, AnalysisFileReader<AnalysisName>>();

  constructor(private readonly capacity = 64) {}

  read<N extends AnalysisName>(runDir: string, name: N): AnalysisFile<N> | undefined {
    const key = `${runDir}\0${name}`;
    // The key holds the name: the reader under it reads that analysis.
    const reader = (this.readers.get(key) as AnalysisFileReader<N> | undefined) ?? new AnalysisFileReader(runDir, name);
    this.readers.delete(key);
    this.readers.set(key, reader);
    for (const oldest of this.readers.keys()) {
      if (this.readers.size <= this.capacity) break;
      this.readers.delete(oldest);
    }
    return reader.read();
  }
}

/** Async twin of `readAnalysis`, for the extension host. */
export async function readAnalysisAsync<N extends AnalysisName>(
  runDir: string,
  name: N,
  options: ScanOptions = {},
): Promise<AnalysisFile<N> | undefined> {
  const path = analysisPath(runDir, name);
  const lines = new AnalysisLines(name, path, options.maxLineBytes ?? READ_LIMITS.lineBytes);
  try {
    await scanLines(path, lines.onLine, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return lines.finish();
}
