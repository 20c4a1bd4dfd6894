// The hostile corpus's ONE adapter to the extension-side readers (run index, metrics tailer, latest
// metrics, hover content, Runs view, analysis panels' data). It runs as a child process, one per
// case, so that a reader that hangs or eats memory is measured and killed from outside:
//
//   node --require <rss hook> dist/test-probes/probes.js '<ProbeRequest as JSON>'
//
// and prints one line, REPORT_PREFIX + ProbeReport as JSON. Every call into those modules is in this
// file: when their APIs change, only this file changes. The Runs view imports `vscode`: the runner
// gives it a small stub (NODE_PATH), enough for its real getTreeItem; the rest is the real code.
import * as fs from "node:fs";
import * as path from "node:path";
import { stat } from "node:fs/promises";
import { checkpointHover, systemHover } from "../../src/extension/hoverContent";
import { LatestMetrics } from "../../src/extension/latestMetrics";
import { MetricsTailer } from "../../src/extension/metricsTailer";
import { readRunEntry, RunIndex } from "../../src/extension/runIndex";
import { RunsTreeModel, type RunsNode } from "../../src/extension/runsTree";
import { type RunsItemSources, runsTreeItem } from "../../src/extension/runsView";
import { grokRun, influenceRun, lazyRichRun, loadRunData } from "../../src/shared/analysisViews";
import { readMetrics } from "../../src/shared/metricsReader";
import { readSafetensorsHeader } from "../../src/shared/safetensors";
import { METRICS_FILE, type MetricsRecord, type RunManifest } from "../../src/shared/runFormat";
import { TensorBoardLog } from "../../src/shared/tensorboardLog";
import {
  type Json,
  type MetricsReaderName,
  type PartResult,
  type ProbeReport,
  type ProbeRequest,
  REPORT_PREFIX,
} from "./probeTypes";

async function part(run: () => Json | Promise<Json>): Promise<PartResult> {
  try {
    return { ok: true, value: await run() };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    return { ok: false, error: err.message, errorName: err.name };
  }
}

/** Non-finite or null values among a record's scalars (NaN/Infinity tokens read as non-finite). */
function nonFinite(records: readonly MetricsRecord[]): number {
  let n = 0;
  for (const r of records)
    for (const [k, v] of Object.entries(r))
      if (k !== "step" && k !== "time" && (v === null || !Number.isFinite(v))) n++;
  return n;
}

function validManifest(runDir: string): RunManifest {
  const entry = readRunEntry(runDir);
  if (entry === undefined) throw new Error(`no run.json in ${runDir}`);
  if (entry.status === "invalid") throw new Error(entry.problem);
  return entry.manifest;
}

/** The analysis panels' data for a run: what the grokking, lazy-vs-rich and influence panels show. */
function panelData(runDir: string, manifest: RunManifest): Json {
  const data = loadRunData(runDir, manifest);
  const ref = { runId: runDir, label: path.basename(runDir), colorIndex: 0 };
  const grok = grokRun(ref, data);
  const lazy = lazyRichRun(ref, data);
  const influence = influenceRun(ref, data);
  return {
    metrics: data.metrics.length,
    analyses: Object.keys(data.analyses),
    unreadable: data.unreadable.map((u) => `${u.analysis}: ${u.message}`),
    grokReport: grok.report !== null,
    lazySteps: lazy.steps.length,
    regime: lazy.regime?.badge ?? null,
    influence: influence !== undefined,
  };
}

/** What the Runs view shows for each node (label, description, tooltip), through its real getTreeItem. */
function runsViewItems(index: RunIndex): Json {
  const model = new RunsTreeModel();
  model.sync(index);
  // The items as the view builds them, from explicit sources: no training, no analyzer, and the
  // count of unreadable lines read from the run's real metrics.jsonl.
  const latest = new LatestMetrics();
  const sources: RunsItemSources = {
    hasChildren: (node) => model.children(node).length > 0,
    active: () => undefined,
    analysis: () => undefined,
    badLines: (runDir) => latest.badLines(runDir),
  };
  const items: Json[] = [];
  const visit = (node: RunsNode): void => {
    const item = runsTreeItem(node, sources);
    const tooltip =
      item.tooltip === undefined ? "" : typeof item.tooltip === "string" ? item.tooltip : item.tooltip.value;
    const label = typeof item.label === "string" ? item.label : (item.label?.label ?? "");
    items.push({
      kind: node.kind,
      label,
      description: typeof item.description === "string" ? item.description : "",
      tooltip,
      tooltipIsMarkdown: typeof item.tooltip === "object",
    });
    for (const child of model.children(node)) visit(child);
  };
  for (const root of model.roots()) visit(root);
  return items;
}

