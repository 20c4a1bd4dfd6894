// Hostile and broken run folders against the extension's vscode-free logic: special files (a FIFO,
// a link to /dev/zero) must never block or fill the extension host, and no run.json field may make
// the hover or the Runs view throw or inject Markdown. Reads that could block run in a child
// process killed after a time bound, so a regression fails instead of hanging the suite.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test as nodeTest } from "node:test";
import { readConfig } from "../../src/extension/config";
import { scanModelSystems, ScanCache } from "../../src/extension/experimentScanner";
import { checkpointHover, systemHover } from "../../src/extension/hoverContent";
import { LatestMetrics } from "../../src/extension/latestMetrics";
import { MetricsTailer } from "../../src/extension/metricsTailer";
import { RunIndex } from "../../src/extension/runIndex";
import { runItemText } from "../../src/extension/runsTree";
import { StatCache } from "../../src/extension/statCache";
import { markRunFailed } from "../../src/extension/supervisor";
import type { RunManifest } from "../../src/shared/runFormat";
import { encodeSafetensors, parseSafetensorsHeader } from "../../src/shared/safetensors";
import { assertLinearTime, tempDir } from "../support";

// ---------------------------------------------------------------------------------------------
// Child-process side: one task, its answer as JSON on stdout.

const TASK_ENV = "LM_HOSTILE_TASK";
const request = process.env[TASK_ENV];
/**
 * In the child, this file is only its task runner: no test is registered there (a task may be
 * asynchronous, and a test started meanwhile would run in the child, or spawn children itself).
 */
const test: typeof nodeTest = request === undefined ? nodeTest : Object.assign(() => Promise.resolve(), nodeTest);

