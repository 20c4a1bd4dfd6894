// The last value of every metric of a run, kept current by tailing its metrics.jsonl: only new
// bytes are read on each call, so code lenses and hovers can ask often. No `vscode` import.
//
// Memory is bounded whatever the file's size: the tailer hands over at most `batchBytes` of lines
// per poll, and each batch is folded into the latest values before the next is read (one poll of
// a whole 1 GiB file used to hold every record at once: ~2.5 GiB; bench/tail.bench.mjs).
//
// A metrics.jsonl that is not a regular file (a FIFO, a link to /dev/zero) is refused without
// blocking (the tailer opens it with O_NONBLOCK and reads regular files only): no values, never a hang.
import { join } from "node:path";
import { METRICS_FILE, type MetricsRecord } from "../shared/runFormat";
import { latestValues } from "./hoverContent";
import { MetricsTailer } from "./metricsTailer";
import { pathKey } from "./paths";

interface Entry {
  tailer: MetricsTailer;
  latest: MetricsRecord | undefined;
}

/** Bytes of metrics.jsonl parsed at a time (a few tens of thousands of records). */
const LATEST_BATCH_BYTES = 4 << 20;

export class LatestMetrics {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly batchBytes = LATEST_BATCH_BYTES) {}

  /** The latest values of `runDir`'s metrics (reads what was appended since the last call). */
  get(runDir: string): MetricsRecord | undefined {
    return this.read(runDir).latest;
  }

  /** Lines of `runDir`'s metrics.jsonl that are not valid records (reads what was appended since the last call). */
  badLines(runDir: string): number {
    return this.read(runDir).tailer.badLines;
  }

  private read(runDir: string): Entry {
    const key = pathKey(runDir);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = {
        tailer: new MetricsTailer(join(runDir, METRICS_FILE), {
          chunkBytes: Math.min(1 << 20, this.batchBytes),
          maxBytesPerPoll: this.batchBytes,
        }),
        latest: undefined,
      };
      this.entries.set(key, entry);
    }
    try {
      for (;;) {
        const { records, reset, more } = entry.tailer.poll();
        if (reset) entry.latest = undefined;
        if (records.length > 0) entry.latest = latestValues(entry.latest ? [entry.latest, ...records] : records);
        if (!more) break;
      }
    } catch {
      // unreadable now (or not a regular file); keep what we had
    }
    return entry;
  }

  forget(runDir: string): void {
    this.entries.delete(pathKey(runDir));
  }
}
