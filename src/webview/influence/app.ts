// What the influence app's modules share: the runtime (view state, messages, theme), the run
// shown, each method's matrix prepared for drawing, the row order and the heatmap's layout.

import {
  DEFAULT_INFLUENCE_STATE,
  isInfluenceHostMessage,
  isInfluenceState,
  type InfluenceHostMessage,
  type InfluenceMethod,
  type InfluenceRun,
  type InfluenceState,
  type CalibrateMessage,
  type InterveneMessage,
} from "../../shared/panels/influence";
import type { OwnMessage, RerunAnalysisMessage } from "../../shared/panels/common";
import { PanelRuntime } from "../common/runtime";
import { parseColor } from "../common/theme";
import {
  divergingLut,
  packRgba,
  robustLimit,
  rowOrder,
  rowStats,
  toFloat32,
  type Layout,
  type RowOrder,
  type RowStats,
} from "./heatmap";
import { keepShown } from "./picks";

export const rt = new PanelRuntime<
  InfluenceState,
  OwnMessage<InfluenceHostMessage>,
  RerunAnalysisMessage | InterveneMessage | CalibrateMessage
>({
  name: "influence",
  defaultState: DEFAULT_INFLUENCE_STATE,
  isState: isInfluenceState,
  isHostMessage: isInfluenceHostMessage,
});

/** Values within this fraction of the colour limit count as no sign when counting flips. */
const FLIP_TOLERANCE = 0.02;

export interface MethodData {
  method: InfluenceMethod;
  steps: number[];
  query: string;
  values: Float32Array;
  n: number;
  t: number;
  limit: number;
  stats: RowStats;
}

interface Colors {
  lut: Uint32Array;
  nan: number;
  background: number;
  flip: number;
}

/** What is shown and how it is laid out; the modules change it in place. */
export const view: {
  run: InfluenceRun | null;
  methods: Map<InfluenceMethod, MethodData>;
  rows: RowOrder | null;
  layout: Layout | null;
  /** The first row drawn when rows have a fixed height (scrolled). */
  firstRow: number;
  colors: Colors;
  /** Rows picked by hand (Ctrl/Cmd-click, Shift-click, Space), by example index; not kept in the saved state. */
  picked: Set<number>;
  /** The example a Shift-click range starts from: the last row clicked or toggled. */
  anchor: number | undefined;
  /** ms of the last heatmap render, and renders so far (test hooks, benchmarks). */
  lastRenderMs: number;
  renders: number;
} = {
  run: null,
  methods: new Map(),
  rows: null,
  layout: null,
  firstRow: 0,
  picked: new Set(),
  anchor: undefined,
  colors: makeColors(),
  lastRenderMs: 0,
  renders: 0,
};

export function current(): MethodData | undefined {
  return view.methods.get(rt.state.method) ?? view.methods.values().next().value;
}

export function makeColors(): Colors {
  const bg = parseColor(rt.theme.background);
  const fg = parseColor(rt.theme.foreground);
  const mix = (a: readonly number[], b: readonly number[], f: number): [number, number, number] =>
    [0, 1, 2].map((i) => Math.round(a[i]! + (b[i]! - a[i]!) * f)) as [number, number, number];
  return {
    lut: divergingLut(
      parseColor(cssColor("--vscode-charts-blue", "#3794ff")),
      bg,
      parseColor(cssColor("--vscode-charts-red", "#f14c4c")),
    ),
    nan: packRgba(mix(bg, fg, 0.12)),
    background: packRgba(bg),
    flip: packRgba(parseColor(cssColor("--vscode-charts-yellow", "#cca700"))),
  };
}

function cssColor(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v === "" ? fallback : v;
}

export function ingest(r: InfluenceRun): void {
  // The host resends the run as its analyses grow: picks survive that, not a change of run.
  const sameRun = view.run?.runId === r.runId;
  view.picked = sameRun ? keepShown(view.picked, r.examples) : new Set();
  if (!sameRun) view.anchor = undefined;
  view.run = r;
  view.methods.clear();
  const n = r.examples.length;
  for (const m of r.matrices) {
    const values = toFloat32(m.values);
    const t = m.steps.length;
    const limit = robustLimit(values);
    view.methods.set(m.method, {
      method: m.method,
      steps: m.steps,
      query: m.query,
      values,
      n,
      t,
      limit,
      stats: rowStats(values, n, t, FLIP_TOLERANCE * limit),
    });
  }
  if (!view.methods.has(rt.state.method) && view.methods.size > 0) rt.state.method = [...view.methods.keys()][0]!;
}

export function reorder(): void {
  const d = current();
  view.rows =
    d && view.run
      ? rowOrder(
          d.stats,
          view.run.examples.map((e) => e.label),
          rt.state.sort,
          rt.state.groupByLabel,
        )
      : null;
}
