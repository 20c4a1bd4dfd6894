// The loss-curves panel: one per set of runs, every metrics.jsonl followed with a MetricsTailer.
// `init` reads each run from the start; `refresh` sends the lines appended since (`append`), a
// status change (`runStatus`), or everything again when the file was replaced (a resume).
// A TensorBoard log folder (no run.json, event files: src/shared/tensorboardLog.ts) is followed
// with a TensorBoardLog instead: the same series shape, every scalar tag a column; its store is
// kept between `init`s (bounded per tag), and `refresh` asks for `init` when it was decimated.

import * as fs from "node:fs";
import * as path from "node:path";
import type { OwnMessage } from "../../shared/panels/common";
import {
  isLossCurvesState,
  isLossCurvesWebviewMessage,
  type LossCurvesHostMessage,
  type LossCurvesState,
  type RunSeries,
  type SeriesPoints,
} from "../../shared/panels/lossCurves";
import { METRICS_FILE, type MetricsRecord, RUN_MANIFEST, type RunStatus } from "../../shared/runFormat";
import { TensorBoardLog, eventFileNames } from "../../shared/tensorboardLog";
import { lossCurvesHtml } from "../../webview/lossCurves/page";
import { LOSS_CURVES_VIEW_TYPE } from "../constants";
import { MetricsTailer } from "../metricsTailer";
import type { PanelKind } from "./panelHost";
import type { PanelContent, PanelUpdate } from "./panelSession";
import { labelOf, runSetKey, statusOf, type PanelEnv } from "./runs";

type Message = OwnMessage<LossCurvesHostMessage>;

/**
 * Records → columnar points (pure; exported for tests): every scalar key of the records, whatever
 * its name (`loss/train`, `lr`, `epoch`, ...), one column each; the webview picks what to draw.
 * The webview keeps them in typed arrays, so the memory is 8 bytes per line per key.
 */
export function toSeriesPoints(records: readonly MetricsRecord[]): SeriesPoints {
  const names = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) if (k !== "step" && k !== "time") names.add(k);
  const values: Record<string, (number | null)[]> = {};
  for (const n of names) {
    const col = records.map((r) =>
      Object.hasOwn(r, n) && typeof r[n] === "number" && Number.isFinite(r[n]) ? (r[n] as number) : null,
    );
    // defineProperty: a key from the file may be "__proto__", which an assignment would turn into
    // the object's prototype instead of a column.
    Object.defineProperty(values, n, { value: col, enumerable: true, writable: true, configurable: true });
  }
  return { step: records.map((r) => r.step), time: records.map((r) => (Number.isFinite(r.time) ? r.time : 0)), values };
}

/** Everything new in a tailed file: records (after a reset, from the start), or why it could not be read. */
export function pollAll(tailer: MetricsTailer): { records: MetricsRecord[]; reset: boolean; error?: string } {
  const records: MetricsRecord[] = [];
  let reset = false;
  try {
    for (;;) {
      const r = tailer.poll();
      if (r.reset) {
        reset = true;
        records.length = 0;
      }
      // One push per record: `push(...r.records)` passes every record as an argument and overflows
      // the stack past ~10⁵ records (a run of 130,000 lines showed empty).
      for (const record of r.records) records.push(record);
      if (!r.more) break;
    }
  } catch (e) {
    return { records, reset, error: e instanceof Error ? e.message : String(e) };
  }
  return { records, reset };
}

/** Where a panel's run comes from: a run folder's metrics.jsonl, or a TensorBoard log folder. */
type Source = { kind: "metrics"; tailer: MetricsTailer } | { kind: "tensorboard"; log: TensorBoardLog };

/** A folder without run.json and metrics.jsonl that holds event files is a TensorBoard log. */
export function isTensorBoardLog(dir: string): boolean {
  return (
    !fs.existsSync(path.join(dir, RUN_MANIFEST)) &&
    !fs.existsSync(path.join(dir, METRICS_FILE)) &&
    eventFileNames(dir).length > 0
  );
}

/** A log's label: its folder with its parent (`exp1/train`: TF2 names every log `train`). */
function tensorboardLabel(dir: string): string {
  return `${path.basename(path.dirname(dir))}/${path.basename(dir)}`;
}

interface Tracked {
  runDir: string;
  label: string;
  colorIndex: number;
  status: RunStatus | undefined;
  source: Source;
  /** Unreadable lines (records, for a TensorBoard log) the page knows of. */
  badLines: number;
}

/** Everything new in a TensorBoard log, or "reset" (send it all again), with what could not be read. */
function pollLog(log: TensorBoardLog): { poll: ReturnType<TensorBoardLog["poll"]> | undefined; error?: string } {
  try {
    return { poll: log.poll() };
  } catch (e) {
    return { poll: undefined, error: e instanceof Error ? e.message : String(e) };
  }
}

