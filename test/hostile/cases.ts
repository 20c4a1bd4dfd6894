// The hostile corpus: every case's setup (generated on the fly in its own temp folder), what runs
// it (a probe of the extension-side readers, or the real CLI) and its expected outcome, explicit
// per case. Issue 8 ("Hostile and broken inputs") lists the defects these cases stand for.
//
// Layout of a case folder:
//   <root>/ws/runs/run/   the run folder under test (a copy of a real tiny run, then damaged)
//   <root>/ws/exp/        experiment files of the experiment cases
//   <root>/outside/       the sentinel tree: files beside the run that nothing may change
// Every case also asserts, beside its own expectations: it ended within its time bound, its peak
// resident memory stayed under its bound, its output has no stack trace and no "internal" error,
// and nothing outside the folders it may write changed (checksums, symlink targets included).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { encodeEvent } from "../../src/shared/tensorboardEvents";
import { frameRecord } from "../../src/shared/tfRecord";
import type { Json, MetricsReaderName, PartResult, ProbeReport, ProbeRequest } from "./probeTypes";
import type { ChildOutcome } from "./runner";

export interface CasePaths {
  root: string;
  ws: string;
  runs: string;
  run: string;
  exp: string;
  outside: string;
}

/** Built once before the cases: a real trained run and its weights analysis. */
export interface Fixture {
  /** A finished tinyAdd run: checkpoints 0, 20, 40, 60; metrics every step. */
  runDir: string;
  /** Its experiment file (run.json points at it). */
  experiment: string;
  /** The text of `lm analyze --only weights` on it. */
  weightsJsonl: string;
}

export interface SetupContext {
  p: CasePaths;
  fx: Fixture;
  /** Called after the case ran (kill helper processes). */
  cleanup: Array<() => void>;
}

export type Runner =
  | { kind: "probe"; request: (p: CasePaths) => ProbeRequest }
  | { kind: "cli"; args: (p: CasePaths) => string[]; signals?: readonly { atMs: number; signal: NodeJS.Signals }[] }
  /** The same command line twice at once (two writers on one run folder). */
  | { kind: "cli-twice"; args: (p: CasePaths) => string[] };

/** What a case saw, for its checks. */
export interface Observed {
  outcomes: ChildOutcome[];
  report: ProbeReport | undefined;
  /** All text a user would read: CLI stdout + stderr; a probe's problems and errors. */
  text: string;
}

export interface Expect {
  /** Must have ended within this long (ms). */
  timeMs: number;
  /** Peak resident memory bound (MB). */
  peakMb: number;
  /** CLI: allowed exit codes (or signal names). */
  exit?: readonly (number | string)[];
  /** The message must match: names the file or the reason. */
  message?: RegExp;
  /** Probe parts may throw only with a message matching this (a clear refusal naming the file). */
  partErrors?: RegExp;
  /** Further assertions; returns why the case failed, or undefined. */
  check?: Check;
  /** Folders the case may write (default: none for probes, the run folder for the CLI). */
  writes?: (p: CasePaths) => string[];
}

/** A further assertion; returns why the case failed, or undefined. */
export type Check = (o: Observed, p: CasePaths) => string | undefined;

export interface Case {
  id: string;
  category: "run.json" | "metrics" | "analyses" | "checkpoints" | "experiment" | "cli" | "tensorboard";
  /** The defect of issue 8 it exercises, in a few words (for the report). */
  defect: string;
  setup: (c: SetupContext) => void | Promise<void>;
  run: Runner;
  expect: Expect;
}

// ---------------------------------------------------------------------------------------------
// Generators

/** Text that would be a link, an image, HTML, a table cell or a theme icon if not escaped. */
export const PAYLOAD =
  '[click](https://evil.example/x) ![img](https://evil.example/i.png) <img src=x onerror=alert(1)> <a href="https://evil.example">a</a> $(zap) <script>alert(1)</script> | cell |\n# heading';

function mkfifo(p: string): void {
  const r = spawnSync("mkfifo", [p]);
  if (r.status !== 0) throw new Error(`mkfifo ${p}: ${r.stderr.toString()}`);
}

function replaceWith(p: string, make: (p: string) => void): void {
  fs.rmSync(p, { recursive: true, force: true });
  make(p);
}

const fifoAt = (p: string) => replaceWith(p, mkfifo);
const linkAt = (target: string) => (p: string) => replaceWith(p, (q) => fs.symlinkSync(target, q));
const devZeroAt = linkAt("/dev/zero");
// Past V8's longest string (~512 MiB), so a reader that reads it whole fails, and past every
// case's memory bound, so one that buffers it is caught; small enough to stream in seconds on a
// loaded 2-core machine (2.2 GB took 10 s of kernel time alone to read, 30 s under load; 700 MB
// took 16 s in a CI run, so these cases have 60 s: a bound that still catches a hang).
const SPARSE_700MB = 700 * 2 ** 20;

/** A file of `bytes` zero bytes that takes no disk (sparse). */
function sparseAt(bytes: number) {
  return (p: string) =>
    replaceWith(p, (q) => {
      const fd = fs.openSync(q, "w");
      fs.ftruncateSync(fd, bytes);
      fs.closeSync(fd);
    });
}
const textAt = (text: string | Buffer) => (p: string) => replaceWith(p, (q) => fs.writeFileSync(q, text));
const dirAt = (p: string) => replaceWith(p, (q) => fs.mkdirSync(q));

/** A seeded byte stream (xorshift), so the garbage is the same on every run. */
function garbage(n: number, seed = 12345): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function copyRun(c: SetupContext): void {
  fs.cpSync(c.fx.runDir, c.p.run, { recursive: true });
}

function readJson(file: string): Record<string, Json> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, Json>;
}

function patchManifest(c: SetupContext, patch: (m: Record<string, Json>) => void): void {
  const file = path.join(c.p.run, "run.json");
  const m = readJson(file);
  patch(m);
  fs.writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
}

/** Sets (or with `undefined`, deletes) a dotted field of an object, creating parents. */
function setField(obj: Record<string, Json>, dotted: string, value: Json | undefined): void {
  const keys = dotted.split(".");
  let o: Record<string, Json> = obj;
  for (const k of keys.slice(0, -1)) {
    const next = o[k];
    if (typeof next !== "object" || next === null || Array.isArray(next)) o[k] = {};
    o = o[k] as Record<string, Json>;
  }
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete o[last];
  else o[last] = value;
}

const ck = (p: CasePaths, step: number) =>
  path.join(p.run, "checkpoints", `step-${String(step).padStart(8, "0")}.safetensors`);

interface ParsedCheckpoint {
  header: Record<string, Json>;
  data: Buffer;
}

function readCheckpoint(file: string): ParsedCheckpoint {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  return { header: JSON.parse(b.subarray(8, 8 + n).toString("utf8")) as Record<string, Json>, data: b.subarray(8 + n) };
}

/** Writes a safetensors file from a header object (padded to 8 bytes) or raw header bytes. */
function writeCheckpoint(
  file: string,
  header: Record<string, Json> | Buffer,
  data: Buffer,
  declaredLength?: bigint,
): void {
  let h = Buffer.isBuffer(header) ? header : Buffer.from(JSON.stringify(header), "utf8");
  if (!Buffer.isBuffer(header) && h.length % 8 !== 0) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLength ?? BigInt(h.length));
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
}

function editCheckpoint(file: string, edit: (h: Record<string, Json>) => void): void {
  const { header, data } = readCheckpoint(file);
  edit(header);
  writeCheckpoint(file, header, data);
}

function tensorEntry(h: Record<string, Json>, name: string): Record<string, Json> {
  return h[name] as Record<string, Json>;
}

function metadataOf(h: Record<string, Json>): Record<string, Json> {
  return h["__metadata__"] as Record<string, Json>;
}

/** The steps recorded in the run's analyses/weights.jsonl (after its header line). */
function weightsSteps(p: CasePaths): number[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(p.run, "analyses", "weights.jsonl"), "utf8");
  } catch {
    return [];
  }
  const steps: number[] = [];
  for (const line of text.split("\n").slice(1)) {
    try {
      const v = JSON.parse(line) as { step?: unknown };
      if (typeof v.step === "number") steps.push(v.step);
    } catch {
      // not a record
    }
  }
  return steps.sort((a, b) => a - b);
}

function metricsSteps(p: CasePaths): number[] {
  const steps: number[] = [];
  for (const line of fs.readFileSync(path.join(p.run, "metrics.jsonl"), "utf8").split("\n")) {
    try {
      const v = JSON.parse(line) as { step?: unknown };
      if (typeof v.step === "number") steps.push(v.step);
    } catch {
      // not a record
    }
  }
  return steps;
}

/** A process that stays alive while the case runs (a lock owner that is not dead). */
function livePid(c: SetupContext): number {
  const child = spawn("sleep", ["600"], { stdio: "ignore" });
  c.cleanup.push(() => child.kill("SIGKILL"));
  if (child.pid === undefined) throw new Error("could not start sleep");
  return child.pid;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync("true");
  return r.pid;
}

