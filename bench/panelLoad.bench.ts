// What an analysis panel's refresh costs the extension host while the analyzer appends to a large
// TracIn file: a whole read of analyses/tracin.jsonl (what every refresh did before) against the
// panels' incremental reader (src/shared/analysisFormat.ts AnalysisFileReader), which parses only
// the records appended since its last read. Both in this process, on the same file.
//
//   npm run build --silent && node dist/bench/panelLoad.js [--examples 10000] [--checkpoints 200]
//
// Writes a run folder in the OS temp folder (a header naming every example, then one record per
// checkpoint of `examples` float scores, as the analyzer writes), deleted at the end. Prints the
// file's size; the whole read (best of 3); then, appending one record at a time for 10 more
// checkpoints, the incremental read after each append (median) and the whole read of the same
// file (median), and their ratio.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { AnalysisFileReader, analysisPath, readAnalysis } from "../src/shared/analysisFormat";

const { values: args } = parseArgs({
  options: { examples: { type: "string", default: "10000" }, checkpoints: { type: "string", default: "200" } },
});
const n = Number(args.examples);
const T = Number(args.checkpoints);

const run = fs.mkdtempSync(path.join(os.tmpdir(), "lm-panel-load-"));
fs.mkdirSync(path.join(run, "analyses"));
const file = analysisPath(run, "tracin");
let seed = 1;
const gauss = () => {
  // A cheap deterministic generator: the values' digits, not their distribution, set the cost.
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return ((seed / 2147483648) * 2 - 1) * 1e-4;
};
const record = (step: number) => `${JSON.stringify({ step, lr: 0.003, values: Array.from({ length: n }, gauss) })}\n`;
const header = {
  format: "learning-mechanics/analysis",
  formatVersion: 1,
  analysis: "tracin",
  producer: "bench",
  createdAt: new Date().toISOString(),
  settings: { every: 1, projectionDim: 64, query: { kind: "test", count: 64 }, trainExamples: 0 },
  examples: Array.from({ length: n }, (_, i) => ({
    index: i,
    label: i % 97,
    text: `[${i % 97}, ${i >> 7}] → ${i % 97}`,
  })),
};
const fd = fs.openSync(file, "w");
fs.writeSync(fd, `${JSON.stringify(header)}\n`);
for (let t = 0; t < T; t++) fs.writeSync(fd, record(t * 10));
fs.closeSync(fd);

const ms = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const mb = fs.statSync(file).size / 1e6;
const whole0 = Math.min(...[0, 1, 2].map(() => ms(() => readAnalysis(run, "tracin"))));
const reader = new AnalysisFileReader(run, "tracin");
const first = ms(() => reader.read());
const inc: number[] = [];
const whole: number[] = [];
for (let t = T; t < T + 10; t++) {
  fs.appendFileSync(file, record(t * 10));
  inc.push(ms(() => reader.read()));
  whole.push(ms(() => readAnalysis(run, "tracin")));
}
const records = reader.read()?.records.length;
fs.rmSync(run, { recursive: true, force: true });
console.log(`tracin.jsonl: ${n} examples × ${T} checkpoints, ${mb.toFixed(1)} MB`);
console.log(`whole read (before: every panel refresh): ${whole0.toFixed(0)} ms (best of 3)`);
console.log(`incremental reader, first read: ${first.toFixed(0)} ms`);
console.log(
  `one record appended: incremental ${median(inc).toFixed(1)} ms, whole ${median(whole).toFixed(0)} ms (medians of 10): ${(median(whole) / median(inc)).toFixed(0)}× less; ${records} records read`,
);
