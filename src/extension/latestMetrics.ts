// The last value of every metric of a run, kept current by tailing its metrics.jsonl: only new
// bytes are read on each call, so code lenses and hovers can ask often. No `vscode` import.
import { join } from "node:path";
import { METRICS_FILE, type MetricsRecord } from "../shared/runFormat";
import { latestValues } from "./hoverContent";
import { MetricsTailer } from "./metricsTailer";

interface Entry {
  tailer: MetricsTailer;
  latest: MetricsRecord | undefined;
}

export class LatestMetrics {
  private readonly entries = new Map<string, Entry>();

  /** The latest values of `runDir`'s metrics (reads what was appended since the last call). */
  get(runDir: string): MetricsRecord | undefined {
    let entry = this.entries.get(runDir);
    if (!entry) {
      entry = { tailer: new MetricsTailer(join(runDir, METRICS_FILE)), latest: undefined };
      this.entries.set(runDir, entry);
    }
    try {
      const { records, reset } = entry.tailer.poll();
      if (reset) entry.latest = undefined;
      if (records.length > 0) entry.latest = latestValues(entry.latest ? [entry.latest, ...records] : records);
    } catch {
      // unreadable now; keep what we had
    }
    return entry.latest;
  }

  forget(runDir: string): void {
    this.entries.delete(runDir);
  }
}
