// What the analysis panels show, built from a run folder: its manifest, metrics and analyses/
// files (docs/analysis-format.md) turned into the messages of src/shared/panels/.
// Pure functions over data already read, plus one loader; no `vscode` import, so `node --test`
// covers them.
import { existsSync } from "node:fs";
import { basename, extname, join } from "node:path";
import {
  analyzeGrokking,
  assessRegime,
  type GrokkingReport,
  type GrokkingSettings,
  type NamedSeries,
} from "../measures/index";
import type { AnalysisOverrides, RunRef } from "./panels/common";
import type { GrokCurves, GrokReport, GrokRun, IndicatorSeries } from "./panels/grokking";
import type { BifChains, InfluenceMatrix, InfluenceRun } from "./panels/influence";
import type { LayerSeries, LazyRichMetric, LazyRichRun } from "./panels/lazyRich";
import {
  ANALYSIS_NAMES,
  type AnalysisCache,
  type AnalysisFile,
  type AnalysisName,
  readAnalysis,
} from "./analysisFormat";
import { EXPERIMENT_EXTENSIONS } from "./experimentFile";
import { readMetrics } from "./metricsReader";
import { METRICS_FILE, type MetricsRecord, type RunManifest } from "./runFormat";

/** Everything the panels need from one run folder. */
export interface RunData {
  runDir: string;
  manifest: RunManifest;
  metrics: MetricsRecord[];
  /** Lines of metrics.jsonl that could not be read (the panels say how many). */
  badLines?: number;
  analyses: { [N in AnalysisName]?: AnalysisFile<N> };
  /** Analysis files that exist but could not be read, with why. */
  unreadable: { analysis: AnalysisName; message: string }[];
}

/**
 * Reads a run's metrics and analyses; a broken analysis file is reported, never thrown. Only the
 * grokking view reads the metrics: the others can skip a file that may hold millions of lines.
 * With `analyses` (the extension host's cache), only what was appended since the last read is parsed.
 */
export function loadRunData(
  runDir: string,
  manifest: RunManifest,
  options: { metrics?: boolean; analyses?: AnalysisCache | undefined } = {},
): RunData {
  const metricsPath = join(runDir, METRICS_FILE);
  const read = options.metrics !== false && existsSync(metricsPath) ? readMetrics(metricsPath) : undefined;
  const metrics = read?.records ?? [];
  const analyses: RunData["analyses"] = {};
  const unreadable: RunData["unreadable"] = [];
  for (const name of ANALYSIS_NAMES) {
    try {
      const file = options.analyses ? options.analyses.read(runDir, name) : readAnalysis(runDir, name);
      if (file) (analyses as Record<string, unknown>)[name] = file;
    } catch (e) {
      unreadable.push({ analysis: name, message: e instanceof Error ? e.message : String(e) });
    }
  }
  return { runDir, manifest, metrics, badLines: read?.badLines.length ?? 0, analyses, unreadable };
}

function config(manifest: RunManifest): {
  task?: Record<string, unknown>;
  model?: Record<string, unknown>;
  analyses?: Record<string, Record<string, unknown>>;
} {
  return manifest.config as ReturnType<typeof config>;
}

// ---------------------------------------------------------------------------------- grokking

/** Chance accuracy and test-set size where the task says them (modular arithmetic, sparse parity). */
function chanceOf(manifest: RunManifest): { chanceAccuracy?: number; testSetSize?: number } {
  const task = config(manifest).task;
  if (task?.["kind"] === "modularArithmetic" && typeof task["p"] === "number") {
    const p = task["p"];
    const pairs = task["op"] === "div" ? p * (p - 1) : p * p;
    const fraction = typeof task["trainFraction"] === "number" ? task["trainFraction"] : undefined;
    return {
      chanceAccuracy: 1 / p,
      ...(fraction !== undefined ? { testSetSize: pairs - Math.round(pairs * fraction) } : {}),
    };
  }
  if (task?.["kind"] === "sparseParity") return { chanceAccuracy: 0.5 };
  return {};
}

/** The detector settings of a run: its experiment's `analyses.grokking`, with the task's chance level. */
export function grokkingSettings(manifest: RunManifest): Partial<GrokkingSettings> {
  const g = config(manifest).analyses?.["grokking"] ?? {};
  const num = (k: string) => (typeof g[k] === "number" ? { [k]: g[k] as number } : {});
  return { ...num("trainThreshold"), ...num("testThreshold"), ...num("hold"), ...chanceOf(manifest) };
}