async function manifestProbe(root: string, runDir: string): Promise<ProbeReport> {
  const index = new RunIndex([root]);
  const parts: Record<string, PartResult> = {};
  parts["index"] = await part(async () => {
    await index.scan();
    const entry = index.get(runDir);
    return {
      entries: index.size,
      status: entry?.status ?? "absent",
      problem: entry?.status === "invalid" ? entry.problem : null,
    };
  });
  const entry = parts["index"].ok ? index.get(runDir) : undefined;
  if (entry !== undefined && entry.status !== "invalid") {
    const manifest = entry.manifest;
    // As the system hover does: the run's manifest and the latest value of each metric.
    parts["hover"] = await part(() => ({
      text: systemHover(
        typeof manifest.system === "string" ? manifest.system : "system",
        manifest,
        new LatestMetrics().get(entry.runDir),
      ),
    }));
    parts["panel"] = await part(() => panelData(entry.runDir, manifest));
  }
  if (parts["index"].ok) parts["runsView"] = await part(() => runsViewItems(index));
  return { parts };
}

async function metricsProbe(runDir: string, reader: MetricsReaderName): Promise<ProbeReport> {
  const file = path.join(runDir, METRICS_FILE);
  const run = async (): Promise<Json> => {
    switch (reader) {
      case "tailer": {
        const tailer = new MetricsTailer(file);
        let records = 0;
        let skipped = 0;
        let lastStep: number | null = null;
        let nonFiniteValues = 0;
        for (let polls = 0; polls < 1_000_000; polls++) {
          const r = tailer.poll();
          if (r.reset) records = 0;
          records += r.records.length;
          skipped += r.skipped;
          nonFiniteValues += nonFinite(r.records);
          const last = r.records[r.records.length - 1];
          if (last !== undefined) lastStep = last.step;
          if (!r.more) break;
        }
        return {
          records,
          skipped,
          badLines: tailer.badLines,
          partial: tailer.hasPartialLine,
          lastStep,
          nonFinite: nonFiniteValues,
        };
      }
      case "latest": {
        const latest = new LatestMetrics().get(runDir);
        return {
          step: latest?.step ?? null,
          keys: latest === undefined ? 0 : Object.keys(latest).length,
          nonFinite: latest === undefined ? 0 : nonFinite([latest]),
        };
      }
      case "readMetrics": {
        const r = readMetrics(file);
        return {
          records: r.records.length,
          badLines: r.badLines.length,
          partialTail: r.partialTail,
          nonFinite: nonFinite(r.records),
          lastStep: r.records[r.records.length - 1]?.step ?? null,
        };
      }
      case "panel":
        return panelData(runDir, validManifest(runDir));
    }
  };
  return { parts: { [reader]: await part(run) } };
}

/**
 * The checkpoint hover over each file, as CheckpointHoverProvider (src/extension/hover.ts) builds
 * it once it has found the path: stat, regular files only, the header, the Markdown; a file that
 * does not parse gets the provider's "not a readable safetensors file (…)" text.
 */
async function checkpointHoverProbe(files: readonly string[]): Promise<ProbeReport> {
  const parts: Record<string, PartResult> = {};
  for (const file of files) {
    parts[path.basename(file)] = await part(async () => {
      const s = await stat(file);
      if (!s.isFile()) return { text: null };
      try {
        return { text: checkpointHover(file, await readSafetensorsHeader(file), s.size) };
      } catch (e) {
        return {
          text: `**${path.basename(file)}**: not a readable safetensors file (${(e as Error).message.replace(/[\\`*_[\]<>]/g, "\\$&")})`,
        };
      }
    });
  }
  return { parts };
}

/**
 * A TensorBoard log as the extension meets it: the run index lists it (Runs view), then the
 * loss-curves panel reads it (TensorBoardLog: poll, then the snapshot it draws).
 */
async function tensorboardProbe(root: string, logDir: string): Promise<ProbeReport> {
  const parts: Record<string, PartResult> = {};
  parts["index"] = await part(async () => {
    const index = new RunIndex([root]);
    await index.scan();
    const entry = index.tensorboardLogs().find((e) => path.resolve(e.logDir) === path.resolve(logDir));
    return { logs: index.tensorboardLogs().length, eventFiles: entry?.eventFiles.length ?? 0 };
  });
  parts["log"] = await part(() => {
    const log = new TensorBoardLog(logDir);
    const first = log.poll();
    const points = first.kind === "reset" ? log.snapshot() : first.points;
    const values: Record<string, Json> = {};
    for (const [tag, col] of Object.entries(points.values)) values[tag] = col.filter((v) => v !== null).length;
    return {
      rows: points.step.length,
      values,
      badRecords: log.badRecords,
      files: log.files.length,
      problems: [...log.problems],
    };
  });
  return { parts };
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? "{}") as ProbeRequest;
  let report: ProbeReport;
  switch (request.probe) {
    case "manifest":
      report = await manifestProbe(request.root, request.runDir);
      break;
    case "metrics":
      report = await metricsProbe(request.runDir, request.reader);
      break;
    case "checkpointHover":
      report = await checkpointHoverProbe(request.files);
      break;
    case "panel":
      report = { parts: { panel: await part(() => panelData(request.runDir, validManifest(request.runDir))) } };
      break;
    case "tensorboard":
      report = await tensorboardProbe(request.root, request.logDir);
      break;
  }
  fs.writeSync(1, `${REPORT_PREFIX}${JSON.stringify(report)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    fs.writeSync(2, `probe failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(70);
  },
);
