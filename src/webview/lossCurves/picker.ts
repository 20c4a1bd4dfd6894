// The metric picker and the x selector. The picker lists every logged key in its group
// (src/shared/metricKeys.ts: `loss` holds loss/train, loss/val, test_loss), each with a choice of
// off / left / right axis; the x selector beside it (under the toolbar, which keeps its one row
// from 900 px) offers the keys that never decrease (epoch, tokens) besides the toolbar's step /
// wall time radios. Keys come from files: text only (`el`, `textContent`,
// attribute values), never HTML.

import { groupKeys } from "../../shared/metricKeys";
import type { PlotChoice } from "../../shared/panels/lossCurves";
import { byId, el } from "../common/dom";
import { allKeys, choices, rt, xOptions } from "./app";
import { applyScales, chart, dashOf, rebuildDatasets, rightTitle } from "./chart";

const panel = byId<HTMLDivElement>("pickerPanel");
const summary = byId<HTMLElement>("pickerSummary");
const xOther = byId<HTMLSelectElement>("xOther");
const styleHint = byId<HTMLSpanElement>("styleHint");
const accBox = byId<HTMLElement>("showAccuracy");
const picker = byId<HTMLDetailsElement>("metricPicker");

// The picker is a drop-down: a click elsewhere or Escape closes it.
document.addEventListener("pointerdown", (e) => {
  if (picker.open && e.target instanceof Node && !picker.contains(e.target)) picker.open = false;
});
picker.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && picker.open) {
    picker.open = false;
    summary.focus();
  }
});

/** What the picker was last drawn for: redrawn only when the keys or x options change. */
let drawnFor = "";

type AxisValue = "off" | PlotChoice["axis"];

/** Redraws the picker, the x options, the line-style hint and the right axis's label. */
export function renderPicker(force = false): void {
  const keys = allKeys();
  const xs = xOptions();
  const current = choices();
  const signature = JSON.stringify([keys, xs, current, rt.state.xAxis, rt.state.showAccuracy]);
  if (!force && signature === drawnFor) return;
  drawnFor = signature;

  const axisOf = new Map(current.map((c) => [c.key, c.axis]));
  const rows: HTMLElement[] = [];
  for (const g of groupKeys(keys)) {
    const section = el("div", "picker-group");
    section.append(el("div", "picker-group-name", g.group));
    for (const k of g.keys) {
      const row = el("div", "picker-row");
      const name = el("span", "picker-key", k.key);
      name.title = k.key;
      const select = el("select", "picker-axis");
      select.dataset["key"] = k.key;
      select.setAttribute("aria-label", `axis of ${k.key}`);
      for (const [value, text] of [
        ["off", "—"],
        ["left", "left"],
        ["right", "right"],
      ] as const) {
        const o = el("option", "", text);
        o.value = value;
        select.append(o);
      }
      select.value = axisOf.get(k.key) ?? "off";
      select.addEventListener("change", () => setAxis(k.key, toAxis(select.value)));
      row.append(name, select);
      section.append(row);
    }
    rows.push(section);
  }
  if (keys.length === 0) rows.push(el("p", "picker-empty", "No metrics yet."));
  const reset = el("button", "picker-reset", "Default choice");
  reset.type = "button";
  reset.title = "Loss-like metrics on the left, accuracy-like on the right";
  reset.disabled = rt.state.plot === undefined;
  reset.addEventListener("click", () => {
    delete rt.state.plot;
    changed();
  });
  panel.replaceChildren(...rows, reset);
  summary.textContent = `metrics (${current.length})`;

  // The x selector: shown when some logged key can be x; its value is that key, else the placeholder.
  const extra = xs.filter((x) => x !== "step" && x !== "time");
  // An x chosen earlier that appended lines made non-monotone stays listed: the selector says what x is.
  const x = rt.state.xAxis;
  if (x !== "step" && x !== "time" && !extra.includes(x)) extra.push(x);
  const placeholder = el("option", "", "x: other…");
  placeholder.value = "";
  xOther.replaceChildren(
    placeholder,
    ...extra.map((key) => {
      const o = el("option", "", `x: ${key}`);
      o.value = key;
      return o;
    }),
  );
  xOther.value = extra.includes(x) ? x : "";
  xOther.hidden = extra.length === 0;

  styleHint.textContent = styleHintText(current, rt.state.showAccuracy);
  // The checkbox shows and hides the right axis; it is named after what that axis holds.
  accBox.textContent = rightTitle();
}

function toAxis(v: string): AxisValue {
  return v === "left" || v === "right" ? v : "off";
}

/** The line styles, as text under the chart: "solid: loss/train · dashed: loss/val". */
function styleHintText(current: readonly PlotChoice[], rightShown: boolean): string {
  const shown = current.map((c, i) => ({ c, i })).filter(({ c }) => c.axis === "left" || rightShown);
  return shown.map(({ c, i }) => ` · ${dashOf(i).name}: ${c.key}`).join("");
}

/** Puts a key on an axis (or off); the choice becomes explicit, kept in the picker's order. */
function setAxis(key: string, axis: AxisValue): void {
  const before = choices();
  const axisOf = new Map(before.map((c) => [c.key, c.axis]));
  if (axis === "off") axisOf.delete(key);
  else axisOf.set(key, axis);
  const order = groupKeys(allKeys()).flatMap((g) => g.keys.map((k) => k.key));
  // Keys chosen first keep their place (and their line style); new ones follow in picker order.
  const kept = before.map((c) => c.key).filter((k) => axisOf.has(k));
  const added = order.filter((k) => axisOf.has(k) && !kept.includes(k));
  rt.state.plot = [...kept, ...added].map((k) => ({ key: k, axis: axisOf.get(k) ?? "left" }));
  // A metric put on the right axis should show: the axis comes on with it.
  if (axis === "right") rt.state.showAccuracy = true;
  changed();
}

/** Sets x to a logged key (from the selector) or back to step / time (the radios). */
export function setX(x: string): void {
  if (x === rt.state.xAxis) return;
  rt.state.xAxis = x;
  rt.state.zoom = null; // a step range means nothing in epochs or seconds
  changed();
}

xOther.addEventListener("change", () => {
  if (xOther.value !== "") setX(xOther.value);
});

let onChange: () => void = () => {};

/** What else must follow a change of the choice (the toolbar's controls). */
export function onPickerChange(f: () => void): void {
  onChange = f;
}

function changed(): void {
  applyScales();
  rebuildDatasets();
  chart.update("none");
  renderPicker(true);
  onChange();
  rt.saveState();
}