function grokCurves(records: readonly MetricsRecord[]): GrokCurves {
  const col = (name: string) => records.map((r) => (typeof r[name] === "number" ? (r[name] as number) : null));
  return {
    step: records.map((r) => r.step),
    trainAcc: col("train_acc"),
    testAcc: col("test_acc"),
    trainLoss: col("train_loss"),
    testLoss: col("test_loss"),
    paramNorm: col("param_norm"),
  };
}

/** Progress measures from the analyses, with the direction in which their jump foretells generalization. */
function grokIndicatorSeries(data: RunData): (IndicatorSeries & { direction: "up" | "down" })[] {
  const out: (IndicatorSeries & { direction: "up" | "down" })[] = [];
  const kernel = data.analyses.kernel?.records;
  if (kernel?.length)
    out.push({
      name: "kernel–target alignment",
      steps: kernel.map((r) => r.step),
      values: kernel.map((r) => r.kta ?? null),
      direction: "up",
    });
  const fourier = data.analyses.fourier?.records;
  if (fourier?.length) {
    const steps = fourier.map((r) => r.step);
    out.push({
      name: "Fourier Gini of the embedding",
      steps,
      values: fourier.map((r) => r.gini ?? null),
      direction: "up",
    });
    if (fourier.some((r) => typeof r.neuronGini === "number"))
      out.push({
        name: "per-neuron Fourier Gini",
        steps,
        values: fourier.map((r) => r.neuronGini ?? null),
        direction: "up",
      });
    out.push({
      name: "restricted loss",
      steps,
      values: fourier.map((r) => r.restrictedLoss ?? null),
      direction: "down",
    });
    out.push({ name: "excluded loss", steps, values: fourier.map((r) => r.excludedLoss ?? null), direction: "up" });
    out.push({
      name: "sum of squared weights",
      steps,
      values: fourier.map((r) => r.sumSquares ?? null),
      direction: "down",
    });
  }
  return out;
}

const PHASE_NAMES = {
  "pre-memorization": "memorization",
  "circuit-formation": "circuit formation",
  generalized: "cleanup / generalized",
} as const;

export function toGrokReport(r: GrokkingReport): GrokReport {
  const hits = [
    r.indicators.weightNormPeak && { ...r.indicators.weightNormPeak, name: "weight-norm peak" },
    r.indicators.testLossTurnaround && { ...r.indicators.testLossTurnaround, name: "test-loss turnaround" },
    ...r.indicators.jumps.map((j) => j.indicator),
  ].filter((x): x is NonNullable<typeof x> => x !== undefined);
  const opt = <K extends string>(k: K, v: number | boolean | undefined) =>
    v === undefined || (typeof v === "number" && !Number.isFinite(v)) ? {} : { [k]: v };
  return {
    verdict: r.verdict.kind,
    ...opt("tMem", r.tMem),
    ...opt("tGen", r.tGen),
    ...opt("delay", r.delay),
    ...opt("ratio", r.ratio),
    ...opt("testAccAtMem", r.testAccAtMem),
    ...opt("atChance", r.testAccAtChance),
    phases: r.phases.map((p) => ({ name: PHASE_NAMES[p.kind], fromStep: p.startStep, toStep: p.endStep })),
    indicators: hits.map((h) => ({
      name: h.name,
      step: h.step,
      ...(h.leadTime !== undefined ? { leadTime: h.leadTime } : {}),
    })),
  };
}

/** The detector's report on a run, with the analyses' progress measures as jump inputs. */
export function grokkingReport(data: RunData): GrokkingReport {
  const extra: NamedSeries[] = grokIndicatorSeries(data).map((s) => {
    const steps: number[] = [];
    const values: number[] = [];
    s.values.forEach((v, i) => {
      if (v !== null && Number.isFinite(v)) {
        steps.push(s.steps[i]!);
        values.push(v);
      }
    });
    return { name: s.name, steps, values, direction: s.direction };
  });
  return analyzeGrokking(data.metrics, grokkingSettings(data.manifest), extra);
}

export function grokRun(ref: RunRef, data: RunData): GrokRun {
  return {
    ...ref,
    curves: grokCurves(data.metrics),
    report: data.metrics.length ? toGrokReport(grokkingReport(data)) : null,
    indicators: grokIndicatorSeries(data).map(({ direction: _d, ...s }) => s),
  };
}

// ---------------------------------------------------------------------------------- lazy vs rich

/** Values of each tensor at each record, aligned to `steps`. */
function layerSeries(
  records: readonly { step: number }[],
  steps: readonly number[],
  pick: (r: never) => Record<string, number | null> | undefined,
): LayerSeries[] {
  const byStep = new Map(records.map((r) => [r.step, pick(r as never) ?? {}]));
  const layers = new Set<string>();
  for (const v of byStep.values()) for (const k of Object.keys(v)) layers.add(k);
  return [...layers].map((layer) => ({ layer, values: steps.map((s) => byStep.get(s)?.[layer] ?? null) }));
}

