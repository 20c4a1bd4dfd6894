// A sweep point's summary values, read from its run folder's data on the host side (the page
// imports src/shared/sweepView.ts, which must stay free of Node): the final, least and greatest
// value of each logged scalar, and the analysis values the sweep panel offers.
import { grokkingReport, type RunData } from "./analysisViews";
import { finite, type QuantityKey, REACH_TARGETS, reachKey } from "./sweepView";

/**
 * A run's summary values: for each logged scalar its final, least and greatest finite value, and
 * the analysis values it has. `step` and `time` are not quantities.
 */
export function pointSummary(data: RunData): Record<QuantityKey, number> {
  // Per key first, the "final:"/"min:"/"max:" keys built once at the end: building them per
  // value was most of the time of a 1,000-run sweep's init (bench/sweepPanel.bench.ts).
  const stats = new Map<string, { final: number; min: number; max: number }>();
  const y: Record<QuantityKey, number> = {};
  for (const r of data.metrics)
    for (const k in r) {
      const v = r[k];
      if (k === "step" || k === "time" || !finite(v)) continue;
      // The first logged step an accuracy reaches each target (a ticket's speed, docs/lottery-tickets.md).
      if (k.endsWith("_acc") && finite(r.step))
        for (const x of REACH_TARGETS) {
          const key = reachKey(k, x);
          if (v >= x && !(key in y)) y[key] = r.step;
        }
      const s = stats.get(k);
      if (s === undefined) stats.set(k, { final: v, min: v, max: v });
      else {
        s.final = v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
      }
    }
  for (const [k, s] of stats) {
    y[`final:${k}`] = s.final;
    y[`min:${k}`] = s.min;
    y[`max:${k}`] = s.max;
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
