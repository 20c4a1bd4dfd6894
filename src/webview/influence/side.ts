// The side view: the clicked example (its facts, its text as text, its influence over the
// checkpoints) and, for the BIF, the SGLD chains of a checkpoint with the host's mixing warning.

import { Chart, LineController, LineElement, LinearScale, PointElement } from "chart.js";
import type { Plugin } from "chart.js";
import { axisColors, formatNumber } from "../common/chartAxes";
import { applyChartFont } from "../common/chartTheme";
import { byId, el } from "../common/dom";
import { runColor, withAlpha } from "../common/theme";
import { current, rt, view } from "./app";
import { selectedCell } from "./draw";
import { exampleName } from "../../shared/panels/influence";

Chart.register(LineController, LineElement, PointElement, LinearScale);

const bifStep = byId<HTMLSelectElement>("bifStep");

const markerPlugin: Plugin<"line"> = {
  id: "lmStepMarker",
  afterDatasetsDraw(c) {
    const d = current();
    const x =
      rt.state.selected && d && c.canvas === curveCanvas
        ? c.scales["x"]?.getPixelForValue(rt.state.selected.step)
        : undefined;
    const area = c.chartArea;
    const ctx = c.ctx;
    ctx.save();
    const y0 = c.scales["y"]?.getPixelForValue(0);
    if (c.canvas === curveCanvas && y0 !== undefined && y0 >= area.top && y0 <= area.bottom) {
      ctx.strokeStyle = withAlpha(rt.theme.foreground, 0.35);
      ctx.beginPath();
      ctx.moveTo(area.left, Math.round(y0) + 0.5);
      ctx.lineTo(area.right, Math.round(y0) + 0.5);
      ctx.stroke();
    }
    if (x !== undefined) {
      ctx.strokeStyle = withAlpha(rt.theme.foreground, 0.7);
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, area.top);
      ctx.lineTo(Math.round(x) + 0.5, area.bottom);
      ctx.stroke();
    }
    ctx.restore();
  },
};

const curveCanvas = byId<HTMLCanvasElement>("curve");
const chainsCanvas = byId<HTMLCanvasElement>("chains");

function smallChart(
  target: HTMLCanvasElement,
  xTitle: string,
  yTitle: string,
): Chart<"line", { x: number; y: number }[]> {
  const c = axisColors(rt.theme);
  return new Chart<"line", { x: number; y: number }[]>(target, {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      responsive: true,
      maintainAspectRatio: false,
      events: [],
      elements: { point: { radius: 0 }, line: { tension: 0 } },
      scales: {
        x: {
          type: "linear",
          title: { display: true, text: xTitle, ...c.title },
          ticks: { ...c.ticks, maxRotation: 0, callback: (v) => formatNumber(Number(v)) },
          grid: c.grid,
          border: c.border,
        },
        y: {
          type: "linear",
          title: { display: true, text: yTitle, ...c.title },
          ticks: { ...c.ticks, callback: (v) => formatNumber(Number(v)) },
          grid: c.grid,
          border: c.border,
        },
      },
    },
    plugins: [markerPlugin],
  });
}

applyChartFont(rt.theme, 2);
const curveChart = smallChart(curveCanvas, "checkpoint step", "influence");
const chainsChart = smallChart(chainsCanvas, "draw", "loss");

export function renderSide(): void {
  const d = current();
  const sel = d ? selectedCell(d) : null;
  byId("sideEmpty").hidden = sel !== null;
  byId("sideExample").hidden = sel === null;
  if (sel && d && view.run) {
    const ex = view.run.examples[sel.row]!;
    const name = exampleName(ex);
    byId("exTitle").textContent = `${name.charAt(0).toUpperCase()}${name.slice(1)} · label ${ex.label}`;
    const facts = byId("exFacts");
    const v = d.values[sel.row * d.t + sel.col]!;
    const items: [string, string][] = [
      ["label", ex.label],
      ["checkpoint", `step ${d.steps[sel.col]}`],
      [d.method === "tracin" ? "TracIn" : "BIF", Number.isNaN(v) ? "—" : formatNumber(v)],
      [d.method === "tracin" ? "TracInCP (sum)" : "sum over checkpoints", formatNumber(d.stats.total[sel.row]!)],
      ["sign flips", String(d.stats.flips[sel.row])],
    ];
    facts.replaceChildren(...items.flatMap(([k, val]) => [el("dt", "", k), el("dd", "", val)]));
    byId("exText").textContent = ex.text;
    const color = runColor(rt.theme, 0);
    const pts: { x: number; y: number }[] = [];
    for (let j = 0; j < d.t; j++) {
      const y = d.values[sel.row * d.t + j]!;
      if (!Number.isNaN(y)) pts.push({ x: d.steps[j]!, y });
    }
    curveChart.data.datasets = [
      {
        label: "influence",
        data: pts,
        borderColor: color,
        borderWidth: 1.75,
        pointRadius: d.t <= 60 ? 2 : 0,
        pointBackgroundColor: color,
      },
    ];
    curveChart.update("none");
  }
  renderChains();
}

export function renderChains(): void {
  const section = byId("bifSection");
  const chains = view.run?.bifChains ?? [];
  section.hidden = rt.state.method !== "bif" || chains.length === 0;
  if (section.hidden) return;
  const steps = chains.map((c) => String(c.step));
  if ([...bifStep.options].map((o) => o.value).join() !== steps.join())
    bifStep.replaceChildren(...steps.map((s) => Object.assign(el("option", "", `step ${s}`), { value: s })));
  // Follow the clicked checkpoint when chains exist for it.
  if (rt.state.selected && steps.includes(String(rt.state.selected.step)))
    bifStep.value = String(rt.state.selected.step);
  const c = chains.find((x) => String(x.step) === bifStep.value) ?? chains[0]!;
  const warning = byId("bifWarning");
  warning.hidden = c.warning === undefined;
  warning.textContent = c.warning !== undefined ? `⚠ ${c.warning}` : "";
  byId("bifRhat").textContent =
    c.rHat !== undefined ? `R̂ = ${c.rHat.toFixed(3)} over ${c.loss.length} chains` : `${c.loss.length} chains`;
  chainsChart.data.datasets = c.loss.map((loss, k) => ({
    label: `chain ${k + 1}`,
    data: loss.map((y, i) => ({ x: i, y })),
    borderColor: withAlpha(runColor(rt.theme, k), 0.85),
    borderWidth: 1,
  }));
  chainsChart.update("none");
}

bifStep.addEventListener("change", () => renderChains());
