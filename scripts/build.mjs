// One build script, one target per process:
//   trainer sidecar + CLI + job worker → dist/trainer/*.js (node, cjs; tfjs bundled, native backends and esbuild external)
//   tests                  → dist/test/**/*.test.cjs (node, cjs; bundled like the trainer)
//   bench tools            → dist/bench/*.js (node, cjs)
//   extension host         → dist/extension/extension.js (node, cjs; `vscode` external), and its
//                            in-host test suite → dist/e2e-host/index.js (outside dist/test: node --test would run it)
//   webviews               → dist/webview/*.js (browser, esm)
//   wasm binaries          → dist/wasm/ (the wasm backend loads them at run time)
//   SDK type declarations  → dist/types/sdk/*.d.ts (tsc -p tsconfig.sdk-types.json, run from here
//                            beside esbuild, so this script alone and `npm run build` give the same dist/)
// The extension host and webview targets join here when they exist. `--watch` rebuilds on change.
import * as esbuild from "esbuild";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

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
      tracin: "bench/tracin.bench.ts",
      torchWorker: "bench/torchWorker.bench.ts",
      tensorboard: "bench/tensorboard.bench.ts",
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
  // The extension's own tests, run inside code-server's extension host by test/e2e.
  {
    ...common,
    entryPoints: { index: "test/e2e/extensionHost/index.ts" },
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
      influence: "src/webview/influence/main.ts",
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

if (watch) {
  await emitTypes();
  for (const t of targets) await (await esbuild.context(t)).watch();
} else {
  await Promise.all([...targets.map((t) => esbuild.build({ ...t, absWorkingDir: root })), emitTypes()]);
}
