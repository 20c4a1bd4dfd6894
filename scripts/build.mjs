// One build script, one target per process:
//   trainer sidecar + CLI + job worker → dist/trainer/*.js (node, cjs; tfjs bundled, native backends and esbuild external)
//   tests                  → dist/test/**/*.test.cjs (node, cjs; bundled like the trainer)
//   bench tools            → dist/bench/*.js (node, cjs)
//   extension host         → dist/extension/extension.js (node, cjs; `vscode` external), and its
//                            in-host test suite → dist/e2e-host/index.js (outside dist/test: node --test would run it)
//   webviews               → dist/webview/*.js (browser, esm)
//   wasm binaries          → dist/wasm/ (the wasm backend loads them at run time)
//   SDK type declarations  → dist/types/sdk/*.d.ts (tsc -p tsconfig.sdk-types.json, run from here
//                            beside esbuild, so this script alone and `npm run build` give the same dist/),
//                            and the tensor library's declarations they reach → dist/types/node_modules/
//   TypeScript server plugin → dist/ts-plugin/{index.js,package.json} (cjs; packaged as
//                            node_modules/learning-mechanics-ts-plugin, see scripts/package.mjs)
// The extension host and webview targets join here when they exist. `--watch` rebuilds on change.
import * as esbuild from "esbuild";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const watch = process.argv.includes("--watch");

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

/** Packages that must stay out of the bundle: optional native backends (absent on most machines) and esbuild (a native binary). */
const runtimeExternal = ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "esbuild"];

// "module" first: tfjs-core's ESM build, so that its side-effect modules (gradients) and the rest
// share one copy of the library in the bundle.
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: "linked",
  logLevel: "warning",
  mainFields: ["module", "main"],
};

const targets = [
  {
    ...common,
    entryPoints: { cli: "src/trainer/cli.ts", sidecar: "src/trainer/sidecar.ts", worker: "src/trainer/worker.ts" },
    outdir: join(dist, "trainer"),
    external: runtimeExternal,
    banner: { js: "#!/usr/bin/env node" },
  },
  {
    ...common,
    entryPoints: Object.fromEntries(
      findTests(join(root, "test")).map((p) => [relative(join(root, "test"), p).replace(/\.ts$/, ""), p]),
    ),
    outdir: join(dist, "test"),
    outExtension: { ".js": ".cjs" },
    external: runtimeExternal,
  },
  // The hostile corpus's probe of the extension-side readers (test/hostile/probes.ts), run as a child
  // process; outside dist/test so that `node --test dist/test/` does not take it for a test.
  {
    ...common,
    entryPoints: { probes: "test/hostile/probes.ts" },
    outdir: join(dist, "test-probes"),
    external: ["vscode"],
  },
  {
    ...common,
    entryPoints: {
      profileStep: "bench/profileStep.ts",
      bifCost: "bench/bifCost.ts",
      eosCost: "bench/eosCost.ts",
      tracin: "bench/tracin.bench.ts",
      torchWorker: "bench/torchWorker.bench.ts",
      conservation: "bench/conservation.bench.ts",
      tensorboard: "bench/tensorboard.bench.ts",
      sweep: "bench/sweep.ts",
      sweepPanel: "bench/sweepPanel.bench.ts",
      panelLoad: "bench/panelLoad.bench.ts",
      intervene: "bench/intervene.ts",
    },
    outdir: join(dist, "bench"),
    external: runtimeExternal,
  },
  {
    ...common,
    entryPoints: { extension: "src/extension/extension.ts" },
    outdir: join(dist, "extension"),
    external: ["vscode"],
  },
  // The TypeScript server plugin: tsserver `require`s it and calls module.exports, so the bundle's
  // exports object is replaced by its default export (the plugin factory).
  {
    ...common,
    sourcemap: false,
    entryPoints: { index: "src/tsPlugin/index.ts" },
    outdir: join(dist, "ts-plugin"),
    external: ["typescript"],
    footer: { js: "module.exports = module.exports.default;" },
  },
  // The extension's own tests, run inside code-server's extension host by test/e2e.
  {
    ...common,
    entryPoints: {
      index: "test/e2e/extensionHost/index.ts",
      tsPlugin: "test/e2e/extensionHost/tsPlugin.ts",
      activation: "test/e2e/extensionHost/activation.ts",
    },
    outdir: join(dist, "e2e-host"),
    external: ["vscode"],
  },
  {
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    sourcemap: "linked",
    logLevel: "warning",
    entryPoints: {
      lossCurves: "src/webview/lossCurves/main.ts",
      grokking: "src/webview/grokking/main.ts",
      lazyRich: "src/webview/lazyRich/main.ts",
      sharpness: "src/webview/sharpness/main.ts",
      influence: "src/webview/influence/main.ts",
      conservation: "src/webview/conservation/main.ts",
      lmc: "src/webview/lmc/main.ts",
      compare: "src/webview/compare/main.ts",
      icl: "src/webview/icl/main.ts",
      sweep: "src/webview/sweep/main.ts",
    },
    outdir: join(dist, "webview"),
  },
];

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "wasm"), { recursive: true });
const wasmSrc = join(root, "node_modules/@tensorflow/tfjs-backend-wasm/dist");
for (const f of readdirSync(wasmSrc)) if (f.endsWith(".wasm")) cpSync(join(wasmSrc, f), join(dist, "wasm", f));