function writeLock(file: string, pid: number, purpose: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ pid, purpose, since: new Date().toISOString() }));
}

/** A run stopped at step 40 (its last checkpoint), ready to be resumed. */
function stoppedAt40(c: SetupContext): void {
  copyRun(c);
  fs.rmSync(ck(c.p, 60));
  const lines = fs
    .readFileSync(path.join(c.p.run, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && (JSON.parse(l) as { step: number }).step <= 40);
  fs.writeFileSync(path.join(c.p.run, "metrics.jsonl"), `${lines.join("\n")}\n`);
  patchManifest(c, (m) => {
    m["status"] = "stopped";
    m["step"] = 40;
  });
}

function experimentSource(prelude: string, hidden = "[32]"): string {
  return `import { modelSystem, models, optimizers, tasks } from "learning-mechanics";
${prelude}
export const tinyAdd = modelSystem({
  task: tasks.modularArithmetic({ p: 11, op: "add", trainFraction: 0.6 }),
  model: models.mlp({ embed: 8, hidden: ${hidden} }),
  optimizer: optimizers.adamw({ lr: 3e-3, weightDecay: 0.1 }),
  batchSize: 16,
  steps: 20,
  evalEvery: 5,
  checkpointEvery: 10,
  seed: 7,
});
`;
}

const expFile = (p: CasePaths) => path.join(p.exp, "x.experiment.ts");

// ---------------------------------------------------------------------------------------------
// Checks

function part(o: Observed, name: string): PartResult | undefined {
  return o.report?.parts[name];
}

function value(o: Observed, name: string): Record<string, Json> | undefined {
  const r = part(o, name);
  return r?.ok && typeof r.value === "object" && r.value !== null && !Array.isArray(r.value) ? r.value : undefined;
}

/** Links, images, HTML or a theme icon left in Markdown after its escaped characters are removed. */
export function unescaped(markdown: string, themeIcons: boolean): string | undefined {
  const bare = markdown.replace(/\\[!-/:-@[-`{-~]/g, "");
  const m = /\]\(|<img|<a\s|<script/.exec(bare) ?? (themeIcons ? /\$\(zap\)/.exec(bare) : null);
  return m ? `unescaped "${m[0]}" in: ${markdown.slice(0, 160)}` : undefined;
}

/** The run index gives an "invalid run" entry whose problem names run.json and matches `reason`. */
function invalidEntry(reason: RegExp) {
  return (o: Observed): string | undefined => {
    const v = value(o, "index");
    if (!v) return "index gave no answer";
    if (v["status"] !== "invalid") return `index status ${String(v["status"])}, expected an invalid entry`;
    const problem = String(v["problem"]);
    if (!/run\.json/.test(problem) || !reason.test(problem))
      return `problem "${problem.slice(0, 120)}" does not name run.json and ${reason}`;
    return undefined;
  };
}

/** Hover and Runs view text carry no live Markdown from the file. */
function escapedEverywhere(o: Observed): string | undefined {
  const hover = value(o, "hover");
  if (hover && typeof hover["text"] === "string") {
    const bad = unescaped(hover["text"], true);
    if (bad) return `hover: ${bad}`;
  }
  const items = part(o, "runsView");
  if (items?.ok && Array.isArray(items.value)) {
    for (const it of items.value) {
      if (typeof it !== "object" || it === null || Array.isArray(it) || it["tooltipIsMarkdown"] !== true) continue;
      const bad = unescaped(String(it["tooltip"]), false);
      if (bad) return `Runs view tooltip: ${bad}`;
    }
  }
  return undefined;
}

function all(...checks: Check[]): Check {
  return (o, p) => {
    for (const c of checks) {
      const r = c(o, p);
      if (r !== undefined) return r;
    }
    return undefined;
  };
}

/** The entry is either valid or a clear invalid entry: the readers answered. */
const indexAnswered = (o: Observed): string | undefined => {
  const v = value(o, "index");
  if (!v) return "index gave no answer";
  if (v["status"] === "absent") return "the run is missing from the index";
  if (v["status"] === "invalid" && !/run\.json/.test(String(v["problem"])))
    return `problem does not name run.json: ${String(v["problem"])}`;
  return undefined;
};

const validEntry = (o: Observed): string | undefined => {
  const v = value(o, "index");
  if (!v) return "index gave no answer";
  return v["status"] === "invalid" || v["status"] === "absent"
    ? `expected a valid entry, got ${String(v["status"])}: ${String(v["problem"])}`
    : undefined;
};

function field(name: string, want: (v: Json | undefined) => boolean, what: string): Check {
  return (o: Observed): string | undefined => {
    const r = o.report?.parts;
    const v = r ? Object.values(r).find((x) => x.ok) : undefined;
    if (!v?.ok || typeof v.value !== "object" || v.value === null || Array.isArray(v.value)) return "no answer";
    return want(v.value[name]) ? undefined : `${name} = ${JSON.stringify(v.value[name])}, expected ${what}`;
  };
}

const noMarker = (_o: Observed, p: CasePaths): string | undefined =>
  fs.existsSync(path.join(p.outside, "EXECUTED"))
    ? "the experiment file inside the run folder was executed"
    : undefined;

// ---------------------------------------------------------------------------------------------
// Bounds

const PROBE = { timeMs: 8_000, peakMb: 200 } as const;
const CLI = { timeMs: 20_000, peakMb: 500 } as const;

// ---------------------------------------------------------------------------------------------
// run.json

const manifestProbe: Runner = { kind: "probe", request: (p) => ({ probe: "manifest", root: p.runs, runDir: p.run }) };
const REFUSED = /not a regular file|FIFO|character device|device|too large|over the limit|limit|symlink|refus/i;

function runJsonFileCase(
  id: string,
  make: (file: string, c: SetupContext) => void,
  check: Check,
  defect: string,
  bounds: Partial<Expect> = {},
): Case {
  return {
    id: `run.json/${id}`,
    category: "run.json",
    defect,
    setup: (c) => {
      copyRun(c);
      make(path.join(c.p.run, "run.json"), c);
    },
    run: manifestProbe,
    expect: { ...PROBE, ...bounds, check },
  };
}

function manifestCase(
  id: string,
  patch: (m: Record<string, Json>) => void,
  check: Check,
  defect = "readers trust run.json field types",
): Case {
  return {
    id: `run.json/${id}`,
    category: "run.json",
    defect,
    setup: (c) => {
      copyRun(c);
      patchManifest(c, patch);
    },
    run: manifestProbe,
    expect: { ...PROBE, check: all(check, escapedEverywhere) },
  };
}

const set = (f: string, v: Json | undefined) => (m: Record<string, Json>) => setField(m, f, v);

const runJsonCases: Case[] = [
  runJsonFileCase(
    "devzero-link",
    devZeroAt,
    invalidEntry(REFUSED),
    "special files: run.json → /dev/zero grows the index without bound",
  ),
  runJsonFileCase("fifo", fifoAt, invalidEntry(REFUSED), "special files: a FIFO run.json blocks the index forever"),
  runJsonFileCase("sparse-1GB", sparseAt(1 << 30), invalidEntry(REFUSED), "huge run.json read whole"),
  runJsonFileCase(
    "valid-8MB",
    (f) => {
      const m = readJson(f);
      m["config"] = { pad: "x".repeat(8 << 20) };
      fs.writeFileSync(f, JSON.stringify(m));
    },
    indexAnswered,
    "huge run.json read whole",
  ),
  runJsonFileCase("directory", dirAt, (o) => (value(o, "index") ? undefined : "index gave no answer"), "special files"),
  runJsonFileCase(
    "link-to-secret",
    (f, c) => linkAt(path.join(c.p.outside, "secret.txt"))(f),
    all(invalidEntry(/./), (o) =>
      /SECRET/.test(o.text) ? "the problem quotes the symlink target's contents" : undefined,
    ),
    "the invalid-run message quotes a symlink target's contents",
  ),
  runJsonFileCase("empty", textAt(""), invalidEntry(/empty/), "broken run.json"),
  runJsonFileCase(
    "truncated",
    (f) => textAt(fs.readFileSync(f, "utf8").slice(0, 100))(f),
    invalidEntry(/JSON/),
    "broken run.json",
  ),
  runJsonFileCase("binary", textAt(garbage(4096)), invalidEntry(/./), "broken run.json"),
  runJsonFileCase(
    "bad-utf8",
    (f) =>
      textAt(Buffer.concat([Buffer.from('{"id": "'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('", "x": 1')]))(f),
    invalidEntry(/./),
    "broken run.json",
  ),
  runJsonFileCase("array", textAt("[]"), invalidEntry(/./), "broken run.json"),
  runJsonFileCase("null", textAt("null"), invalidEntry(/object/), "broken run.json"),
  runJsonFileCase("number", textAt("42"), invalidEntry(/object/), "broken run.json"),
  runJsonFileCase(
    "deep-nesting",
    textAt("[".repeat(200_000) + "]".repeat(200_000)),
    invalidEntry(/./),
    "broken run.json",
  ),
  runJsonFileCase(
    "bom",
    (f) => textAt(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(f)]))(f),
    indexAnswered,
    "broken run.json",
  ),

  // wrong type of each field a reader uses
  manifestCase("format-number", set("format", 1), invalidEntry(/format/)),
  manifestCase("formatVersion-string", set("formatVersion", "1"), invalidEntry(/formatVersion/)),
  manifestCase("formatVersion-newer", set("formatVersion", 99), invalidEntry(/newer|formatVersion/)),
  manifestCase("id-number", set("id", 5), invalidEntry(/id/)),
  manifestCase("system-object", set("system", { a: 1 }), invalidEntry(/system/)),
  manifestCase("experiment-string", set("experiment", "x"), invalidEntry(/experiment/)),
  manifestCase("experiment-path-number", set("experiment.path", 5), invalidEntry(/experiment/)),
  manifestCase("config-string", set("config", "x"), indexAnswered),
  manifestCase("config-task-string", set("config.task", "x"), indexAnswered),
  manifestCase("config-task-p-string", set("config.task.p", "59"), indexAnswered),
  manifestCase("seed-string", set("seed", "7"), invalidEntry(/seed/)),
  manifestCase("backend-string", set("backend", "cpu"), indexAnswered, "Runs view / hover trust backend"),
  manifestCase("backend-name-number", set("backend.name", 5), indexAnswered, "hover throws on a numeric backend.name"),
  manifestCase("status-unknown", set("status", "weird"), invalidEntry(/status/)),
  manifestCase("startedAt-number", set("startedAt", 5), invalidEntry(/startedAt/)),
  manifestCase("endedAt-object", set("endedAt", { a: 1 }), indexAnswered),
  manifestCase("pid-string", set("pid", "123"), indexAnswered),
  manifestCase("totalSteps-string", set("totalSteps", "60"), invalidEntry(/totalSteps/)),
  manifestCase("step-huge", set("step", 1e308), indexAnswered),
  manifestCase(
    "divergedAtStep-payload",
    (m) => {
      m["status"] = "diverged";
      m["divergedAtStep"] = PAYLOAD;
    },
    indexAnswered,
    "hover does not escape divergedAtStep",
  ),
  manifestCase(
    "error-string",
    (m) => {
      m["status"] = "failed";
      m["error"] = "boom";
    },
    indexAnswered,
  ),
  manifestCase(
    "error-message-number",
    (m) => {
      m["status"] = "failed";
      m["error"] = { message: 5 };
    },
    indexAnswered,
  ),
  manifestCase(
    "error-location-string",
    (m) => {
      m["status"] = "failed";
      m["error"] = { message: "boom", location: "x" };
    },
    indexAnswered,
    "hover throws on a bad error.location",
  ),
  manifestCase(
    "error-location-file-number",
    (m) => {
      m["status"] = "failed";
      m["error"] = { message: "boom", location: { file: 5, line: 1, column: 1 } };
    },
    indexAnswered,
    "hover throws on a numeric location.file",
  ),
  manifestCase(
    "error-location-line-payload",
    (m) => {
      m["status"] = "failed";
      m["error"] = { message: "boom", location: { file: "/x/a.ts", line: PAYLOAD, column: PAYLOAD } };
    },
    indexAnswered,
    "hover does not escape error.location",
  ),
  manifestCase("resumedFrom-string", set("resumedFrom", "x"), indexAnswered),

  // missing fields
  ...["format", "formatVersion", "id", "system", "status", "startedAt", "step", "totalSteps", "seed"].map((f) =>
    manifestCase(`missing-${f}`, set(f, undefined), invalidEntry(new RegExp(f))),
  ),
  // No experiment file (a notebook, a REPL) is a valid run (docs/run-format.md): every reader copes.
  manifestCase(
    "missing-experiment",
    set("experiment", undefined),
    validEntry,
    "a run without experiment was invalid (notebook runs)",
  ),
  manifestCase(
    "missing-backend",
    set("backend", undefined),
    indexAnswered,
    "Runs-view item throws when backend is missing",
  ),
  manifestCase("missing-config", set("config", undefined), indexAnswered, "panels trust config"),
  manifestCase("missing-updatedAt", set("updatedAt", undefined), invalidEntry(/updatedAt/)),

  // null fields
  manifestCase(
    "null-error",
    (m) => {
      m["status"] = "failed";
      m["error"] = null;
    },
    indexAnswered,
    "hover throws on error: null",
  ),
  manifestCase("null-backend", set("backend", null), indexAnswered, "Runs-view item throws on backend: null"),
  manifestCase("null-config", set("config", null), indexAnswered, "panels throw on config: null"),
  manifestCase("null-experiment", set("experiment", null), invalidEntry(/experiment/)),
  manifestCase(
    "null-location",
    (m) => {
      m["status"] = "failed";
      m["error"] = { message: "boom", location: null };
    },
    indexAnswered,
    "hover throws on location: null",
  ),
  manifestCase("null-system", set("system", null), invalidEntry(/system/)),
  manifestCase("null-step", set("step", null), invalidEntry(/step/)),

  // hostile Markdown / HTML in every string field
  ...[
    "id",
    "experiment.path",
    "backend.name",
    "backend.reason",
    "backend.package",
    "startedAt",
    "updatedAt",
    "endedAt",
    "producer",
    "config.summary",
    "experiment.sha256",
  ].map((f) => manifestCase(`payload-${f}`, set(f, PAYLOAD), indexAnswered, "hostile Markdown in run.json")),
  manifestCase("payload-system", set("system", PAYLOAD), indexAnswered, "hostile Markdown in run.json"),
  manifestCase(
    "payload-error-message",
    (m) => {
      m["status"] = "failed";
      m["error"] = { message: PAYLOAD, location: { file: `/x/${PAYLOAD}.ts`, line: 3, column: 4 } };
    },
    indexAnswered,
    "hostile Markdown in run.json",
  ),
  manifestCase("payload-status", set("status", PAYLOAD), invalidEntry(/status/), "hostile Markdown in run.json"),
  {
    id: "run.json/payload-folder-name",
    category: "run.json",
    defect: "hostile Markdown in a folder name",
    setup: (c) => {
      copyRun(c);
      const evil = path.join(c.p.runs, "[x](https:evil.example) <img src=x>");
      fs.renameSync(c.p.run, evil);
      fs.symlinkSync("/nonexistent", c.p.run); // the probe's runDir: a dangling link, not a run
    },
    run: {
      kind: "probe",
      request: (p) => ({
        probe: "manifest",
        root: p.runs,
        runDir: path.join(p.runs, "[x](https:evil.example) <img src=x>"),
      }),
    },
    expect: { ...PROBE, check: all(validEntry, escapedEverywhere) },
  },
];

// ---------------------------------------------------------------------------------------------
// metrics.jsonl

function metricsLine(step: number, extra = ""): string {
  return `{"step":${step},"time":${(step / 10).toFixed(1)},"train_loss":${(2 / (1 + step)).toFixed(6)},"train_acc":${Math.min(1, step / 1000).toFixed(4)}${step % 10 === 0 ? `,"test_loss":${(3 / (1 + step)).toFixed(6)},"test_acc":${Math.min(1, step / 3000).toFixed(4)}` : ""}${extra}}\n`;
}

/**
 * 300k metrics lines of a run that memorizes and never generalizes, with a parameter norm that
 * peaks late (step 250k): the grokking view then looks at 250k smoothed values before the peak.
 */
let longRunText: string | undefined;
function longRun(): string {
  if (longRunText !== undefined) return longRunText;
  const parts: string[] = [];
  for (let s = 0; s < 300_000; s++) {
    const norm = 10 + 5 * Math.exp(-(((s - 250_000) / 30_000) ** 2));
    parts.push(
      `{"step":${s},"time":${s / 10},"train_loss":${(2 / (1 + s)).toFixed(6)},"train_acc":${Math.min(1, s / 1000).toFixed(4)}${s % 10 === 0 ? ',"test_loss":3,"test_acc":0.1' : ""},"param_norm":${norm.toFixed(5)}}\n`,
    );
  }
  longRunText = parts.join("");
  return longRunText;
}

interface MetricsKind {
  name: string;
  defect: string;
  make: (file: string) => void;
  /** Expected per reader (beyond the common bounds and no-throw). */
  check?: Partial<Record<MetricsReaderName, Check>>;
  timeMs?: number;
  peakMb?: number;
  /** The readers this kind is for (default: all). */
  readers?: readonly MetricsReaderName[];
}

const METRICS_READERS: readonly MetricsReaderName[] = ["tailer", "latest", "readMetrics", "panel"];
const NAMES_METRICS = /metrics\.jsonl/;

const metricsKinds: MetricsKind[] = [
  { name: "fifo", defect: "a FIFO metrics.jsonl blocks the tailer and the code lens forever", make: fifoAt },
  { name: "devzero-link", defect: "readMetrics reads /dev/zero without bound", make: devZeroAt },
  // The tailers read such a file through in bounded chunks (time proportional to its size): only
  // the whole-file readers are cases.
  {
    name: "sparse-700MB",
    defect: "readMetrics reads a huge file whole (a 2 GiB one took 4.1 GB)",
    make: sparseAt(SPARSE_700MB),
    timeMs: 60_000,
    readers: ["readMetrics", "panel"],
  },
  { name: "directory", defect: "errors that do not name the file", make: dirAt },
  {
    name: "line-20MB",
    defect: "a 20 MB line",
    make: (f) => textAt(`{"step":1,"time":0.1,"train_loss":1,"pad":"${"x".repeat(20 << 20)}"}\n${metricsLine(2)}`)(f),
    check: {
      tailer: field("lastStep", (v) => v === 2, "2"),
      latest: field("step", (v) => v === 2, "2"),
      readMetrics: field("lastStep", (v) => v === 2, "2"),
    },
    peakMb: 300,
    timeMs: 20_000,
  },
  {
    name: "lines-300k",
    defect: "large files break panels (spread of 300k points overflows the stack)",
    make: (f) => textAt(longRun())(f),
    check: {
      tailer: field("records", (v) => v === 300_000, "300000"),
      latest: field("step", (v) => v === 299_999, "299999"),
      readMetrics: field("records", (v) => v === 300_000, "300000"),
      panel: field("metrics", (v) => v === 300_000, "300000"),
    },
    timeMs: 30_000,
    peakMb: 450,
  },
  {
    name: "nan-infinity-tokens",
    defect: "Python's NaN/Infinity tokens are dropped as bad lines",
    make: (f) => {
      let t = "";
      for (let s = 0; s < 20; s++)
        t +=
          s % 2 ? `{"step":${s},"time":${s},"train_loss":NaN,"test_loss":Infinity,"lr":-Infinity}\n` : metricsLine(s);
      textAt(t)(f);
    },
    check: {
      tailer: all(
        field("records", (v) => v === 20, "20 (NaN lines are records)"),
        field("nonFinite", (v) => typeof v === "number" && v >= 30, "≥ 30 non-finite values"),
      ),
      latest: field("step", (v) => v === 19, "19"),
      readMetrics: all(
        field("records", (v) => v === 20, "20 (NaN lines are records)"),
        field("badLines", (v) => v === 0, "0"),
      ),
      panel: field("metrics", (v) => v === 20, "20"),
    },
  },
  {
    name: "binary-garbage",
    defect: "unparsable lines are not reported",
    make: (f) => {
      const chunks: Buffer[] = [];
      for (let s = 0; s < 5; s++) chunks.push(Buffer.from(metricsLine(s)), garbage(300, s + 1), Buffer.from("\n"));
      textAt(Buffer.concat(chunks))(f);
    },
    check: {
      tailer: all(
        field("records", (v) => v === 5, "5"),
        field("skipped", (v) => typeof v === "number" && v >= 1, "≥ 1 counted"),
      ),
      latest: field("step", (v) => v === 4, "4"),
      readMetrics: all(
        field("records", (v) => v === 5, "5"),
        field("badLines", (v) => typeof v === "number" && v >= 1, "≥ 1 counted"),
      ),
      panel: field("metrics", (v) => v === 5, "5"),
    },
  },
  {
    name: "bad-utf8",
    defect: "bad UTF-8 and a character split across read chunks",
    make: (f) => {
      const head = Buffer.concat([
        Buffer.from('{"step":0,"time":0,"train_loss":1,"note":"'),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('"}\n'),
        Buffer.from([0xff, 0xff, 0x0a]),
      ]);
      // A line whose "ß" straddles the 1 MiB boundary of the tailer's reads.
      const padLen = (1 << 20) - head.length - 40;
      const pad = Buffer.from(`{"step":1,"time":1,"train_loss":1,"p":"${"y".repeat(padLen)}"}\n`);
      const straddle = Buffer.from(`{"step":2,"time":2,"ßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßß":1}\n`);
      textAt(Buffer.concat([head, pad, straddle, Buffer.from(metricsLine(3))]))(f);
    },
    check: {
      tailer: field("records", (v) => v === 4, "4"),
      latest: field("step", (v) => v === 3, "3"),
      readMetrics: field("records", (v) => v === 4, "4"),
      panel: field("metrics", (v) => v === 4, "4"),
    },
  },
  {
    name: "partial-last-line",
    defect: "a line still being written",
    make: (f) => {
      let t = "";
      for (let s = 0; s < 10; s++) t += metricsLine(s);
      textAt(`${t}{"step":10,"ti`)(f);
    },
    check: {
      tailer: field("records", (v) => v === 10, "10"),
      latest: field("step", (v) => v === 9, "9"),
      readMetrics: all(
        field("records", (v) => v === 10, "10"),
        field("partialTail", (v) => v === true, "true"),
      ),
      panel: field("metrics", (v) => v === 10, "10"),
    },
  },
  {
    name: "crlf",
    defect: "CRLF line ends",
    make: (f) => {
      let t = "";
      for (let s = 0; s < 10; s++) t += metricsLine(s).replace("\n", "\r\n");
      textAt(t)(f);
    },
    check: { tailer: field("records", (v) => v === 10, "10"), readMetrics: field("records", (v) => v === 10, "10") },
  },
  {
    name: "empty",
    defect: "an empty file",
    make: textAt(""),
    check: { tailer: field("records", (v) => v === 0, "0"), readMetrics: field("records", (v) => v === 0, "0") },
  },
];

const metricsCases: Case[] = metricsKinds.flatMap((k) =>
  (k.readers ?? METRICS_READERS).map(
    (reader): Case => ({
      id: `metrics/${k.name}/${reader}`,
      category: "metrics",
      defect: k.defect,
      setup: (c) => {
        copyRun(c);
        k.make(path.join(c.p.run, "metrics.jsonl"));
      },
      run: { kind: "probe", request: (p) => ({ probe: "metrics", runDir: p.run, reader }) },
      expect: {
        timeMs: k.timeMs ?? PROBE.timeMs,
        peakMb: k.peakMb ?? PROBE.peakMb,
        partErrors: NAMES_METRICS,
        ...(k.check?.[reader] ? { check: k.check[reader] } : {}),
      },
    }),
  ),
);

// ---------------------------------------------------------------------------------------------
// analyses/ (the CLI analyzer, and the panels' reading)

const analyzeWeights: Runner = { kind: "cli", args: (p) => ["analyze", p.run, "--only", "weights"] };

function analysesCase(
  id: string,
  defect: string,
  setup: (c: SetupContext) => void,
  expect: Partial<Expect>,
  run: Runner = analyzeWeights,
): Case {
  return {
    id: `analyses/${id}`,
    category: "analyses",
    defect,
    setup: (c) => {
      copyRun(c);
      setup(c);
    },
    run,
    expect: { ...CLI, ...expect },
  };
}

const weightsFile = (p: CasePaths) => path.join(p.run, "analyses", "weights.jsonl");
const mkAnalyses = (c: SetupContext) => fs.mkdirSync(path.join(c.p.run, "analyses"), { recursive: true });
const headerLine = (fx: Fixture) => fx.weightsJsonl.split("\n")[0] as string;
const NAMES_WEIGHTS = /weights\.jsonl/;
const panelProbe: Runner = { kind: "probe", request: (p) => ({ probe: "panel", root: p.runs, runDir: p.run }) };

const analysesCases: Case[] = [
  analysesCase(
    "link-out-of-run",
    "the analyzer follows an analyses symlink out of the run, archives an unrelated weights.jsonl",
    (c) => fs.symlinkSync(path.join(c.p.outside, "analyses"), path.join(c.p.run, "analyses")),
    { exit: [1, 2], message: /analyses/ },
  ),
  analysesCase(
    "archive-link-out",
    "archiving follows a symlink out of the run",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(weightsFile(c.p), "not a header\n");
      fs.symlinkSync(path.join(c.p.outside, "archive-target"), path.join(c.p.run, "analyses", "archive"));
    },
    { exit: [0, 1, 2] },
  ),
  analysesCase(
    "file-link-out",
    "appends through a symlinked weights.jsonl to a file outside",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(path.join(c.p.outside, "weights.jsonl"), `${headerLine(c.fx)}\n`);
      fs.symlinkSync(path.join(c.p.outside, "weights.jsonl"), weightsFile(c.p));
    },
    { exit: [0, 1, 2] },
  ),
  analysesCase(
    "lock-link-out",
    "a symlinked lock file",
    (c) => {
      mkAnalyses(c);
      fs.symlinkSync(path.join(c.p.outside, "victim.txt"), path.join(c.p.run, "analyses", ".lock"));
    },
    { exit: [0, 1, 2] },
  ),
  analysesCase(
    "fifo",
    "a FIFO analysis file blocks the analyzer",
    (c) => {
      mkAnalyses(c);
      mkfifo(weightsFile(c.p));
    },
    { exit: [0, 1], message: NAMES_WEIGHTS },
  ),
  analysesCase(
    "devzero-link",
    "an analysis file linked to /dev/zero",
    (c) => {
      mkAnalyses(c);
      devZeroAt(weightsFile(c.p));
    },
    { exit: [0, 1], message: NAMES_WEIGHTS },
  ),
  analysesCase(
    "sparse-700MB",
    "a huge analysis file read whole",
    (c) => {
      mkAnalyses(c);
      sparseAt(SPARSE_700MB)(weightsFile(c.p));
    },
    { exit: [0, 1], message: NAMES_WEIGHTS, timeMs: 60_000 },
  ),
  // A file that only has the name of an analysis file may be anyone's: the analyzer neither moves
  // nor overwrites it, and says so (a usage error naming the file).
  analysesCase(
    "corrupt-header",
    "a weights.jsonl that is not ours: moved away or overwritten",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(weightsFile(c.p), garbage(200));
    },
    {
      exit: [1],
      message: /weights\.jsonl is not a "weights" analysis file.*leaves it alone/,
      check: (_o, p) => (fs.readFileSync(weightsFile(p)).equals(garbage(200)) ? undefined : "weights.jsonl changed"),
    },
  ),
  analysesCase(
    "header-other-analysis",
    "a header naming another analysis: moved away or overwritten",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(
        weightsFile(c.p),
        `${headerLine(c.fx).replace('"analysis":"weights"', '"analysis":"kernel"')}\n`,
      );
    },
    {
      exit: [1],
      message: /leaves it alone/,
      check: (_o, p) =>
        fs.readFileSync(weightsFile(p), "utf8").includes('"analysis":"kernel"') ? undefined : "weights.jsonl changed",
    },
  ),
  analysesCase(
    "header-newer-version",
    "a header from a newer format",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(weightsFile(c.p), `${headerLine(c.fx).replace('"formatVersion":1', '"formatVersion":99')}\n`);
    },
    { exit: [0, 1] },
  ),
  analysesCase(
    "garbage-records",
    "garbage lines after a valid header",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(
        weightsFile(c.p),
        Buffer.concat([Buffer.from(`${headerLine(c.fx)}\n`), garbage(500), Buffer.from('\n{"step":\n')]),
      );
    },
    { exit: [0, 1] },
  ),
  analysesCase(
    "analyses-is-a-file",
    "analyses/ is a file",
    (c) => fs.writeFileSync(path.join(c.p.run, "analyses"), "x"),
    { exit: [1, 2], message: /analyses/ },
  ),
  // What the analysis panels read
  analysesCase(
    "panel-fifo",
    "a FIFO analysis file blocks the panel",
    (c) => {
      mkAnalyses(c);
      mkfifo(weightsFile(c.p));
    },
    { ...PROBE, partErrors: NAMES_WEIGHTS },
    panelProbe,
  ),
  analysesCase(
    "panel-devzero-link",
    "an analysis file linked to /dev/zero",
    (c) => {
      mkAnalyses(c);
      devZeroAt(weightsFile(c.p));
    },
    { ...PROBE, partErrors: NAMES_WEIGHTS },
    panelProbe,
  ),
  analysesCase(
    "panel-sparse-700MB",
    "a huge analysis file read whole",
    (c) => {
      mkAnalyses(c);
      sparseAt(SPARSE_700MB)(weightsFile(c.p));
    },
    { ...PROBE, partErrors: NAMES_WEIGHTS, timeMs: 60_000 },
    panelProbe,
  ),
  analysesCase(
    "panel-corrupt-header",
    "a corrupt analysis file is reported, not thrown",
    (c) => {
      mkAnalyses(c);
      fs.writeFileSync(weightsFile(c.p), garbage(200));
    },
    {
      ...PROBE,
      check: field(
        "unreadable",
        (v) => Array.isArray(v) && v.some((x) => NAMES_WEIGHTS.test(String(x))),
        "weights.jsonl reported unreadable",
      ),
    },
    panelProbe,
  ),
  analysesCase(
    "panel-link-out",
    "an analyses symlink out of the run",
    (c) => {
      fs.symlinkSync(path.join(c.p.outside, "analyses"), path.join(c.p.run, "analyses"));
    },
    { ...PROBE, partErrors: /analyses/ },
    panelProbe,
  ),
];

