// The `lm` command line's one table of which command takes which option.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import {
  COMMANDS,
  misplacedOption,
  OPTIONS,
  parseCommandLine,
  targetName,
  USAGE,
} from "../../src/trainer/commands/commandLine";

test("an option a command would ignore is named, with the commands that take it", () => {
  const msg = (argv: string[]) => {
    const { values, positionals } = parseCommandLine(argv);
    return misplacedOption(positionals[0] as (typeof COMMANDS)[number], values);
  };
  assert.equal(
    msg(["train", "f.ts", "--parallel", "2"]),
    "--parallel applies to sweep, instability, calibrate and imp, not train",
  );
  assert.equal(msg(["resume", "r", "--mask", "m"]), "--mask applies to train and branch, not resume");
  assert.equal(msg(["list", "f.ts", "--rounds", "2"]), "--rounds applies to imp, not list");
  assert.equal(
    msg(["lmc", "a", "b", "--device", "cpu"]),
    "--device applies to train, resume, branch, intervene, calibrate, sweep, sweep-task, imp and imp-task, not lmc",
  );
  assert.equal(
    msg(["sweep-task", "d", "0", "--system", "x"]),
    "--system applies to train, sweep and imp, not sweep-task",
  );
  // What each command does take passes.
  assert.equal(
    msg(["calibrate", "r", "--step", "5", "--fraction", "0.2", "--subsets", "4", "--parallel", "2", "--slurm"]),
    undefined,
  );
  assert.equal(
    msg(["intervene", "r", "--step", "5", "--upweight", "1,2", "--weight", "3", "--over", "0:10"]),
    undefined,
  );
  assert.equal(msg(["train", "f.ts", "--help"]), undefined);
});

test("every option of the parser and every command is in the usage text", () => {
  for (const name of Object.keys(OPTIONS))
    assert.ok(new RegExp(`--${name}\\b`).test(USAGE), `--${name} is not in the usage text`);
  for (const command of COMMANDS) assert.ok(USAGE.includes(`lm ${command} `), command);
});

test("the missing argument is named per command", () => {
  assert.equal(targetName("lmc", false), "RUN_A");
  assert.equal(targetName("intervene", false), "RUN_DIR");
  assert.equal(targetName("imp", true), "IMP_DIR");
  assert.equal(targetName("imp", false), "FILE");
  assert.equal(targetName("sweep", true), "SWEEP_DIR");
  assert.equal(targetName("sweep-status", false), "SWEEP_DIR");
  assert.equal(targetName("train", false), "FILE");
});