async function runTask(task: string, dir: string): Promise<unknown> {
  switch (task) {
    case "scan": {
      const index = new RunIndex([dir]);
      await index.scan();
      return index.all().map((e) => ({
        folder: e.folderName,
        status: e.status,
        problem: e.status === "invalid" ? e.problem : undefined,
      }));
    }
    case "tail": {
      let error = "";
      try {
        new MetricsTailer(path.join(dir, "metrics.jsonl")).poll();
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      const latest = new LatestMetrics();
      return { error, latest: latest.get(dir) ?? null, badLines: latest.badLines(dir) };
    }
    case "markFailed":
      return { marked: markRunFailed(dir, "crashed") };
    default:
      throw new Error(`unknown task ${task}`);
  }
}

if (request !== undefined) {
  const { task, dir } = JSON.parse(request) as { task: string; dir: string };
  void runTask(task, dir).then((answer) => {
    process.stdout.write(JSON.stringify(answer));
    process.exit(0);
  });
}

/** Runs a task in a child process; fails (instead of hanging) when it takes more than `timeoutMs`. */
function inChild(task: string, dir: string, timeoutMs = 5000): unknown {
  const started = Date.now();
  const r = spawnSync(process.execPath, [__filename], {
    env: { ...process.env, [TASK_ENV]: JSON.stringify({ task, dir }) },
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  assert.equal(
    r.signal,
    null,
    `${task} on ${dir} did not finish within ${timeoutMs} ms (killed after ${Date.now() - started} ms)`,
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// ---------------------------------------------------------------------------------------------

function manifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: "learning-mechanics/run",
    formatVersion: 1,
    id: "modAdd-1",
    system: "modAdd",
    experiment: { path: "/exp/a.experiment.ts", sha256: "sha256:00" },
    config: {},
    seed: 0,
    backend: { name: "cpu", reason: "test" },
    status: "finished",
    startedAt: "2025-06-01T12:00:00.000Z",
    updatedAt: "2025-06-01T12:01:00.000Z",
    totalSteps: 100,
    step: 100,
    producer: "test",
    ...over,
  };
}

/** A run.json as a reader sees it: parsed JSON, whatever its fields hold. */
function parsed(over: Record<string, unknown>): RunManifest {
  return JSON.parse(JSON.stringify(manifest(over)));
}

function mkfifo(p: string): void {
  const r = spawnSync("mkfifo", [p]);
  assert.equal(r.status, 0, `mkfifo ${p}: ${r.stderr}`);
}

const posix = process.platform !== "win32";

test("run index: a FIFO run.json and a run.json linked to /dev/zero are invalid runs, read without blocking or filling memory", {
  skip: !posix,
}, (t) => {
  const root = tempDir(t);
  fs.mkdirSync(path.join(root, "fifo"));
  mkfifo(path.join(root, "fifo", "run.json"));
  fs.mkdirSync(path.join(root, "zero"));
  fs.symlinkSync("/dev/zero", path.join(root, "zero", "run.json"));
  fs.mkdirSync(path.join(root, "ok"));
  fs.writeFileSync(path.join(root, "ok", "run.json"), JSON.stringify(manifest()));
  const entries = inChild("scan", root) as Array<{ folder: string; status: string; problem?: string }>;
  const byFolder = Object.fromEntries(entries.map((e) => [e.folder, e]));
  assert.equal(byFolder["ok"]?.status, "finished");
  assert.equal(byFolder["fifo"]?.problem, "run.json: is a FIFO, not a regular file");
  assert.equal(byFolder["zero"]?.problem, "run.json: is a character device, not a regular file");
});

test("run index: a run.json linked to another file never quotes that file's contents", async (t) => {
  const root = tempDir(t);
  const secret = path.join(root, "secret.txt");
  fs.writeFileSync(secret, "TOKEN=hunter2 do not show");
  fs.mkdirSync(path.join(root, "r"));
  fs.symlinkSync(secret, path.join(root, "r", "run.json"));
  const index = new RunIndex([root]);
  await index.scan();
  const [entry] = index.invalid();
  assert.ok(entry);
  assert.match(entry.problem, /^run\.json is not valid JSON: /);
  assert.doesNotMatch(entry.problem, /TOKEN|hunter2/);
});

test("run index: a run.json without backend is an invalid run with the reason, never an exception", async (t) => {
  const root = tempDir(t);
  fs.mkdirSync(path.join(root, "nobackend"));
  const m = manifest();
  delete m["backend"];
  fs.writeFileSync(path.join(root, "nobackend", "run.json"), JSON.stringify(m));
  fs.mkdirSync(path.join(root, "numbername"));
  fs.writeFileSync(path.join(root, "numbername", "run.json"), JSON.stringify(manifest({ backend: { name: 7 } })));
  const index = new RunIndex([root]);
  await index.scan();
  const problems = Object.fromEntries(index.invalid().map((e) => [e.folderName, e.problem]));
  assert.match(problems["nobackend"] ?? "", /backend(\.name)? must be/);
  assert.match(problems["numbername"] ?? "", /backend(\.name)? must be/);
  assert.deepEqual(index.groups(), []);
});

test("metrics: a FIFO metrics.jsonl is refused at once by the tailer and the code-lens values", {
  skip: !posix,
}, (t) => {
  const dir = tempDir(t);
  mkfifo(path.join(dir, "metrics.jsonl"));
  const r = inChild("tail", dir) as { error: string; latest: unknown; badLines: number };
  assert.match(r.error, /metrics\.jsonl: is a FIFO, not a regular file$/);
  assert.equal(r.latest, null);
  assert.equal(r.badLines, 0);
});

test("markRunFailed leaves a FIFO run.json alone, without blocking", { skip: !posix }, (t) => {
  const dir = tempDir(t);
  mkfifo(path.join(dir, "run.json"));
  assert.deepEqual(inChild("markFailed", dir), { marked: false });
});

test("metrics: unparsable lines are counted for the Runs view", (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(
    path.join(dir, "metrics.jsonl"),
    '{"step":0,"time":0,"train_loss":1}\nnot json\n{"step":1\n{"step":2,"time":1,"train_loss":0.5}\n',
  );
  const latest = new LatestMetrics();
  assert.equal(latest.badLines(dir), 2);
  assert.equal(latest.get(dir)?.["train_loss"], 0.5);
});

test("hover: run.json values are escaped and type-checked (divergedAtStep, error, location, backend)", () => {
  const evil = "[click](https://evil.example) ![x](https://evil.example/p.png)";
  const diverged = systemHover(
    "modAdd",
    parsed({
      status: "diverged",
      divergedAtStep: evil,
      error: { message: "boom", location: { file: `/x/${evil}.ts`, line: evil, column: 2 } },
    }),
    undefined,
  );
  assert.doesNotMatch(diverged, /\]\(https/);
  assert.match(diverged, /Error: boom \(/);
  assert.doesNotMatch(diverged, /Diverged at step \[/);
  // Types a producer may get wrong: none throws.
  assert.match(systemHover("modAdd", parsed({ status: "failed", error: null }), undefined), /backend cpu/);
  assert.match(systemHover("modAdd", parsed({ backend: { name: 42 } }), undefined), /backend \\\?/);
  assert.match(systemHover("modAdd", parsed({ backend: null }), undefined), /backend \\\?/);
  assert.match(
    systemHover(
      "modAdd",
      parsed({ status: "failed", error: { message: "bad", location: { file: 12, line: 1, column: 1 } } }),
      undefined,
    ),
    /Error: bad$/m,
  );
  assert.match(systemHover("modAdd", parsed({ status: "failed", error: { message: 5 } }), undefined), /backend cpu/);
});

test("Runs view item: missing or mistyped fields never throw; text escaped; unreadable metrics lines shown", () => {
  const m = parsed({ error: { message: "<img src=x> **bold**" } });
  delete (m as Partial<RunManifest>).backend;
  const entry = {
    runDir: "/runs/r",
    key: "/runs/r",
    root: "/runs",
    folderName: "r",
    status: "finished" as const,
    manifest: m,
    startedMs: 0,
  };
  const text = runItemText(entry, { badLines: 3 });
  assert.equal(text.description, "finished · step 100/100 · 3 unreadable lines");
  assert.match(text.tooltip, /backend: \?/);
  assert.match(text.tooltip, /\\<img src=x\\> \\\*\\\*bold\\\*\\\*/);
  assert.match(text.tooltip, /3 unreadable lines in metrics\.jsonl/);
  assert.equal(runItemText(entry, { badLines: 0 }).description, "finished · step 100/100");
});

test("checkpoint hover: the step in the file name wins over the metadata's", () => {
  const bytes = encodeSafetensors([{ name: "w", dtype: "F32", shape: [1], data: new Float32Array([1]) }], {
    step: "999999",
  });
  const header = parseSafetensorsHeader(bytes);
  assert.match(
    checkpointHover("/runs/r/checkpoints/step-000100.safetensors", header, bytes.length),
    /^\*\*Checkpoint · step 100\*\*/,
  );
  assert.match(
    checkpointHover("/runs/r/other.safetensors", header, bytes.length),
    /^\*\*Checkpoint · step 999,999\*\*/,
  );
});

test("checkpoint hover: computed once per file version (mtime and size)", async () => {
  const cache = new StatCache<string>(2);
  let n = 0;
  const compute = async (): Promise<string> => `text ${++n}`;
  assert.equal(await cache.get("/a", { mtimeMs: 1, size: 10 }, compute), "text 1");
  assert.equal(await cache.get("/a", { mtimeMs: 1, size: 10 }, compute), "text 1");
  assert.equal(await cache.get("/a", { mtimeMs: 2, size: 10 }, compute), "text 2");
  await cache.get("/b", { mtimeMs: 1, size: 1 }, compute);
  await cache.get("/c", { mtimeMs: 1, size: 1 }, compute);
  assert.equal(await cache.get("/a", { mtimeMs: 2, size: 10 }, compute), "text 5", "evicted past maxEntries");
  assert.equal(cache.computed, 5);
});

test("experiment scanner: linear in the file's size (type annotations without `=` used to make it quadratic)", () => {
  const file = (lines: number): string =>
    `${"export const table: Record<string, number>\n".repeat(lines)}export const late: System = modelSystem({});\n`;
  assert.deepEqual(scanModelSystems(file(40_000)), [{ name: "late", line: 40_000, column: 13 }]);
  const texts = new Map([5_000, 80_000].map((n) => [n, file(n)]));
  assertLinearTime("experiment scanner", (n) => scanModelSystems(texts.get(n)!), 5_000);
});

test("experiment scanner: one scan per document version", () => {
  const cache = new ScanCache();
  const text = "export const a = modelSystem({});\n";
  let reads = 0;
  const read = (): string => {
    reads++;
    return text;
  };
  for (let i = 0; i < 5; i++) assert.equal(cache.get("file:///a.experiment.ts", 1, read)[0]?.name, "a");
  assert.equal(cache.scans, 1);
  assert.equal(reads, 1);
  cache.get("file:///a.experiment.ts", 2, read);
  assert.equal(cache.scans, 2);
});

test("settings: an untrusted workspace does not choose the run roots; no workspace chooses nodePath", () => {
  const levels: Record<string, { globalValue?: unknown; workspaceValue?: unknown }> = {
    runRoots: { globalValue: ["~/my-runs"], workspaceValue: ["/etc"] },
    nodePath: { globalValue: "/usr/bin/node", workspaceValue: "./evil-node" },
  };
  const source = {
    get: <T>(key: string): T | undefined => (levels[key]?.workspaceValue ?? levels[key]?.globalValue) as T | undefined,
    inspect: <T>(key: string) => levels[key] as { globalValue?: T; workspaceValue?: T } | undefined,
  };
  assert.deepEqual(readConfig(source, { trusted: false }).runRoots, ["~/my-runs"]);
  assert.deepEqual(readConfig(source, { trusted: true }).runRoots, ["/etc"]);
  assert.equal(readConfig(source, { trusted: true }).nodePath, "/usr/bin/node");
  assert.equal(readConfig(source, { trusted: false }).nodePath, "/usr/bin/node");
  // No user value: the default, never the workspace's.
  delete levels["runRoots"]!.globalValue;
  delete levels["nodePath"]!.globalValue;
  assert.deepEqual(readConfig(source, { trusted: false }).runRoots, ["runs"]);
  assert.equal(readConfig(source, { trusted: true }).nodePath, "");
});