// ---------------------------------------------------------------------------------------------
// checkpoints (the CLI analyzer; the checkpoint hover)

const STEP40 = /step-0*40\.safetensors/;
/** The other checkpoints were analysed despite the bad one. */
const othersAnalysed = (_o: Observed, p: CasePaths): string | undefined => {
  const steps = weightsSteps(p);
  return [0, 20, 60].every((s) => steps.includes(s))
    ? undefined
    : `weights analysed steps [${steps.join(", ")}], expected 0, 20 and 60 despite the bad checkpoint`;
};

function badCheckpoint(
  id: string,
  defect: string,
  damage: (file: string, c: SetupContext) => void,
  extra: Partial<Expect> = {},
): Case {
  return {
    id: `checkpoints/${id}`,
    category: "checkpoints",
    defect,
    setup: (c) => {
      copyRun(c);
      damage(ck(c.p, 40), c);
    },
    run: analyzeWeights,
    expect: { ...CLI, exit: [0, 1], message: STEP40, check: othersAnalysed, ...extra },
  };
}

function hoverCase(
  id: string,
  defect: string,
  damage: (file: string, c: SetupContext) => void,
  check: Check,
  extra: Partial<Expect> = {},
  step = 40,
): Case {
  return {
    id: `checkpoints/hover-${id}`,
    category: "checkpoints",
    defect,
    setup: (c) => {
      copyRun(c);
      damage(ck(c.p, step), c);
    },
    run: { kind: "probe", request: (p) => ({ probe: "checkpointHover", files: [ck(p, step)] }) },
    expect: { ...PROBE, check, ...extra },
  };
}

