// Axis helpers for chart.js charts, shared by the panels: theme-coloured ticks and grid, plus the
// tick labels of ticks.ts.
import type { ChartOptions, Scale } from "chart.js";
import { withAlpha, type Theme } from "./theme";

import { tickLabel } from "./ticks";

export { formatNumber, logTick, tickLabel } from "./ticks";

/** One axis's chart.js options (the same type for line and scatter charts). */
export type ScaleOptions = NonNullable<NonNullable<ChartOptions<"line">["scales"]>[string]>;
/** A chart's axes by id. */
export type Scales = Record<string, ScaleOptions>;

/** chart.js's log scale adds a tick past the data; its grid line would stand outside the plot. */
export function dropOutsideTicks(scale: Scale): void {
  scale.ticks = scale.ticks.filter((t) => t.value >= scale.min && t.value <= scale.max);
}

export function axisColors(theme: Theme): {
  ticks: { color: string };
  grid: { color: string };
  border: { color: string };
  title: { color: string };
} {
  return {
    ticks: { color: withAlpha(theme.foreground, 0.85) },
    grid: { color: withAlpha(theme.foreground, 0.1) },
    border: { color: withAlpha(theme.foreground, 0.35) },
    title: { color: theme.foreground },
  };
}

/** A titled linear or log axis in the theme's colours, ticks labelled by ticks.ts (the analysis panels' axes). */
export function themedScale(theme: Theme, log: boolean, title: string): ScaleOptions {
  const c = axisColors(theme);
  return {
    type: log ? "logarithmic" : "linear",
    afterBuildTicks: dropOutsideTicks,
    title: { display: true, text: title, ...c.title },
    ticks: { ...c.ticks, maxRotation: 0, autoSkip: !log, autoSkipPadding: 10, callback: tickLabel(log) },
    grid: c.grid,
    border: c.border,
  } as ScaleOptions;
}
