// A sweep point's summary values, read from its run folder's data on the host side (the page
// imports src/shared/sweepView.ts, which must stay free of Node): the final, least and greatest
// value of each logged scalar, and the analysis values the sweep panel offers.
import { grokkingReport, type RunData } from "./analysisViews";
import { finite, type QuantityKey } from "./sweepView";

/**
 * A run's summary values: for each logged scalar its final, least and greatest finite value, and
 * the analysis values it has. `step` and `time` are not quantities.
 */
export function pointSummary(data: RunData): Record<QuantityKey, number> {
  const y: Record<QuantityKey, number> = {};
  for (const r of data.metrics)
    for (const [k, v] of Object.entries(r)) {
      if (k === "step" || k === "time" || !finite(v)) continue;
      y[`final:${k}`] = v;
      const lo = y[`min:${k}`];
      const hi = y[`max:${k}`];
      if (lo === undefined || v < lo) y[`min:${k}`] = v;
      if (hi === undefined || v > hi) y[`max:${k}`] = v;
    }
  const w = data.analyses.weights?.records;
  const rwc = w?.[w.length - 1]?.relChange;
  if (finite(rwc)) y["analysis:rwc"] = rwc;
  const k = data.analyses.kernel?.records;
  const kd = k?.[k.length - 1]?.kernelDistance;
  if (finite(kd)) y["analysis:kernelDistance"] = kd;
  const llc = data.analyses.llc?.records.filter((r) => finite(r.llc)).at(-1)?.llc;
  if (finite(llc)) y["analysis:llc"] = llc;
  if (data.metrics.length > 0) {
    const tGen = grokkingReport(data).tGen;
    if (finite(tGen)) y["analysis:tGen"] = tGen;
  }
  return y;
}