const hoverText = (o: Observed): string => {
  const r = o.report ? Object.values(o.report.parts)[0] : undefined;
  return r?.ok && typeof r.value === "object" && r.value !== null && !Array.isArray(r.value)
    ? String(r.value["text"] ?? "")
    : "";
};
const hoverAnswered = (o: Observed): string | undefined =>
  o.report && Object.values(o.report.parts).every((x) => x.ok) ? undefined : "hover threw";
const hoverNamesProblem = (o: Observed): string | undefined =>
  /not a readable safetensors file|safetensors/.test(hoverText(o))
    ? undefined
    : `hover says "${hoverText(o).slice(0, 100)}"`;

const truncate = (keep: (size: number) => number) => (f: string) => {
  const b = fs.readFileSync(f);
  textAt(b.subarray(0, keep(b.length)))(f);
};
const headerLength = (n: bigint) => (f: string) => {
  const { data } = readCheckpoint(f);
  writeCheckpoint(f, Buffer.from("{}      "), data, n);
};
const garbageHeader = (f: string) => {
  const { data } = readCheckpoint(f);
  writeCheckpoint(f, Buffer.from('{"a": [1, 2, }   garbage ((( '.padEnd(64, " ")), data);
};

function bigHeader(f: string): void {
  // A valid checkpoint whose header is 28 MB (metadata padding).
  editCheckpoint(f, (h) => {
    metadataOf(h)["pad"] = "z".repeat(28 << 20);
  });
}

