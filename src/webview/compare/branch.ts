// A branch against its parent: the change of the query loss (branch − parent) at each compared
// step, actual solid and each prediction dashed, with zero drawn; then each quantity of both runs
// from the branch point on (parent and branch in their run colours).

import type { ChartDataset } from "chart.js";
import type { BranchComparison, CompareCurveKey } from "../../shared/panels/compare";
import { runColor, withAlpha } from "../common/theme";
import { addChart, points, type Pt, rt, scale } from "./app";

export const CURVE_NAMES: Record<CompareCurveKey, string> = {
  query_loss: "query loss",
  train_loss: "train loss",
  test_loss: "test loss",
  train_acc: "train accuracy",
  test_acc: "test accuracy",
};

/** The prediction colours: TracIn orange, the BIF purple (theme chart colours 4 and 5). */
const PREDICTION_COLOR = { TracIn: 4, BIF: 5 } as const;

function changeChart(v: BranchComparison): void {
  if (v.actual === null) return;
  const actualColor = runColor(rt.theme, v.branch.colorIndex);
  const datasets: ChartDataset<"line", Pt[]>[] = [
    {
      label: "actual (branch − parent)",
      data: points(v.actual.steps, v.actual.values),
      borderColor: actualColor,
      backgroundColor: actualColor,
      borderWidth: 2,
      pointRadius: 3,
    },
    ...v.predictions.map((p): ChartDataset<"line", Pt[]> => {
      const color = runColor(rt.theme, PREDICTION_COLOR[p.name]);
      return {
        label: `predicted by ${p.name}`,
        data: points(p.steps, p.change),
        borderColor: color,
        backgroundColor: color,
        borderDash: [6, 4],
        borderWidth: 2,
        pointRadius: p.steps.length === 1 ? 5 : 2,
        pointStyle: p.name === "BIF" ? "rectRot" : "circle",
      };
    }),
  ];
  const steps = [...v.actual.steps, ...v.predictions.flatMap((p) => p.steps)];
  if (steps.length > 0) {
    const zero = withAlpha(rt.theme.foreground, 0.45);
    datasets.push({
      label: "no change",
      data: [
        { x: Math.min(...steps), y: 0 },
        { x: Math.max(...steps), y: 0 },
      ],
      borderColor: zero,
      backgroundColor: zero,
      borderWidth: 1,
      pointRadius: 0,
    });
  }
  addChart(
    "change",
    "change of the query loss, branch − parent (above 0: the branch's query loss is higher)",
    "line",
    datasets,
    scale("step"),
    scale("Δ query loss"),
    true,
  );
}

function curveChart(v: BranchComparison, key: CompareCurveKey, series: BranchComparison["curves"][number]): void {
  const loss = key.endsWith("loss");
  const log = loss && rt.state.logLoss;
  const line = (
    label: string,
    colorIndex: number,
    s: { steps: number[]; values: (number | null)[] },
    dashed: boolean,
  ) => {
    const color = runColor(rt.theme, colorIndex);
    return {
      label,
      data: points(s.steps, s.values, log),
      borderColor: color,
      backgroundColor: color,
      borderWidth: 1.8,
      pointRadius: s.steps.length <= 60 ? 2 : 0,
      ...(dashed ? { borderDash: [5, 3] } : {}),
    };
  };
  addChart(
    key,
    `${CURVE_NAMES[key]} from step ${v.branchStep}`,
    "line",
    [
      line(`${v.parent.label} (parent)`, v.parent.colorIndex, series.parent, true),
      line(`${v.branch.label} (branch)`, v.branch.colorIndex, series.branch, false),
    ],
    scale("step"),
    scale(CURVE_NAMES[key], log),
  );
}

export function renderBranch(v: BranchComparison): void {
  changeChart(v);
  for (const c of v.curves) curveChart(v, c.key, c);
}
