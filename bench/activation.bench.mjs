#!/usr/bin/env node
// Extension activation time: the built extension (dist/extension/extension.js) loaded and
// activated under a minimal stand-in for the `vscode` module, on a workspace holding 0, 1,000 and
// 40,000 runs (generated in a temp folder, deleted after). Each measurement is a fresh process
// (cold module cache, warm OS file cache).
//
//   node scripts/build.mjs && node bench/activation.bench.mjs [--runs 0,1000,40000] [--reps 5] [--bundle path[,path]]
//
// Measured, in ms: `require` of the bundle (VS Code's "code loading"); `activate()` from its call
// to its return (every command registered; the run index scan started, not finished); "indexed":
// from the call of `activate()` until the log says how many runs the scan found (every run in the
// index, the Runs view and code lenses complete); "longest block": the longest time the event loop
// could not run a `setImmediate` callback from the call of `activate()` until "indexed" (how long
// the extension host was unresponsive; activate() itself counts as one block). The chokidar
// watcher starts in the background and is timed separately, to its `ready`, up to 2,000 runs
// (past that the extension polls the roots instead of watching them, and a second chokidar over
// 40,000 folders would only exhaust the machine's inotify watches). The stand-in answers every
// API the extension calls with inert objects (its cost is a few property look-ups); what VS Code
// itself spends around activation is not in these figures. `--bundle` measures other builds
// (e.g. a copy of the previous one, for before/after figures: several are measured alternately).
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---- the stand-in `vscode` -----------------------------------------------------------------

/** An inert value: any property is another one, calling or constructing one returns one. */
function inert() {
  // biome-ignore lint/complexity/useArrowFunction: the Proxy's construct trap needs a constructible target; an arrow has no [[Construct]]
  const target = function () {};
  const proxy = new Proxy(target, {
    get(_t, key) {
      if (key === "then") return undefined; // not a thenable: `await` must not hang on it
      if (key === Symbol.toPrimitive) return () => "";
      if (key === Symbol.iterator) return function* () {};
      if (key === "dispose") return () => {};
      return proxy;
    },
    set: () => true,
    apply: () => proxy,
    construct: () => proxy,
  });
  return proxy;
}

class EventEmitter {
  listeners = new Set();
  event = (l) => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(v) {
    for (const l of this.listeners) l(v);
  }
  dispose() {
    this.listeners.clear();
  }
}

/** What the extension did during activation, as the stand-in saw it. */
const seen = { commands: 0, log: [] };