const checkpointCases: Case[] = [
  badCheckpoint("devzero-link", "lm analyze on a checkpoint linked to /dev/zero reaches 2.5 GB", devZeroAt),
  badCheckpoint("fifo", "a FIFO checkpoint blocks the analyzer", fifoAt),
  badCheckpoint(
    "truncated-half",
    "one bad checkpoint aborts the analysis of the later ones",
    truncate((n) => n >> 1),
  ),
  badCheckpoint(
    "truncated-4-bytes",
    "one bad checkpoint aborts the analysis",
    truncate(() => 4),
  ),
  badCheckpoint("header-length-2^60", "header length huge", headerLength(1n << 60n)),
  badCheckpoint("header-length-past-end", "header length past the end", headerLength(50_000_000n)),
  badCheckpoint("header-garbage", "header JSON garbage", garbageHeader),
  badCheckpoint("header-not-object", "header JSON not an object", (f) => {
    const { data } = readCheckpoint(f);
    writeCheckpoint(f, Buffer.from("[1, 2, 3]       "), data);
  }),
  badCheckpoint("dtype-size-mismatch", "dtype/shape mismatch", (f) =>
    editCheckpoint(f, (h) => (tensorEntry(h, "layers.0.weight")["dtype"] = "F16")),
  ),
  badCheckpoint("dtype-unknown", "unknown dtype", (f) =>
    editCheckpoint(f, (h) => (tensorEntry(h, "layers.0.weight")["dtype"] = "F33")),
  ),
  badCheckpoint("shape-mismatch", "dtype/shape mismatch", (f) =>
    editCheckpoint(f, (h) => (tensorEntry(h, "layers.0.weight")["shape"] = [17, 32])),
  ),
  badCheckpoint("offsets-past-end", "offsets past the end", (f) =>
    editCheckpoint(f, (h) => (tensorEntry(h, "out.weight")["data_offsets"] = [10532, 99_999_999])),
  ),
  badCheckpoint("negative-dimension", "dtype/shape mismatch", (f) =>
    editCheckpoint(f, (h) => (tensorEntry(h, "out.bias")["shape"] = [-11])),
  ),
  badCheckpoint(
    "sparse-1.9GB-tensor",
    "no size check before reading a checkpoint",
    (f) => {
      const { header } = readCheckpoint(f);
      const h: Record<string, Json> = {
        __metadata__: header["__metadata__"] ?? {},
        "layers.0.weight": { dtype: "F32", shape: [475_000_000], data_offsets: [0, 1_900_000_000] },
      };
      writeCheckpoint(f, h, Buffer.alloc(0));
      fs.truncateSync(f, fs.statSync(f).size + 1_900_000_000);
    },
    { peakMb: 700 },
  ),
  badCheckpoint(
    "optimizer-metadata-not-json",
    "non-JSON optimizer metadata fails the weights analysis with a SyntaxError naming no file",
    (f) => editCheckpoint(f, (h) => (metadataOf(h)["optimizer"] = "{not json")),
    {
      exit: [0],
      message: /analyzer finished/,
      check: (_o, p) =>
        weightsSteps(p).join() === "0,20,40,60"
          ? undefined
          : `weights steps [${weightsSteps(p).join(", ")}], expected 0,20,40,60 (the weights need no optimizer state)`,
    },
  ),
  badCheckpoint(
    "nan-values",
    "NaN weights",
    (f) => {
      const { header, data } = readCheckpoint(f);
      writeCheckpoint(f, header, Buffer.alloc(data.length, 0xff));
    },
    {
      exit: [0],
      message: /analyzer finished/,
      check: (_o, p) =>
        weightsSteps(p).join() === "0,20,40,60" ? undefined : `weights steps [${weightsSteps(p).join(", ")}]`,
    },
  ),
  {
    id: "checkpoints/unpadded-name",
    category: "checkpoints",
    defect: "step-20.safetensors (accepted by the documented pattern) is opened under its padded name",
    setup: (c) => {
      copyRun(c);
      fs.renameSync(ck(c.p, 20), path.join(c.p.run, "checkpoints", "step-20.safetensors"));
    },
    run: analyzeWeights,
    expect: {
      ...CLI,
      exit: [0],
      message: /analyzer finished: 4 records/,
      check: (_o, p) =>
        weightsSteps(p).join() === "0,20,40,60" ? undefined : `weights steps [${weightsSteps(p).join(", ")}]`,
    },
  },
  {
    id: "checkpoints/all-truncated",
    category: "checkpoints",
    defect: "one bad checkpoint aborts the analysis; reported as internal",
    setup: (c) => {
      copyRun(c);
      for (const s of [0, 20, 40, 60]) truncate((n) => n >> 1)(ck(c.p, s));
    },
    run: analyzeWeights,
    expect: { ...CLI, exit: [0, 1], message: /safetensors/ },
  },
  {
    id: "checkpoints/dir-link-out-analyze",
    category: "checkpoints",
    defect: "the analyzer follows a checkpoints symlink out of the run",
    setup: (c) => {
      copyRun(c);
      fs.renameSync(path.join(c.p.run, "checkpoints"), path.join(c.p.outside, "ckpts"));
      fs.symlinkSync(path.join(c.p.outside, "ckpts"), path.join(c.p.run, "checkpoints"));
    },
    run: analyzeWeights,
    expect: { ...CLI, exit: [1, 2], message: /checkpoints/ },
  },
  {
    id: "checkpoints/dir-link-out-resume",
    category: "checkpoints",
    defect: "resume writes checkpoints through a symlink out of the run",
    setup: (c) => {
      stoppedAt40(c);
      fs.renameSync(path.join(c.p.run, "checkpoints"), path.join(c.p.outside, "ckpts"));
      fs.symlinkSync(path.join(c.p.outside, "ckpts"), path.join(c.p.run, "checkpoints"));
    },
    run: { kind: "cli", args: (p) => ["resume", p.run, "--backend", "cpu"] },
    expect: { ...CLI, exit: [1, 2], message: /checkpoints/ },
  },
  // The checkpoint hover
  hoverCase("devzero-link", "special files", devZeroAt, hoverAnswered),
  hoverCase("fifo", "special files", fifoAt, hoverAnswered),
  hoverCase(
    "truncated",
    "corrupt checkpoint",
    truncate((n) => n >> 1),
    all(hoverAnswered, hoverNamesProblem),
  ),
  hoverCase("header-length-2^60", "header length huge", headerLength(1n << 60n), all(hoverAnswered, hoverNamesProblem)),
  hoverCase("header-garbage", "header JSON garbage", garbageHeader, all(hoverAnswered, hoverNamesProblem)),
  hoverCase(
    "header-28MB",
    "28 MB safetensors headers cost the hover 489 MB",
    bigHeader,
    all(hoverAnswered, (o) =>
      /Checkpoint|limit|too large/.test(hoverText(o)) ? undefined : `hover says "${hoverText(o).slice(0, 100)}"`,
    ),
    { peakMb: 120 },
  ),
  hoverCase(
    "metadata-step-lies",
    "checkpoint metadata step overrides the file name in the hover",
    (f) => editCheckpoint(f, (h) => (metadataOf(h)["step"] = "999")),
    all(hoverAnswered, (o) =>
      /step 40\b/.test(hoverText(o)) && !/999/.test(hoverText(o))
        ? undefined
        : `hover title: ${hoverText(o).split("\n")[0] ?? ""}`,
    ),
  ),
  hoverCase(
    "payload-names",
    "hostile Markdown in tensor names and metadata",
    (f) =>
      editCheckpoint(f, (h) => {
        h[PAYLOAD] = h["out.bias"] ?? null;
        delete h["out.bias"];
        metadataOf(h)["params"] = JSON.stringify([PAYLOAD]);
        metadataOf(h)["stats"] = PAYLOAD;
      }),
    all(hoverAnswered, (o) => unescaped(hoverText(o), true)),
  ),
];

