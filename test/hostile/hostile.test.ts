// The hostile-input corpus (issue 8): well over 100 cases generated on the fly — run.json,
// metrics.jsonl, analyses/, checkpoints, experiment files, CLI paths, locks and signals — each run
// as a measured child process (the real CLI, or probes.ts over the extension-side readers) and
// held to: an answer within its time bound, peak memory under its bound, a clear message (no
// stack, no "internal"), and nothing outside the run changed. Ends with a table of every case.
//
// LM_HOSTILE_ONLY=<substring> runs the matching cases only; LM_HOSTILE_TABLE=<file> also writes
// the table there; LM_HOSTILE_KEEP=1 keeps the case folders.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { availableParallelism } from "node:os";
import { after, before, describe, test } from "node:test";
import { CASES } from "./cases";
import { type CorpusEnv, prepare, runCase } from "./corpus";
import { formatTable, type Row } from "./runner";

const only = process.env["LM_HOSTILE_ONLY"];
const cases = only ? CASES.filter((c) => c.id.includes(only)) : CASES;
const rows: Row[] = [];
let env: CorpusEnv | undefined;

// Most cases wait (on a bound, a FIFO, a signal) rather than compute: a few at a time.
const concurrency = Math.min(4, 2 * availableParallelism());

describe("hostile corpus", { concurrency }, () => {
  before(() => {
    env = prepare();
  });

  after(() => {
    const order = new Map(cases.map((c, i) => [c.id, i]));
    rows.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    const table = formatTable(rows);
    process.stdout.write(`\n${table}\n`);
    const out = process.env["LM_HOSTILE_TABLE"];
    if (out) fs.writeFileSync(out, `${table}\n`);
    if (env && process.env["LM_HOSTILE_KEEP"] === undefined) fs.rmSync(env.tmp, { recursive: true, force: true });
  });

  test("the corpus has at least 100 cases, each with an explicit expectation", () => {
    if (only) return;
    assert.ok(CASES.length >= 100, `${CASES.length} cases`);
    assert.equal(new Set(CASES.map((c) => c.id)).size, CASES.length, "case ids are unique");
    for (const c of CASES) assert.ok(c.expect.timeMs > 0 && c.expect.peakMb > 0, c.id);
  });

  for (const c of cases) {
    test(`${c.id} (${c.defect})`, async () => {
      if (!env) throw new Error("the corpus fixture was not prepared");
      const r = await runCase(env, c);
      rows.push(r.row);
      assert.deepEqual(r.failures, [], `${c.id}: ${r.failures.join("; ")}`);
    });
  }
});
