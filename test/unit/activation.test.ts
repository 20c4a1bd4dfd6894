// When the extension activates (package.json activationEvents): in a workspace with experiment files
// or run folders, when a panel is revived, and when one of its commands or its view is used (VS Code
// adds those events itself), never merely because a TypeScript or JavaScript file is open.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../support";

interface Manifest {
  activationEvents: string[];
  contributes: {
    configuration: { properties: Record<string, { default?: unknown }> };
    commands: Array<{ command: string }>;
  };
}

const manifest = (): Manifest => JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as Manifest;

test("activation: workspaces with experiment files or run folders, not every TypeScript project", () => {
  const m = manifest();
  const events = m.activationEvents;
  assert.deepEqual(
    events.filter((e) => e.startsWith("onLanguage") || e === "*" || e === "onStartupFinished"),
    // A Python experiment is any script calling lm.init (no file-name convention to match with
    // workspaceContains), so its code lens needs activation on Python files; activation is cheap
    // (bench/activation.bench.mjs) and scans nothing until a document is shown.
    ["onLanguage:python"],
    "no activation on TypeScript/JavaScript or at startup; Python files for their lm.init code lens",
  );
  const props = m.contributes.configuration.properties;
  // The experiment files the code lenses follow are the ones that activate the extension.
  const glob = props["learningMechanics.experimentGlob"]?.default;
  assert.equal(glob, "**/*.experiment.{ts,js,mjs}");
  assert.ok(events.includes(`workspaceContains:${String(glob)}`), `workspaceContains:${String(glob)}`);
  // Run folders under the default run root, at any depth of the workspace.
  assert.deepEqual(props["learningMechanics.runRoots"]?.default, ["runs"]);
  assert.ok(events.includes("workspaceContains:**/runs/*/run.json"), "workspaceContains:**/runs/*/run.json");
  // Panels revive after a reload (their serializers are registered on activation).
  for (const view of ["lossCurves", "grokking", "lazyRich", "influence", "sharpness", "conservation"])
    assert.ok(events.includes(`onWebviewPanel:learningMechanics.${view}`), `onWebviewPanel:learningMechanics.${view}`);
  assert.deepEqual(
    events.filter(
      (e) => !e.startsWith("workspaceContains:") && !e.startsWith("onWebviewPanel:") && e !== "onLanguage:python",
    ),
    [],
    "commands and the view activate through VS Code's implicit onCommand/onView events",
  );
});