/** Emits dist/types with the project's own TypeScript (esbuild strips types, it cannot declare them). */
function emitTypes() {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", join(root, "tsconfig.sdk-types.json")], {
      cwd: root,
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`tsc -p tsconfig.sdk-types.json failed (${signal ?? `exit code ${code}`})`)),
    );
  });
}

/** The plugin's package.json: tsserver loads a plugin by package name from node_modules. */
function writePluginPackage() {
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  mkdirSync(join(dist, "ts-plugin"), { recursive: true });
  writeFileSync(
    join(dist, "ts-plugin", "package.json"),
    `${JSON.stringify({ name: "learning-mechanics-ts-plugin", version, private: true, main: "index.js", license: "MIT" }, null, 2)}\n`,
  );
}

/**
 * Copies the declaration files the SDK's declarations reach through `@tensorflow/tfjs-core` (its
 * index.d.ts and what it imports or references, ~300 of its ~870 .d.ts, plus @webgpu/types) to
 * dist/types/node_modules/, with each package's package.json: what the plugin resolves the tensor
 * library to where the user has no node_modules. TypeScript finds them by parsing, not checking.
 */
function copyTypeDependencies() {
  const modules = join(root, "node_modules");
  const program = ts.createProgram({
    rootNames: [join(modules, "@tensorflow", "tfjs-core", "dist", "index.d.ts")],
    options: {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: [],
      noLib: true,
    },
  });
  const packages = new Set();
  for (const file of program.getSourceFiles()) {
    const rel = relative(modules, file.fileName);
    if (rel.startsWith("..") || rel.startsWith("typescript")) continue;
    const parts = rel.split(sep);
    packages.add(parts.slice(0, parts[0].startsWith("@") ? 2 : 1).join(sep));
    mkdirSync(dirname(join(dist, "types", "node_modules", rel)), { recursive: true });
    cpSync(file.fileName, join(dist, "types", "node_modules", rel));
  }
  for (const pkg of packages)
    cpSync(join(modules, pkg, "package.json"), join(dist, "types", "node_modules", pkg, "package.json"));
}

writePluginPackage();
copyTypeDependencies();
if (watch) {
  await emitTypes();
  for (const t of targets) await (await esbuild.context(t)).watch();
} else {
  await Promise.all([...targets.map((t) => esbuild.build({ ...t, absWorkingDir: root })), emitTypes()]);
}
