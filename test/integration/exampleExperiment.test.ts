// What "Create Example Experiment…" writes is a valid experiment whose one system is the grokking
// example's modAdd (same config, as `lm list` describes it), so the docs' measurements hold for it.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { EXAMPLE_FILE_NAME, exampleExperimentText } from "../../src/extension/exampleExperiment";
import { tempDir } from "../support";
import { EXAMPLES, runCli } from "./harness";

test("the example experiment lists one system, modAdd, described as the grokking example's", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, EXAMPLE_FILE_NAME);
  writeFileSync(file, exampleExperimentText());
  const mine = await runCli(["list", file]);
  assert.equal(mine.code, 0, mine.stderr);
  const reference = await runCli(["list", join(EXAMPLES, "grokking.experiment.ts")]);
  const line = (out: string): string | undefined =>
    out
      .split("\n")
      .find((l) => l.startsWith("modAdd\t"))
      ?.replace(/\s+\(line \d+\)$/, "");
  assert.equal(mine.stdout.trim().split("\n").length, 1, mine.stdout);
  assert.ok(line(mine.stdout) !== undefined, mine.stdout);
  assert.equal(line(mine.stdout), line(reference.stdout));
  assert.equal(EXAMPLE_FILE_NAME, "grokking.experiment.ts");
});