export function lazyRichRun(ref: RunRef, data: RunData): LazyRichRun {
  const weights = data.analyses.weights?.records ?? [];
  const kernel = data.analyses.kernel?.records ?? [];
  const steps = [...new Set([...weights.map((r) => r.step), ...kernel.map((r) => r.step)])].sort((a, b) => a - b);
  const missing: LazyRichRun["missing"] = [];
  const why = (analysis: AnalysisName): string => {
    const broken = data.unreadable.find((u) => u.analysis === analysis);
    if (broken) return `analyses/${analysis}.jsonl could not be read: ${broken.message}`;
    const noModel = analysis === "kernel" ? modelAnalysesUnavailable(data.manifest) : undefined;
    if (noModel) return noModel;
    return `not analysed yet (run "Learning Mechanics: Analyze Run")`;
  };
  const note = (metric: LazyRichMetric, analysis: AnalysisName) => missing.push({ metric, reason: why(analysis) });

  const run: LazyRichRun = { ...ref, steps, missing, regime: null };
  if (weights.length) {
    run.relativeWeightChange = layerSeries(weights, steps, (r: (typeof weights)[number]) =>
      Object.fromEntries(Object.entries(r.tensors).map(([k, t]) => [k, t.relChange])),
    );
    run.paramNorm = layerSeries(weights, steps, (r: (typeof weights)[number]) =>
      Object.fromEntries(Object.entries(r.tensors).map(([k, t]) => [k, t.norm])),
    );
  } else {
    note("relativeWeightChange", "weights");
    note("paramNorm", "weights");
  }
  if (kernel.length) {
    const byStep = new Map(kernel.map((r) => [r.step, r]));
    run.kernelDistance = steps.map((s) => byStep.get(s)?.kernelDistance ?? null);
    run.kernelAlignment = steps.map((s) => byStep.get(s)?.kta ?? null);
    run.cka = layerSeries(kernel, steps, (r: (typeof kernel)[number]) => r.cka);
  } else {
    for (const m of ["kernelDistance", "kernelAlignment", "cka"] as const) note(m, "kernel");
  }
  const lastW = weights[weights.length - 1];
  const lastK = kernel[kernel.length - 1];
  if (lastW || lastK) {
    const rwc: Record<string, number> = {};
    // Hidden weight matrices only: a bias that starts at zero has no relative change, and the
    // readout moves by O(1) even when the kernel stays put (the α sweep in src/measures/regime.ts).
    if (lastW) {
      const readout = readoutOf(
        Object.entries(lastW.tensors)
          .filter(([, t]) => t.shape.length >= 2)
          .map(([k]) => k),
      );
      for (const [k, t] of Object.entries(lastW.tensors))
        if (t.relChange !== null && t.shape.length >= 2 && k !== readout) rwc[k] = t.relChange;
    }
    const a = assessRegime({
      ...(lastK && lastK.kernelDistance !== null ? { kernelDistance: lastK.kernelDistance } : {}),
      ...(Object.keys(rwc).length ? { relativeWeightChange: rwc } : {}),
      ...(lastK ? { cka: Object.fromEntries(Object.entries(lastK.cka).filter(([, v]) => v !== null)) } : {}),
    });
    if (a.badge !== "unknown") run.regime = { badge: a.badge, reason: a.reason };
  }
  return run;
}

/**
 * The readout among a model's weight matrices. By name first: our models' `out.*` and `unembed*`,
 * and the usual PyTorch names (`head`, `lm_head`, `classifier`, `readout`, `output`, `fc` as in
 * torchvision's ResNets), as the first segment or the one before the last. Else the matrix of the
 * highest-numbered layer: `layers.N.*` (a deep linear network), `nn.Sequential`'s `N.weight`
 * (also inside a module: `net.N.weight`), and numbered names such as `fc2.weight` or `linear3.weight`.
 */
export function readoutOf(matrices: readonly string[]): string | undefined {
  const named = matrices.find((m) => /^(out|unembed)\b/.test(m) || READOUT_NAME.test(m));
  if (named) return named;
  let best: { name: string; index: number } | undefined;
  for (const m of matrices) {
    const match = /^layers\.(\d+)\./.exec(m) ?? /(?:^|\.)[A-Za-z_]*(\d+)\.[^.]+$/.exec(m);
    if (match && (!best || Number(match[1]) > best.index)) best = { name: m, index: Number(match[1]) };
  }
  return best?.name;
}

