// The layers of src/ and what each may import, checked on every source file's import statements
// (parsed with the TypeScript compiler, so comments and strings do not count):
// - `vscode` only in src/extension (the thin adapters; all logic is testable without VS Code);
// - no tensor library (@tensorflow/*) reachable at run time from src/measures, src/shared,
//   src/webview or src/extension (the extension host and the pure layers stay light);
// - src/measures imports nothing outside itself (pure math: no tensors, no vscode, no I/O);
// - training code (src/trainer outside analyzer/, methods/ and the entry points cli, sidecar,
//   session and the job plumbing jobs, jobHost, worker) and the tensor methods never import the analyzer: dependencies point one way;
// - src/webview imports neither src/extension nor src/trainer;
// - src/extension does not import src/trainer: it talks to it through src/shared/trainerProtocol.ts.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, posix, relative, sep } from "node:path";
import { describe, test } from "node:test";
import type * as TS from "typescript";
import { repoRoot } from "../support";

// Loaded at run time from node_modules (not bundled into the test: it is large).
const ts = createRequire(__filename)("typescript") as typeof TS;

interface Import {
  /** The module as written. */
  spec: string;
  /** src-relative path of a relative import (extension not resolved), else undefined. */
  target: string | undefined;
  /** Erased at compile time (`import type`, or only types named). */
  typeOnly: boolean;
}

/** The imports of one file (`path` is src-relative, posix). */
export function importsOf(path: string, text: string): Import[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    const target = spec.startsWith(".") ? posix.normalize(posix.join(posix.dirname(path), spec)) : undefined;
    out.push({ spec, target, typeOnly });
  };
  const visit = (node: TS.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node.moduleReference.expression.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]!)) {
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if (isRequire || node.expression.kind === ts.SyntaxKind.ImportKeyword)
        add((node.arguments[0] as TS.StringLiteral).text, false);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

type Layer =
  | "extension"
  | "webview"
  | "shared"
  | "sdk"
  | "measures"
  | "analyzer"
  | "methods"
  | "entry"
  | "training"
  | "other";

// The processes' entries and the job plumbing between their threads (jobs.ts: the messages; jobHost.ts, worker.ts).
const ENTRY_POINTS = new Set([
  "trainer/cli.ts",
  "trainer/sidecar.ts",
  "trainer/session.ts",
  "trainer/jobs.ts",
  "trainer/jobHost.ts",
  "trainer/worker.ts",
]);

function layerOf(path: string): Layer {
  const [top, sub] = path.split("/");
  if (top === "trainer") {
    if (sub === "analyzer") return "analyzer";
    if (sub === "methods") return "methods";
    return ENTRY_POINTS.has(path) ? "entry" : "training";
  }
  return top === "extension" || top === "webview" || top === "shared" || top === "sdk" || top === "measures"
    ? top
    : "other";
}

const isTensorLibrary = (spec: string) => spec.startsWith("@tensorflow/");
const LIGHT_LAYERS: ReadonlySet<Layer> = new Set(["measures", "shared", "webview", "extension"]);

/** The file a relative import names: `x.ts`, `x.tsx` or `x/index.ts`, as present in `files`. */
function resolve(target: string, files: ReadonlyMap<string, string>): string | undefined {
  for (const candidate of [target, `${target}.ts`, `${target}.tsx`, `${target}/index.ts`])
    if (files.has(candidate)) return candidate;
  return undefined;
}

/** Every rule broken by `files` (src-relative path → text), one line each. */
export function violations(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const runtime = new Map<string, string[]>();
  for (const [path, text] of files) {
    const layer = layerOf(path);
    const deps: string[] = [];
    for (const imp of importsOf(path, text)) {
      const target = imp.target === undefined ? undefined : (resolve(imp.target, files) ?? imp.target);
      const to = target === undefined ? undefined : layerOf(target);
      const where = `${path} imports "${imp.spec}"`;
      if (imp.spec === "vscode" && layer !== "extension") problems.push(`${where}: vscode only in src/extension`);
      if (layer === "measures" && (target === undefined || !target.startsWith("measures/")))
        problems.push(`${where}: src/measures imports nothing outside itself`);
      if ((layer === "training" || layer === "methods") && to === "analyzer")
        problems.push(`${where}: training code and tensor methods never import the analyzer`);
      if (
        layer === "webview" &&
        (to === "extension" || to === "analyzer" || to === "methods" || to === "entry" || to === "training")
      )
        problems.push(`${where}: src/webview imports neither src/extension nor src/trainer`);
      if (layer === "extension" && (to === "analyzer" || to === "methods" || to === "entry" || to === "training"))
        problems.push(`${where}: src/extension talks to the trainer through src/shared/trainerProtocol.ts only`);
      if (!imp.typeOnly) deps.push(target ?? `pkg:${imp.spec}`);
    }
    runtime.set(path, deps);
  }
  // A tensor library reachable at run time from a light layer, directly or through other files.
  for (const [path] of files) {
    if (!LIGHT_LAYERS.has(layerOf(path))) continue;
    const seen = new Set<string>([path]);
    const queue: Array<{ file: string; via: string[] }> = [{ file: path, via: [path] }];
    while (queue.length) {
      const { file, via } = queue.shift()!;
      for (const dep of runtime.get(file) ?? []) {
        if (dep.startsWith("pkg:")) {
          if (isTensorLibrary(dep.slice(4)))
            problems.push(
              `${path} reaches "${dep.slice(4)}" at run time (${[...via, dep.slice(4)].join(" → ")}): no tensor library in src/${layerOf(path)}`,
            );
        } else if (!seen.has(dep)) {
          seen.add(dep);
          queue.push({ file: dep, via: [...via, dep] });
        }
      }
    }
  }
  return problems;
}

function sourceFiles(): Map<string, string> {
  const src = join(repoRoot(), "src");
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts"))
        files.set(relative(src, p).split(sep).join("/"), readFileSync(p, "utf8"));
    }
  };
  walk(src);
  return files;
}