// ---------------------------------------------------------------------------------------------
// experiment files (the CLI trainer)

function experimentCase(
  id: string,
  defect: string,
  source: string | ((c: SetupContext) => void),
  expect: Partial<Expect>,
  run?: Runner,
): Case {
  return {
    id: `experiment/${id}`,
    category: "experiment",
    defect,
    setup: (c) => {
      fs.mkdirSync(c.p.exp, { recursive: true });
      if (typeof source === "string") fs.writeFileSync(expFile(c.p), source);
      else source(c);
    },
    run: run ?? { kind: "cli", args: (p) => ["train", expFile(p), "--out", p.runs, "--backend", "cpu"] },
    expect: { ...CLI, writes: (p) => [p.runs], ...expect },
  };
}

const train = (signals: readonly { atMs: number; signal: NodeJS.Signals }[]): Runner => ({
  kind: "cli",
  args: (p) => ["train", expFile(p), "--out", p.runs, "--backend", "cpu"],
  signals,
});
const LOOP = "while (true) {}";
const SIZE_MESSAGE = /1e\+?9|1,?000,?000,?000|4(00|\.0)|parameters|too (large|big)|memory|limit/i;

// The loops below end ~5.5 s in (the signal at 2.5 s, then the CLI's grace for the experiment's
// code); the bounds leave room for a machine under load (8 s was missed at load average 19), and
// still catch a CLI that never ends.
const experimentCases: Case[] = [
  experimentCase(
    "loop-at-import-sigint-twice",
    "an infinite loop at import survives Ctrl-C twice",
    experimentSource(LOOP),
    { timeMs: 9_000, exit: [0, 1, 130, "SIGINT"] },
    train([
      { atMs: 2_500, signal: "SIGINT" },
      { atMs: 3_500, signal: "SIGINT" },
    ]),
  ),
  experimentCase(
    "loop-at-import-sigterm",
    "an infinite loop at import survives SIGTERM",
    experimentSource(LOOP),
    { timeMs: 12_000, exit: [0, 1, 143, "SIGTERM"] },
    train([{ atMs: 2_500, signal: "SIGTERM" }]),
  ),
  experimentCase(
    "loop-at-import-list-sigterm",
    "an infinite loop at import survives SIGTERM",
    experimentSource(LOOP),
    { timeMs: 12_000, exit: [0, 1, 143, "SIGTERM"] },
    { kind: "cli", args: (p) => ["list", expFile(p)], signals: [{ atMs: 2_500, signal: "SIGTERM" }] },
  ),
  experimentCase(
    "setInterval-at-import",
    "setInterval at import keeps lm train alive after finished",
    experimentSource("setInterval(() => {}, 1000);"),
    { exit: [0], message: /finished at step 20/ },
  ),
  experimentCase(
    "process-exit-0-at-import",
    "process.exit(0) in an experiment exits 0 with no run and no message",
    experimentSource("process.exit(0);"),
    { exit: [1], message: /process\.exit/ },
  ),
  experimentCase(
    "process-exit-0-at-import-list",
    "process.exit(0) in an experiment exits 0 with no message",
    experimentSource("process.exit(0);"),
    { exit: [1], message: /process\.exit/ },
    { kind: "cli", args: (p) => ["list", expFile(p)] },
  ),
  experimentCase("throw-at-import", "an exception at import", experimentSource('throw new Error("boom at import");'), {
    exit: [1],
    message: /x\.experiment\.ts:\d+:\d+.*boom at import/,
  }),
  experimentCase("syntax-error", "a syntax error", experimentSource("const = ;"), {
    exit: [1],
    message: /x\.experiment\.ts:\d+:\d+/,
  }),
  experimentCase(
    "hidden-1e9",
    "hidden: [1e9] gives an internal RangeError with a stack",
    experimentSource("", "[1e9]"),
    { exit: [1], message: SIZE_MESSAGE, timeMs: 20_000, peakMb: 700 },
  ),
  experimentCase(
    "hidden-20000x20000",
    "[20000, 20000] runs 137 s to 4.7 GB, then fails",
    experimentSource("", "[20000, 20000]"),
    { exit: [1], message: SIZE_MESSAGE, timeMs: 20_000, peakMb: 700 },
  ),
  experimentCase("file-is-fifo", "a FIFO experiment file blocks the trainer", (c) => mkfifo(expFile(c.p)), {
    exit: [1, 2],
    message: /x\.experiment\.ts/,
    timeMs: 10_000,
  }),
  experimentCase(
    "file-links-devzero",
    "an experiment file linked to /dev/zero",
    (c) => fs.symlinkSync("/dev/zero", expFile(c.p)),
    { exit: [1, 2], message: /x\.experiment\.ts/, timeMs: 10_000 },
  ),
];