/** A readout module's name, as the first segment or the segment before the parameter's name. */
const READOUT_NAME =
  /(?:^|\.)(head|lm_head|classifier|readout|output|fc)\.[^.]+$|^(head|lm_head|classifier|readout|output)\b/;

/**
 * Why the analyses that need the model (kernel, Fourier, TracIn, BIF) are absent from a run that
 * the TypeScript analyzer cannot rebuild the model of: a run naming no experiment file, or one
 * written by a Python script or notebook. Undefined for a TypeScript or JavaScript experiment,
 * whose runs get them by analysing. Read only when the analysis file is absent: a Python run
 * whose script calls `run.watch` has them.
 */
export function modelAnalysesUnavailable(manifest: RunManifest): string | undefined {
  const path = (manifest.experiment as RunManifest["experiment"] | undefined)?.path;
  const howToGet =
    "add run.watch(model, loss_fn, train=...) to the training script, or run `python -m learning_mechanics analyze RUN --model module:factory` (docs/pytorch.md)";
  if (!path)
    return `the run names no experiment file, so there is no model to evaluate; to get these analyses, ${howToGet}`;
  const ext = extname(path).toLowerCase();
  if (EXPERIMENT_EXTENSIONS.includes(ext)) return undefined;
  const what = ext === ".ipynb" ? "a Jupyter notebook" : ext === ".py" ? "a Python script" : `${basename(path)}`;
  return `the run was written by ${what}, whose model the analyzer cannot rebuild; to get these analyses, ${howToGet}`;
}

// ---------------------------------------------------------------------------------- influence

function influenceMatrix(
  file: AnalysisFile<"tracin"> | AnalysisFile<"bif">,
  method: "tracin" | "bif",
  n: number,
): InfluenceMatrix {
  const records = file.records as { step: number; values: (number | null)[] }[];
  const T = records.length;
  const values = new Float32Array(n * T).fill(Number.NaN);
  records.forEach((r, j) => {
    for (let i = 0; i < n; i++) {
      const v = r.values[i];
      if (typeof v === "number") values[i * T + j] = v;
    }
  });
  const query = file.header.query ?? "the query set";
  // The two methods have opposite signs for the same effect: say which way is "helps".
  return {
    method,
    steps: records.map((r) => r.step),
    values,
    query:
      method === "tracin"
        ? `η ∇ℓ(z)·∇ℓ(query), positive: a step on z lowers the loss of ${query}`
        : `−Cov(ℓ(z), loss of ${query}), negative: z helps`,
  };
}

/** The influence panel's data for a run, or undefined when neither influence analysis exists. */
export function influenceRun(ref: RunRef, data: RunData): InfluenceRun | undefined {
  const tracin = data.analyses.tracin;
  const bif = data.analyses.bif;
  const header = (tracin ?? bif)?.header;
  if (!header) return undefined;
  const examples = (header.examples ?? []).map((e) => ({
    index: e.index,
    label: e.label === undefined ? "" : String(e.label),
    text: e.text,
    ...(e.dataIndex === undefined ? {} : { dataIndex: e.dataIndex }),
  }));
  const matrices: InfluenceMatrix[] = [];
  // Both methods are shown on the rows of the first one's examples; a second file over other examples is left out.
  const same = (f: { header: { examples?: unknown } }) =>
    JSON.stringify(f.header.examples ?? []) === JSON.stringify(header.examples ?? []);
  if (tracin && same(tracin)) matrices.push(influenceMatrix(tracin, "tracin", examples.length));
  if (bif && same(bif)) matrices.push(influenceMatrix(bif, "bif", examples.length));
  const bifChains: BifChains[] = (bif?.records ?? []).map((r) => ({
    step: r.step,
    loss: r.traces.map((t) => t.loss),
    ...(r.rhat !== null && Number.isFinite(r.rhat) ? { rHat: r.rhat } : {}),
    ...(r.warning ? { warning: r.warning } : {}),
  }));
  const settings: AnalysisOverrides = {};
  const pickNums = (s: Record<string, unknown> | undefined, keys: readonly string[]) =>
    Object.fromEntries(keys.filter((k) => typeof s?.[k] === "number").map((k) => [k, s![k]]));
  if (tracin) settings.tracin = pickNums(tracin.header.settings, ["every", "projectionDim", "trainExamples"]);
  if (bif)
    settings.bif = pickNums(bif.header.settings, [
      "every",
      "chains",
      "draws",
      "burnIn",
      "thin",
      "epsilon",
      "gamma",
      "nBeta",
      "batchSize",
    ]);
  const kernel = data.analyses.kernel;
  if (kernel) settings.kernel = pickNums(kernel.header.settings, ["every", "probeSize"]);
  return { ...ref, examples, matrices, bifChains, settings };
}