describe("layers", () => {
  test("every source file imports only what its layer may", () => {
    const files = sourceFiles();
    assert.ok(files.size > 100, `found ${files.size} source files under src/`);
    assert.ok(
      [...files.keys()].some((p) => p.startsWith("measures/")) &&
        [...files.keys()].some((p) => p.startsWith("trainer/methods/")),
      "the layers exist",
    );
    assert.deepEqual(violations(files), []);
  });

  test("the checker catches each kind of violation (and ignores imports in comments and type-only tensor imports)", () => {
    const files = new Map<string, string>([
      ["measures/a.ts", `import * as fs from "node:fs";\nimport { x } from "../shared/b";\n// import "vscode"\n`],
      ["shared/b.ts", `export const x = 1;\nimport { y } from "../sdk/c";\n`],
      ["sdk/c.ts", `import * as tf from "@tensorflow/tfjs-core";\nexport const y = tf;\n`],
      ["sdk/types.ts", `import type * as tf from "@tensorflow/tfjs-core";\nexport type T = tf.Tensor;\n`],
      ["shared/typed.ts", `import type { T } from "../sdk/types";\nimport { z } from "./d";\n`],
      ["shared/d.ts", `export const z = 1;\n`],
      ["trainer/runFolder.ts", `import { w } from "./analyzer/weights";\n`],
      ["trainer/methods/m.ts", `import { w } from "../analyzer/weights";\n`],
      ["trainer/cli.ts", `import { w } from "./analyzer/weights";\n`],
      ["trainer/analyzer/weights.ts", `import { m } from "../../measures/a";\nexport const w = 1;\n`],
      ["webview/app/main.ts", `import { s } from "../../extension/e";\n`],
      [
        "extension/e.ts",
        `import * as vscode from "vscode";\nimport { t } from "../trainer/train";\nconst lazy = require("../trainer/cli");\n`,
      ],
      ["trainer/train.ts", `import * as vscode from "vscode";\n`],
    ]);
    const found = violations(files);
    const expect = [
      /measures\/a\.ts imports "node:fs"/,
      /measures\/a\.ts imports "\.\.\/shared\/b"/,
      /shared\/b\.ts reaches "@tensorflow\/tfjs-core" at run time \(shared\/b\.ts → sdk\/c\.ts → @tensorflow\/tfjs-core\)/,
      /measures\/a\.ts reaches "@tensorflow\/tfjs-core"/,
      /trainer\/runFolder\.ts imports "\.\/analyzer\/weights": training code/,
      /trainer\/methods\/m\.ts imports "\.\.\/analyzer\/weights"/,
      /webview\/app\/main\.ts imports "\.\.\/\.\.\/extension\/e"/,
      /extension\/e\.ts imports "\.\.\/trainer\/train"/,
      /extension\/e\.ts imports "\.\.\/trainer\/cli"/,
      /trainer\/train\.ts imports "vscode"/,
    ];
    for (const re of expect)
      assert.ok(
        found.some((p) => re.test(p)),
        `expected a violation matching ${re}; found:\n${found.join("\n")}`,
      );
    assert.ok(!found.some((p) => p.startsWith("trainer/cli.ts")), "the entry points may import the analyzer");
    assert.ok(!found.some((p) => p.startsWith("shared/typed.ts")), "a type-only import of a tensor type is erased");
    assert.ok(!found.some((p) => /measures\/a\.ts imports "vscode"/.test(p)), "imports in comments do not count");
    assert.equal(found.filter((p) => p.includes(`"vscode"`)).length, 1, "vscode in src/extension is fine");
  });
});