// ---------------------------------------------------------------------------------------------
// CLI paths, locks, signals

function cliCase(
  id: string,
  defect: string,
  setup: (c: SetupContext) => void,
  run: Runner,
  expect: Partial<Expect>,
): Case {
  return { id: `cli/${id}`, category: "cli", defect, setup, run, expect: { ...CLI, ...expect } };
}

const trainTiny = (extra: (p: CasePaths) => string[]): Runner => ({
  kind: "cli",
  args: (p) => ["train", `${p.exp}/x.experiment.ts`, "--backend", "cpu", ...extra(p)],
});
const writeTiny = (c: SetupContext) => {
  fs.mkdirSync(c.p.exp, { recursive: true });
  fs.writeFileSync(expFile(c.p), experimentSource(""));
};
const IN_USE = /in use by pid \d+/;

/** Both processes of a race: exactly one trained; the other was refused with a clear message; no step twice. */
function oneWriter(o: Observed, p: CasePaths): string | undefined {
  const ok = o.outcomes.filter((x) => x.exit === 0).length;
  if (ok !== 1) return `${ok} of 2 writers finished with exit 0 (expected exactly one)`;
  const refused = o.outcomes.find((x) => x.exit !== 0);
  if (refused && !/in use by pid \d+|already holds a run/.test(refused.stderr))
    return `the second writer's message: ${refused.stderr.split("\n").slice(-3).join(" ")}`;
  const steps = metricsSteps(p);
  const dup = steps.find((s, i) => steps.indexOf(s) !== i);
  return dup === undefined ? undefined : `step ${dup} appears twice in metrics.jsonl`;
}

const cliCases: Case[] = [
  cliCase(
    "out-proc",
    "--out /proc/x spins at 93% CPU ignoring SIGTERM",
    writeTiny,
    trainTiny(() => ["--out", "/proc/x"]),
    { exit: [1, 2], message: /\/proc\/x/, timeMs: 15_000, writes: (p) => [p.runs] },
  ),
  cliCase(
    "run-dir-proc",
    "impossible output folders do not fail fast",
    writeTiny,
    trainTiny(() => ["--run-dir", "/proc/x/run"]),
    { exit: [1, 2], message: /\/proc\/x/, timeMs: 15_000, writes: (p) => [p.runs] },
  ),
  cliCase(
    "out-dev-null",
    "impossible output folders do not fail fast",
    writeTiny,
    trainTiny(() => ["--out", "/dev/null/runs"]),
    { exit: [1, 2], message: /\/dev\/null/, writes: (p) => [p.runs] },
  ),
  cliCase(
    "run-dir-is-a-file",
    "impossible output folders",
    (c) => {
      writeTiny(c);
      fs.writeFileSync(path.join(c.p.ws, "afile"), "x");
    },
    trainTiny((p) => ["--run-dir", path.join(p.ws, "afile")]),
    { exit: [1, 2], message: /afile/, writes: (p) => [p.runs] },
  ),
  cliCase(
    "two-trainers-one-run-dir",
    "no lock: two trainers on one --run-dir both run",
    writeTiny,
    { kind: "cli-twice", args: (p) => ["train", expFile(p), "--backend", "cpu", "--run-dir", p.run] },
    { exit: [0, 1, 2], check: oneWriter, timeMs: 30_000 },
  ),
  cliCase(
    "two-resumes",
    "no lock: concurrent resumes both run",
    stoppedAt40,
    { kind: "cli-twice", args: (p) => ["resume", p.run, "--backend", "cpu"] },
    { exit: [0, 1, 2], check: oneWriter, timeMs: 30_000 },
  ),
  cliCase(
    "train-run-dir-locked",
    "no lock on a run folder",
    (c) => {
      writeTiny(c);
      writeLock(path.join(c.p.run, ".lock"), livePid(c), "train");
    },
    trainTiny((p) => ["--run-dir", p.run]),
    { exit: [1, 2], message: IN_USE },
  ),
  cliCase(
    "resume-locked",
    "no lock on a run folder",
    (c) => {
      stoppedAt40(c);
      writeLock(path.join(c.p.run, ".lock"), livePid(c), "train");
    },
    { kind: "cli", args: (p) => ["resume", p.run, "--backend", "cpu"] },
    {
      exit: [1, 2],
      message: IN_USE,
      check: (_o, p) => (fs.existsSync(ck(p, 60)) ? "trained while the folder was locked" : undefined),
    },
  ),
  cliCase(
    "resume-stale-lock",
    "stale-lock recovery",
    (c) => {
      stoppedAt40(c);
      writeLock(path.join(c.p.run, ".lock"), deadPid(), "train");
    },
    { kind: "cli", args: (p) => ["resume", p.run, "--backend", "cpu"] },
    { exit: [0], message: /finished at step 60/ },
  ),
  cliCase(
    "analyze-locked",
    "no lock on analyzer writes",
    (c) => {
      copyRun(c);
      writeLock(path.join(c.p.run, "analyses", ".lock"), livePid(c), "analyze");
    },
    analyzeWeights,
    { exit: [1, 2], message: IN_USE },
  ),
  cliCase(
    "follow-dead-trainer",
    "analyze --follow never ends for a run whose trainer died",
    (c) => {
      copyRun(c);
      patchManifest(c, (m) => {
        m["status"] = "running";
        m["pid"] = deadPid();
        delete m["endedAt"];
      });
    },
    { kind: "cli", args: (p) => ["analyze", p.run, "--follow", "--only", "weights"] },
    { exit: [0, 1], message: /pid \d+|not running|no longer|ended|gone|dead|died/i, timeMs: 15_000 },
  ),
  cliCase(
    "analyze-does-not-run-code-from-the-run",
    "lm analyze executes the experiment file named in run.json without a word",
    (c) => {
      copyRun(c);
      const evil = path.join(c.p.run, "evil.experiment.ts");
      fs.writeFileSync(
        evil,
        experimentSource(
          `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(path.join(c.p.outside, "EXECUTED"))}, "ran");`,
        ),
      );
      patchManifest(c, (m) => setField(m, "experiment.path", evil));
    },
    { kind: "cli", args: (p) => ["analyze", p.run, "--backend", "cpu"] },
    { exit: [0], message: /--file|skipped/, check: noMarker, timeMs: 30_000 },
  ),
  cliCase(
    "analyze-missing-folder",
    "user errors read as internal errors",
    () => undefined,
    { kind: "cli", args: (p) => ["analyze", path.join(p.ws, "nonexistent")] },
    { exit: [1, 2], message: /nonexistent/ },
  ),
  cliCase(
    "resume-missing-folder",
    "user errors read as internal errors",
    () => undefined,
    { kind: "cli", args: (p) => ["resume", path.join(p.ws, "nonexistent")] },
    { exit: [1, 2], message: /nonexistent/ },
  ),
  cliCase(
    "analyze-run-json-fifo",
    "special files block the CLI",
    (c) => {
      copyRun(c);
      fifoAt(path.join(c.p.run, "run.json"));
    },
    analyzeWeights,
    { exit: [1, 2], message: /run\.json/, timeMs: 10_000 },
  ),
  cliCase(
    "analyze-run-json-devzero",
    "special files exhaust memory",
    (c) => {
      copyRun(c);
      devZeroAt(path.join(c.p.run, "run.json"));
    },
    analyzeWeights,
    { exit: [1, 2], message: /run\.json/, timeMs: 10_000 },
  ),
  cliCase(
    "resume-run-json-fifo",
    "special files block the CLI",
    (c) => {
      copyRun(c);
      fifoAt(path.join(c.p.run, "run.json"));
    },
    { kind: "cli", args: (p) => ["resume", p.run] },
    { exit: [1, 2], message: /run\.json/, timeMs: 10_000 },
  ),
  cliCase(
    "analyze-metrics-fifo",
    "lm analyze's summary reads a FIFO metrics.jsonl",
    (c) => {
      copyRun(c);
      fifoAt(path.join(c.p.run, "metrics.jsonl"));
    },
    analyzeWeights,
    { exit: [0, 1], message: NAMES_METRICS, timeMs: 10_000 },
  ),
  cliCase(
    "analyze-metrics-devzero",
    "lm analyze's summary reads /dev/zero",
    (c) => {
      copyRun(c);
      devZeroAt(path.join(c.p.run, "metrics.jsonl"));
    },
    analyzeWeights,
    { exit: [0, 1], message: NAMES_METRICS, timeMs: 10_000 },
  ),
  cliCase(
    "analyze-metrics-300k",
    "the grokking view throws on a 300k-point series",
    (c) => {
      copyRun(c);
      fs.writeFileSync(path.join(c.p.run, "metrics.jsonl"), longRun());
    },
    analyzeWeights,
    { exit: [0], message: /grokking:/, timeMs: 30_000, peakMb: 700 },
  ),
  cliCase(
    "resume-keeps-unparsable-lines",
    "lm resume deletes unparsable metrics lines",
    (c) => {
      stoppedAt40(c);
      const file = path.join(c.p.run, "metrics.jsonl");
      fs.appendFileSync(file, 'GARBAGE LINE one\n{"step":41,"time":1,"train_loss":NaN}\nGARBAGE LINE two\n');
      // the NaN line is past the checkpoint (it goes); the garbage lines are not the resume's to delete
    },
    { kind: "cli", args: (p) => ["resume", p.run, "--backend", "cpu"] },
    {
      exit: [0],
      check: (_o, p) =>
        (fs.readFileSync(path.join(p.run, "metrics.jsonl"), "utf8").match(/GARBAGE LINE/g) ?? []).length === 2
          ? undefined
          : "resume deleted the unparsable lines of metrics.jsonl",
    },
  ),
  cliCase(
    "resume-from-step-0",
    "resume from step 0 duplicates the step-0 metrics line",
    (c) => {
      stoppedAt40(c);
      for (const s of [20, 40]) fs.rmSync(ck(c.p, s));
      patchManifest(c, (m) => (m["step"] = 0));
    },
    { kind: "cli", args: (p) => ["resume", p.run, "--backend", "cpu"] },
    {
      exit: [0],
      check: (_o, p) =>
        metricsSteps(p).filter((s) => s === 0).length === 1
          ? undefined
          : `step 0 appears ${metricsSteps(p).filter((s) => s === 0).length} times in metrics.jsonl`,
    },
  ),
];

