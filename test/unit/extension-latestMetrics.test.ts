// LatestMetrics reads a metrics.jsonl in bounded batches and folds them: the result must be the
// same as folding every record at once (each metric's last value, wherever in the file it was
// last written), across many batches, a half-written last line, appends, and a replaced file.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { latestValues } from "../../src/extension/hoverContent";
import { LatestMetrics } from "../../src/extension/latestMetrics";
import { parseMetricsLine } from "../../src/shared/runFormat";
import { tempDir } from "../support";

test("latest metrics: batched reading equals folding the whole file", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "metrics.jsonl");
  const lines: string[] = [];
  for (let step = 0; step < 5000; step++) {
    const rec: Record<string, number> = { step, time: step / 10, train_loss: 5 / (step + 1) };
    if (step % 97 === 0) rec["test_acc"] = step / 5000; // sparse: its last value is far from the end
    if (step === 3) rec["only_once"] = 42;
    lines.push(JSON.stringify(rec));
  }
  fs.writeFileSync(file, `${lines.join("\n")}\n{"step":5000,"ti`); // a half-written last line
  const expected = latestValues(lines.map((l) => parseMetricsLine(l)!));
  // 1 KiB batches: ~60 bytes a line, so the file takes a few hundred polls.
  const latest = new LatestMetrics(1024);
  const got = latest.get(dir);
  assert.deepEqual(got, expected);
  assert.equal(got?.step, 4999);
  assert.equal(got?.["only_once"], 42);
  assert.equal(got?.["test_acc"], (97 * Math.floor(4999 / 97)) / 5000);

  // The rest of the half-written line arrives, with more lines.
  fs.appendFileSync(file, 'me":500,"train_loss":0.01}\n{"step":5001,"time":500.1,"train_loss":0.009}\n');
  const after = latest.get(dir);
  assert.equal(after?.step, 5001);
  assert.equal(after?.["train_loss"], 0.009);
  assert.equal(after?.["only_once"], 42);

  // Replaced by a shorter file (a resume truncates): the old values are void.
  fs.rmSync(file);
  fs.writeFileSync(file, '{"step":7,"time":1,"train_loss":3}\n');
  assert.deepEqual(latest.get(dir), { step: 7, time: 1, train_loss: 3 });
});