function fakeVscode(workspace) {
  const file = (p) => ({ scheme: "file", fsPath: p, path: p, toString: () => `file://${p}` });
  const folder = { uri: file(workspace), name: "ws", index: 0 };
  const api = {
    EventEmitter,
    Uri: {
      file,
      joinPath: (base, ...parts) => file(join(base.fsPath, ...parts)),
      parse: (s) => file(s.replace(/^file:\/\//, "")),
    },
    workspace: new Proxy(
      {
        workspaceFolders: [folder],
        isTrusted: true,
        textDocuments: [],
        getWorkspaceFolder: () => folder,
        getConfiguration: () => ({ get: () => undefined }),
      },
      { get: (t, k) => (k in t ? t[k] : inert()) },
    ),
    commands: new Proxy(
      {
        registerCommand: () => {
          seen.commands++;
          return { dispose() {} };
        },
        executeCommand: () => Promise.resolve(undefined),
      },
      { get: (t, k) => (k in t ? t[k] : inert()) },
    ),
    window: new Proxy(
      {
        createOutputChannel: () => {
          const channel = inert();
          return new Proxy(channel, {
            get: (_t, k) =>
              ["info", "warn", "error", "trace", "appendLine"].includes(k)
                ? (m) => seen.log.push(String(m))
                : channel[k],
          });
        },
      },
      { get: (t, k) => (k in t ? t[k] : inert()) },
    ),
  };
  // The bundle reads the module's own properties (esbuild's namespace import copies them): name
  // every one the extension uses; the rest of each is inert.
  for (const name of [
    "window",
    "languages",
    "env",
    "extensions",
    "l10n",
    "CodeLens",
    "ConfigurationTarget",
    "Diagnostic",
    "DiagnosticSeverity",
    "Disposable",
    "Hover",
    "MarkdownString",
    "Position",
    "ProgressLocation",
    "Range",
    "StatusBarAlignment",
    "ThemeColor",
    "ThemeIcon",
    "TreeItem",
    "TreeItemCollapsibleState",
    "ViewColumn",
  ]) {
    api[name] ??= inert();
  }
  return api;
}

// ---- one measurement (child process) -------------------------------------------------------

/** The number in the extension's "N runs found" log line, once it is logged. */
function runsFound() {
  for (const l of seen.log) {
    const m = /; (\d+) runs? found/.exec(l);
    if (m) return Number(m[1]);
  }
  return undefined;
}

async function child(workspace, bundle, runs) {
  const vscode = fakeVscode(workspace);
  const load = Module._load;
  Module._load = function (request, ...rest) {
    return request === "vscode" ? vscode : load.call(this, request, ...rest);
  };
  const t0 = performance.now();
  const ext = createRequire(import.meta.url)(bundle);
  const t1 = performance.now();
  const context = {
    subscriptions: [],
    extensionUri: vscode.Uri.file(root),
    extensionPath: root,
    globalState: inert(),
    workspaceState: inert(),
    storageUri: undefined,
    logUri: vscode.Uri.file(tmpdir()),
  };
  ext.activate(context);
  const t2 = performance.now();
  seen.commandsAtActivate = seen.commands;
  // Until every run is indexed: the longest gap between setImmediate callbacks (the host's
  // responsiveness while the index fills).
  let longestBlock = t2 - t1;
  let last = performance.now();
  while (runsFound() === undefined) {
    await new Promise((r) => setImmediate(r));
    const now = performance.now();
    longestBlock = Math.max(longestBlock, now - last);
    last = now;
  }
  const t3 = performance.now();
  let watcherReadyMs = Number.NaN;
  if (runs <= 2000) {
    // The watcher is the other part that continues after activate: time it to chokidar's `ready`
    // by watching the same root the extension watches (a second watcher, started now).
    const { watch } = createRequire(join(root, "package.json"))("chokidar");
    const w = watch(join(workspace, "runs"), { ignoreInitial: true, depth: 3 });
    await new Promise((r) => w.once("ready", r));
    watcherReadyMs = performance.now() - t2;
    await w.close();
  }
  await ext.deactivate?.();
  for (const d of context.subscriptions.reverse()) d.dispose();
  const result = {
    requireMs: t1 - t0,
    activateMs: t2 - t1,
    indexedMs: t3 - t1,
    longestBlockMs: longestBlock,
    watcherReadyMs,
    commands: seen.commandsAtActivate,
    runsFound: runsFound(),
  };
  if (process.send === undefined) {
    // Run by hand (`--child DIR`, e.g. under --cpu-prof): print what the parent would get.
    console.log(JSON.stringify(result));
    return;
  }
  process.send(result);
  process.disconnect();
  setTimeout(() => process.exit(0), 100).unref();
}

// ---- the parent ----------------------------------------------------------------------------

function makeWorkspace(dir, runs) {
  for (let i = 0; i < runs; i++) {
    const runDir = join(dir, "runs", `modAdd-${String(i).padStart(5, "0")}`);
    mkdirSync(join(runDir, "checkpoints"), { recursive: true });
    const started = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    writeFileSync(
      join(runDir, "run.json"),
      JSON.stringify(
        {
          format: "learning-mechanics/run",
          formatVersion: 1,
          id: `modAdd-${i}`,
          system: i % 3 === 0 ? "modAdd" : "parity",
          experiment: { path: join(dir, "grokking.experiment.ts"), sha256: "sha256:00" },
          config: {},
          seed: i,
          backend: { name: "wasm", reason: "bench" },
          status: "finished",
          startedAt: started,
          updatedAt: started,
          totalSteps: 1000,
          step: 1000,
          producer: "bench",
        },
        null,
        2,
      ),
    );
    writeFileSync(join(runDir, "metrics.jsonl"), '{"step":1000,"time":10,"train_loss":0.1}\n');
  }
}

function measure(workspace, bundle, runs) {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ["--child", workspace, "--bundle", bundle, "--runs", String(runs)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result;
    c.on("message", (m) => (result = m));
    c.on("error", reject);
    c.on("exit", (code) => (result ? resolve(result) : reject(new Error(`activation child exited with ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    runs: { type: "string", default: "0,1000,40000" },
    reps: { type: "string", default: "5" },
    bundle: { type: "string", default: join(root, "dist", "extension", "extension.js") },
  },
});
if (values.child) {
  await child(values.child, values.bundle, Number(values.runs));
} else {
  const reps = Number(values.reps);
  // Several bundles (comma-separated) are measured alternately on the same workspace, so a
  // before/after comparison sees the same files and the same load.
  const bundles = values.bundle.split(",");
  const rows = [];
  for (const runs of values.runs.split(",").map(Number)) {
    const ws = mkdtempSync(join(tmpdir(), "lm-activation-"));
    try {
      const tMake = performance.now();
      makeWorkspace(ws, runs);
      if (runs > 0) console.error(`${runs} runs generated in ${((performance.now() - tMake) / 1000).toFixed(1)} s`);
      const all = bundles.map(() => []);
      for (let i = 0; i < reps; i++)
        for (const [b, bundle] of bundles.entries()) all[b].push(await measure(ws, bundle, runs));
      for (const [b, bundle] of bundles.entries()) {
        const got = all[b];
        for (const r of got)
          if (r.runsFound !== runs || !(r.commands > 0))
            throw new Error(
              `${bundle}: activation indexed ${r.runsFound} of ${runs} runs, registered ${r.commands} commands`,
            );
        const row = {
          bundle,
          runs,
          reps,
          commands: got[0].commands,
          requireMs: median(got.map((r) => r.requireMs)),
          activateMs: median(got.map((r) => r.activateMs)),
          indexedMs: median(got.map((r) => r.indexedMs)),
          longestBlockMs: median(got.map((r) => r.longestBlockMs)),
          watcherReadyMs: runs > 2000 ? Number.NaN : median(got.map((r) => r.watcherReadyMs)),
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  }
  console.log(`\n${rows[0]?.commands} commands registered; every run indexed (checked).`);
  console.log(
    "runs in workspace  require ms  activate() ms  require+activate ms  indexed ms  longest block ms  watcher ready ms   (medians)",
  );
  for (const bundle of bundles) {
    if (bundles.length > 1) console.log(`${bundle}:`);
    for (const r of rows.filter((row) => row.bundle === bundle)) {
      const watcher = Number.isNaN(r.watcherReadyMs) ? "(polled)" : r.watcherReadyMs.toFixed(1);
      console.log(
        `${String(r.runs).padStart(17)}  ${r.requireMs.toFixed(1).padStart(10)}  ${r.activateMs.toFixed(1).padStart(13)}  ${(r.requireMs + r.activateMs).toFixed(1).padStart(19)}  ${r.indexedMs.toFixed(1).padStart(10)}  ${r.longestBlockMs.toFixed(1).padStart(16)}  ${watcher.padStart(16)}`,
      );
    }
  }
}
