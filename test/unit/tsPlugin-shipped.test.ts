// Which module names the TypeScript plugin answers, and with which shipped file (src/tsPlugin/shipped.ts).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { shippedDeclaration, typesRootFrom } from "../../src/tsPlugin/shipped";

const root = join("/ext", "dist", "types");
const tfjs = join(root, "node_modules", "@tensorflow", "tfjs-core", "dist");
const files = new Set([
  join(root, "sdk", "index.d.ts"),
  join(tfjs, "index.d.ts"),
  join(tfjs, "tensor.d.ts"),
  join(tfjs, "ops", "index.d.ts"),
]);
const exists = (p: string): boolean => files.has(p);

test("the plugin's declarations are two folders above it, packaged or built", () => {
  assert.equal(typesRootFrom(join("/ext", "node_modules", "learning-mechanics-ts-plugin")), root);
  assert.equal(typesRootFrom(join("/repo", "dist", "ts-plugin")), join("/repo", "dist", "types"));
});

test("learning-mechanics and tfjs-core (and its dist/ subpaths) resolve to the shipped declarations; nothing else does", () => {
  const exp = join("/home", "me", "mine.experiment.ts");
  assert.equal(shippedDeclaration("learning-mechanics", exp, root, exists), join(root, "sdk", "index.d.ts"));
  assert.equal(shippedDeclaration("@tensorflow/tfjs-core", exp, root, exists), join(tfjs, "index.d.ts"));
  assert.equal(shippedDeclaration("@tensorflow/tfjs-core/dist/tensor", exp, root, exists), join(tfjs, "tensor.d.ts"));
  assert.equal(
    shippedDeclaration("@tensorflow/tfjs-core/dist/ops", exp, root, exists),
    join(tfjs, "ops", "index.d.ts"),
  );
  for (const name of [
    "@tensorflow/tfjs-core/dist/missing",
    "@tensorflow/tfjs-core/../../../sdk/index",
    "@tensorflow/tfjs-core//dist/tensor",
    "@tensorflow/tfjs-node",
    "learning-mechanics/sdk",
    "lodash",
    "./local",
  ])
    assert.equal(shippedDeclaration(name, exp, root, exists), undefined, name);
  // Without the files (a broken install), nothing resolves rather than a path that is not there.
  assert.equal(
    shippedDeclaration("learning-mechanics", exp, root, () => false),
    undefined,
  );
});

test("tfjs-core resolves only for experiment files and the shipped declarations, not in other projects", () => {
  const inside = join(root, "sdk", "spec.d.ts");
  const deep = join(tfjs, "ops", "add.d.ts");
  const other = join("/home", "me", "webapp", "src", "model.ts");
  assert.equal(shippedDeclaration("@tensorflow/tfjs-core", inside, root, exists), join(tfjs, "index.d.ts"));
  assert.equal(shippedDeclaration("@tensorflow/tfjs-core/dist/tensor", deep, root, exists), join(tfjs, "tensor.d.ts"));
  for (const f of [join("/home", "me", "a.experiment.js"), join("/home", "me", "a.experiment.mjs")])
    assert.equal(shippedDeclaration("@tensorflow/tfjs-core", f, root, exists), join(tfjs, "index.d.ts"), f);
  // A project that forgot to install tfjs keeps its error; the SDK's own name resolves anywhere.
  assert.equal(shippedDeclaration("@tensorflow/tfjs-core", other, root, exists), undefined);
  assert.equal(
    shippedDeclaration("@tensorflow/tfjs-core", join("/ext", "dist", "typesX", "a.ts"), root, exists),
    undefined,
  );
  assert.equal(shippedDeclaration("learning-mechanics", other, root, exists), join(root, "sdk", "index.d.ts"));
});
