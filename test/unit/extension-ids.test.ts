// The IDs in src/extension/constants.ts and the `contributes` of package.json must agree, both
// ways: a command, view or setting renamed on one side only fails here.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  Commands,
  CONFIG_SECTION,
  ContextKeys,
  LOSS_CURVES_VIEW_TYPE,
  SettingKeys,
  TreeItemContext,
  Views,
} from "../../src/extension/constants";
import { repoRoot } from "../support";

interface Manifest {
  main?: string;
  activationEvents?: string[];
  capabilities?: { untrustedWorkspaces?: { supported?: unknown } };
  contributes?: {
    commands?: { command: string; title: string }[];
    menus?: Record<string, { command: string; when?: string }[]>;
    viewsContainers?: Record<string, { id: string }[]>;
    views?: Record<string, { id: string }[]>;
    configuration?: { properties?: Record<string, unknown> } | { properties?: Record<string, unknown> }[];
  };
}

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

function checkManifest(name: string, m: Manifest): void {
  const c = m.contributes ?? {};
  const ours = (id: string): boolean => id.startsWith(`${CONFIG_SECTION}.`);

  assert.deepEqual(
    sorted((c.commands ?? []).map((x) => x.command).filter(ours)),
    sorted(Object.values(Commands)),
    `${name}: contributes.commands vs Commands`,
  );

  const menuCommands = Object.values(c.menus ?? {}).flatMap((entries) => entries.map((e) => e.command));
  for (const id of menuCommands.filter(ours))
    assert.ok((Object.values(Commands) as string[]).includes(id), `${name}: menu entry for unknown command ${id}`);

  const configurations = Array.isArray(c.configuration) ? c.configuration : c.configuration ? [c.configuration] : [];
  const settings = configurations.flatMap((x) => Object.keys(x.properties ?? {}));
  assert.deepEqual(
    sorted(settings.filter(ours)),
    sorted(Object.values(SettingKeys).map((k) => `${CONFIG_SECTION}.${k}`)),
    `${name}: configuration properties vs SettingKeys`,
  );

  const containers = Object.values(c.viewsContainers ?? {}).flatMap((xs) => xs.map((x) => x.id));
  assert.deepEqual(
    sorted(containers.filter((id) => id === CONFIG_SECTION || ours(id))),
    [Views.container],
    `${name}: viewsContainers`,
  );
  const views = Object.values(c.views ?? {}).flatMap((xs) => xs.map((x) => x.id));
  assert.deepEqual(sorted(views.filter(ours)), sorted([Views.runs]), `${name}: views`);
  assert.ok(
    Object.keys(c.views ?? {}).includes(Views.container),
    `${name}: the Runs view lives in the ${Views.container} container`,
  );

  assert.ok(
    (m.activationEvents ?? []).includes(`onWebviewPanel:${LOSS_CURVES_VIEW_TYPE}`),
    `${name}: activation on the loss-curves panel (its serializer)`,
  );
  assert.equal(m.main, "./dist/extension/extension.js", `${name}: main`);
  assert.equal(
    m.capabilities?.untrustedWorkspaces?.supported,
    "limited",
    `${name}: untrusted workspaces supported in part`,
  );

  // Context keys used in `when` clauses are ones the code sets.
  const whens = Object.values(c.menus ?? {}).flatMap((entries) => entries.map((e) => e.when ?? ""));
  for (const key of whens.flatMap((w) => w.match(/learningMechanics\.[A-Za-z]+(?![.\w])/g) ?? [])) {
    const known = [
      ...Object.values(ContextKeys),
      ...Object.values(Views),
      ...Object.values(Commands),
      ...Object.values(TreeItemContext),
    ] as string[];
    if (!/^learningMechanics\.run/.test(key))
      assert.ok(known.includes(key), `${name}: unknown context key ${key} in a when clause`);
  }
}

test("package.json agrees with constants.ts", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), "package.json"), "utf8")) as Manifest;
  checkManifest("package.json", pkg);
});