export class LossCurvesContent implements PanelContent<LossCurvesState, Message> {
  private readonly tracked = new Map<string, Tracked>();

  constructor(
    private readonly env: PanelEnv,
    runDirs: readonly string[],
  ) {
    runDirs.forEach((runDir, i) => {
      const tensorboard = isTensorBoardLog(runDir);
      this.tracked.set(runDir, {
        runDir,
        label: tensorboard ? tensorboardLabel(runDir) : labelOf(env, runDir),
        colorIndex: i,
        status: undefined,
        source: tensorboard
          ? { kind: "tensorboard", log: new TensorBoardLog(runDir) }
          : { kind: "metrics", tailer: new MetricsTailer(path.join(runDir, METRICS_FILE)) },
        badLines: 0,
      });
    });
  }

  init(state: LossCurvesState | undefined): PanelUpdate<Message> {
    const runs: RunSeries[] = [];
    const problems: string[] = [];
    for (const t of this.tracked.values()) {
      if (t.source.kind === "tensorboard") {
        runs.push(this.initLog(t, t.source.log, problems));
        continue;
      }
      t.source.tailer = new MetricsTailer(t.source.tailer.path);
      const tailer = t.source.tailer;
      t.status = statusOf(this.env, t.runDir);
      const read = pollAll(tailer);
      if (read.error !== undefined) problems.push(`${t.label}: ${read.error}`);
      t.badLines = tailer.badLines;
      runs.push({
        runId: t.runDir,
        label: t.label,
        colorIndex: t.colorIndex,
        ...(t.status ? { status: t.status } : {}),
        ...(t.badLines > 0 ? { badLines: t.badLines } : {}),
        points: toSeriesPoints(read.records),
      });
    }
    return { messages: [{ type: "init", runs, ...(state ? { state } : {}) }], problems };
  }

  /** A log as the page draws it: what is new read first, then everything kept (bounded per tag). */
  private initLog(t: Tracked, log: TensorBoardLog, problems: string[]): RunSeries {
    const r = pollLog(log);
    if (r.error !== undefined) problems.push(`${t.label}: ${r.error}`);
    for (const p of log.problems) problems.push(`${t.label}: ${p}`);
    t.badLines = log.badRecords;
    return {
      runId: t.runDir,
      label: t.label,
      colorIndex: t.colorIndex,
      ...(t.badLines > 0 ? { badLines: t.badLines } : {}),
      points: log.snapshot(),
    };
  }

  private refreshLog(t: Tracked, log: TensorBoardLog): PanelUpdate<Message> | "init" {
    const r = pollLog(log);
    if (r.poll?.kind === "reset") return "init";
    const messages: Message[] = [];
    const bad = log.badRecords;
    const points = r.poll?.points;
    if ((points !== undefined && points.step.length > 0) || bad !== t.badLines) {
      messages.push({
        type: "append",
        runId: t.runDir,
        points: points ?? { step: [], time: [], values: {} },
        ...(bad !== t.badLines ? { badLines: bad } : {}),
      });
      t.badLines = bad;
    }
    const problems = [...(r.error !== undefined ? [r.error] : []), ...log.problems].map((p) => `${t.label}: ${p}`);
    return { messages, problems };
  }

  refresh(runDir: string): PanelUpdate<Message> | "init" {
    const t = this.tracked.get(runDir);
    if (!t) return { messages: [] };
    if (t.source.kind === "tensorboard") return this.refreshLog(t, t.source.log);
    const tailer = t.source.tailer;
    const read = pollAll(tailer);
    // The file was replaced (a resume rewrote it): send everything again.
    if (read.reset) return "init";
    const messages: Message[] = [];
    const bad = tailer.badLines;
    if (read.records.length > 0 || bad !== t.badLines) {
      messages.push({
        type: "append",
        runId: runDir,
        points: toSeriesPoints(read.records),
        ...(bad !== t.badLines ? { badLines: bad } : {}),
      });
      t.badLines = bad;
    }
    const status = statusOf(this.env, runDir);
    if (status && status !== t.status) {
      t.status = status;
      messages.push({ type: "runStatus", runId: runDir, status });
    }
    return { messages, problems: read.error !== undefined ? [`${t.label}: ${read.error}`] : [] };
  }
}

export const LOSS_CURVES: PanelKind<LossCurvesState, Message> = {
  title: "Loss curves",
  viewType: LOSS_CURVES_VIEW_TYPE,
  bundle: "lossCurves",
  styles: ["common.css", "lossCurves.css"],
  html: lossCurvesHtml,
  store: { key: "learningMechanics.lossCurvesPanels", entry: (title) => title },
  isState: isLossCurvesState,
  isWebviewMessage: isLossCurvesWebviewMessage,
  analyses: false,
  // Sorted: a set of runs gets the same colours however it was picked.
  shown: (runDirs) => runSetKey(runDirs).split("\n"),
  content: (env, runDirs) => new LossCurvesContent(env, runDirs),
};