// ---------------------------------------------------------------------------------------------
// TensorBoard logs: a folder `runs/tb/` with one good event file (three `loss` points), and beside
// it a hostile one; the index must list the log and the reader must still draw the good points.

const GOOD_EVENTS = "events.out.tfevents.1700000000.host.1.0";

function goodEventFile(file: string): void {
  const events = [
    frameRecord(encodeEvent({ wallTime: 1_700_000_000, step: 0, fileVersion: "brain.Event:2" })),
    ...[1, 2, 3].map((step) =>
      frameRecord(encodeEvent({ wallTime: 1_700_000_000 + step, step, values: [{ tag: "loss", value: 1 / step }] })),
    ),
  ];
  fs.writeFileSync(file, Buffer.concat(events));
}

/** The reader kept the good file's three points and said why the hostile one gave none. */
const goodPointsKept = (problem: RegExp | undefined): Check => {
  return (o) => {
    const log = value(o, "log");
    if (!log) return "the log reader gave no answer";
    const loss = (log["values"] as Record<string, Json> | undefined)?.["loss"];
    if (loss !== 3) return `loss points ${JSON.stringify(loss)}, expected the good file's 3`;
    const problems = (log["problems"] as string[] | undefined) ?? [];
    if (problem !== undefined && !problems.some((x) => problem.test(x)))
      return `problems ${JSON.stringify(problems)} do not match ${problem}`;
    const index = value(o, "index");
    if (!index || (index["logs"] as number) < 1) return "the run index does not list the log";
    return undefined;
  };
};

interface TensorBoardKind {
  name: string;
  defect: string;
  /** Makes the hostile file(s) in the log folder. */
  make: (dir: string) => void;
  /** A problem the reader must report, naming the file. */
  problem?: RegExp;
  badRecords?: (n: number) => boolean;
  timeMs?: number;
  peakMb?: number;
}

const HOSTILE_EVENTS = "events.out.tfevents.1800000000.host.2.0";
const tbKinds: TensorBoardKind[] = [
  {
    name: "fifo",
    defect: "a FIFO event file blocks the reader",
    make: (d) => fifoAt(path.join(d, HOSTILE_EVENTS)),
    problem: /tfevents\.1800000000.*FIFO/,
  },
  {
    name: "devzero-link",
    defect: "an event file linked to /dev/zero is read without bound",
    make: (d) => devZeroAt(path.join(d, HOSTILE_EVENTS)),
    problem: /tfevents\.1800000000/,
  },
  {
    name: "sparse-700MB",
    defect: "a huge event file of zeros is buffered whole",
    make: (d) => sparseAt(SPARSE_700MB)(path.join(d, HOSTILE_EVENTS)),
    timeMs: 60_000,
  },
  {
    name: "directory",
    defect: "a folder named like an event file",
    make: (d) => dirAt(path.join(d, HOSTILE_EVENTS)),
    problem: /tfevents\.1800000000/,
  },
  {
    name: "garbage-1MB",
    defect: "random bytes as an event file",
    make: (d) => textAt(garbage(1 << 20))(path.join(d, HOSTILE_EVENTS)),
  },
  {
    name: "bad-crc",
    defect: "records whose checksums fail are counted, not decoded",
    make: (d) => {
      const rec = frameRecord(encodeEvent({ wallTime: 1_800_000_001, step: 9, values: [{ tag: "loss", value: 5 }] }));
      rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 0xff;
      textAt(rec)(path.join(d, HOSTILE_EVENTS));
    },
    badRecords: (n) => n >= 1,
  },
  {
    name: "torn-last-record",
    defect: "a record cut short by a writer mid-write",
    make: (d) => {
      const rec = frameRecord(encodeEvent({ wallTime: 1_800_000_001, step: 9, values: [{ tag: "loss", value: 5 }] }));
      textAt(rec.subarray(0, rec.length - 5))(path.join(d, HOSTILE_EVENTS));
    },
  },
  {
    name: "files-1200",
    defect: "a folder of 1,200 event files",
    make: (d) => {
      for (let i = 0; i < 1200; i++) fs.writeFileSync(path.join(d, `events.out.tfevents.1.host.${i}`), "");
    },
    problem: /1201 event files; only the newest 1000 are read/,
    timeMs: 20_000,
  },
];

const tensorboardCases: Case[] = tbKinds.map(
  (k): Case => ({
    id: `tensorboard/${k.name}`,
    category: "tensorboard",
    defect: k.defect,
    setup: (c) => {
      const dir = path.join(c.p.runs, "tb");
      fs.mkdirSync(dir, { recursive: true });
      goodEventFile(path.join(dir, GOOD_EVENTS));
      k.make(dir);
    },
    run: { kind: "probe", request: (p) => ({ probe: "tensorboard", root: p.runs, logDir: path.join(p.runs, "tb") }) },
    expect: {
      timeMs: k.timeMs ?? PROBE.timeMs,
      peakMb: k.peakMb ?? PROBE.peakMb,
      partErrors: /tfevents/,
      check: (o, p) => {
        const kept = goodPointsKept(k.problem)(o, p);
        if (kept !== undefined) return kept;
        const bad = value(o, "log")?.["badRecords"];
        if (k.badRecords && !(typeof bad === "number" && k.badRecords(bad))) return `badRecords = ${String(bad)}`;
        return undefined;
      },
    },
  }),
);

export const CASES: readonly Case[] = [
  ...runJsonCases,
  ...metricsCases,
  ...analysesCases,
  ...checkpointCases,
  ...experimentCases,
  ...cliCases,
  ...tensorboardCases,
];
