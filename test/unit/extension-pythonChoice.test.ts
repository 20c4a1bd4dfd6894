// The interpreter and device the extension sends with a training (src/extension/pythonChoice.ts,
// config.ts): the setting, else the Python extension's selected interpreter through its public
// API (anything unexpected from that API is ignored), else the trainer's python3; `pythonPath`
// comes from user settings only; the backend and device settings agree with package.json.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { readConfig } from "../../src/extension/config";
import { BACKENDS, DEVICES } from "../../src/extension/constants";
import { activeEnvironmentPath, choosePython, mayUseTorch } from "../../src/extension/pythonChoice";
import { BACKEND_REQUESTS } from "../../src/trainer/backend";
import { repoRoot } from "../support";

test("the Python extension's active environment, read defensively", async () => {
  const seen: unknown[] = [];
  const api = {
    environments: {
      prefix: "/venv",
      getActiveEnvironmentPath(this: { prefix: string }, resource: unknown) {
        seen.push(resource);
        return { id: "x", path: `${this.prefix}/bin/python` };
      },
    },
  };
  assert.equal(await activeEnvironmentPath(api, "file:///w/a.experiment.ts"), "/venv/bin/python");
  assert.deepEqual(seen, ["file:///w/a.experiment.ts"], "asked for the experiment's resource");
  const asyncApi = { environments: { getActiveEnvironmentPath: async () => ({ path: "/p/python3" }) } };
  assert.equal(await activeEnvironmentPath(asyncApi, undefined), "/p/python3");
  for (const odd of [
    undefined,
    null,
    3,
    {},
    { environments: {} },
    { environments: { getActiveEnvironmentPath: () => ({ path: "" }) } },
    { environments: { getActiveEnvironmentPath: () => "python" } },
  ]) {
    assert.equal(await activeEnvironmentPath(odd, undefined), undefined, JSON.stringify(odd));
  }
});

test("setting first, then the Python extension's, else nothing (the trainer's python3)", () => {
  assert.equal(choosePython("/opt/py", "/venv/bin/python"), "/opt/py");
  assert.equal(choosePython("", "/venv/bin/python"), "/venv/bin/python");
  assert.equal(choosePython("", undefined), undefined);
  assert.ok(mayUseTorch("torch") && mayUseTorch("auto"));
  assert.ok(!mayUseTorch("wasm") && !mayUseTorch("gpu"));
});

test("pythonPath comes from user settings only; device is checked", () => {
  const levels: Record<string, { globalValue?: unknown; workspaceValue?: unknown }> = {
    pythonPath: { globalValue: " /usr/bin/python3 ", workspaceValue: "./evil-python" },
    device: { workspaceValue: "cuda" },
  };
  const source = {
    get: <T>(key: string): T | undefined => (levels[key]?.workspaceValue ?? levels[key]?.globalValue) as T | undefined,
    inspect: <T>(key: string) => levels[key] as { globalValue?: T; workspaceValue?: T } | undefined,
  };
  assert.equal(readConfig(source, { trusted: true }).pythonPath, "/usr/bin/python3");
  assert.equal(readConfig(source, { trusted: false }).pythonPath, "/usr/bin/python3");
  assert.equal(readConfig(source).device, "cuda");
  delete levels["pythonPath"]!.globalValue;
  assert.equal(readConfig(source, { trusted: true }).pythonPath, "", "never the workspace's");
  levels["device"] = { workspaceValue: "tpu" };
  assert.equal(readConfig(source).device, "auto");
});

test("the settings offer what the trainer accepts; pythonPath is machine-scoped and restricted in untrusted workspaces", () => {
  assert.deepEqual([...BACKENDS], [...BACKEND_REQUESTS]);
  interface Prop {
    enum?: string[];
    scope?: string;
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), "package.json"), "utf8")) as {
    contributes: { configuration: { properties: Record<string, Prop> } };
    capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
  };
  const props = pkg.contributes.configuration.properties;
  assert.deepEqual(props["learningMechanics.backend"]?.enum, [...BACKENDS]);
  assert.deepEqual(props["learningMechanics.device"]?.enum, [...DEVICES]);
  assert.equal(props["learningMechanics.pythonPath"]?.scope, "machine");
  assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes("learningMechanics.pythonPath"));
});
