// What a probe child process (probes.ts) reports to the corpus runner, as one JSON line on stdout.
// Types only: shared by the probe and the runner, which are separate bundles.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One reader's answer: its value, or the error it threw (message only: a stack is a finding). */
export type PartResult = { ok: true; value: Json } | { ok: false; error: string; errorName: string };

/** Every part a probe ran, by name (e.g. "index", "hover", "runsView", "panel"). */
export interface ProbeReport {
  parts: Record<string, PartResult>;
}

/** The probes the adapter offers, with their arguments. */
export type ProbeRequest =
  /** Every consumer of run.json: run index, system hover, Runs-view item, analysis panels' data. */
  | { probe: "manifest"; root: string; runDir: string }
  /** One reader of metrics.jsonl. */
  | { probe: "metrics"; runDir: string; reader: MetricsReaderName }
  /** The checkpoint hover over the path of each file given. */
  | { probe: "checkpointHover"; files: string[] }
  /** The analysis panels' data (metrics and analyses/ of a run). */
  | { probe: "panel"; root: string; runDir: string }
  /** A TensorBoard log: the run index's entry for it, and the loss-curves reader's first poll. */
  | { probe: "tensorboard"; root: string; logDir: string };

export type MetricsReaderName = "tailer" | "latest" | "readMetrics" | "panel";

/** Prefix of the report line, so that anything else a module prints is ignored. */
export const REPORT_PREFIX = "@@hostile-probe@@";
