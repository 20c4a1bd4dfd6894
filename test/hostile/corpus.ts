// Runs one corpus case: builds its folder, checksums what must not change, runs the probe or the
// CLI as a measured child process, and turns what it saw into a list of failures (empty: pass).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import type { Case, CasePaths, Fixture, Observed, SetupContext } from "./cases";
import { type ProbeReport, REPORT_PREFIX } from "./probeTypes";
import { type ChildOutcome, RSS_HOOK_SOURCE, type Row, runChild, snapshot, snapshotDiff } from "./runner";

/** The repository root (this file is bundled to dist/test/hostile/). */
export const ROOT = path.resolve(__dirname, "..", "..", "..");
export const CLI_JS = path.join(ROOT, "dist", "trainer", "cli.js");
export const PROBES_JS = path.join(ROOT, "dist", "test-probes", "probes.js");

/** Resident memory at which a child is killed to protect the machine (the case fails on memory anyway). */
const KILL_MB = 1500;

/** Just enough of `vscode` for the Runs view's items and the checkpoint hover provider (probes.ts). */
const VSCODE_STUB = `"use strict";
class TreeItem { constructor(label, collapsibleState) { this.label = label; this.collapsibleState = collapsibleState; } }
class ThemeIcon { constructor(id, color) { this.id = id; this.color = color; } }
ThemeIcon.File = new ThemeIcon("file");
ThemeIcon.Folder = new ThemeIcon("folder");
class ThemeColor { constructor(id) { this.id = id; } }
class MarkdownString {
  constructor(value = "", supportThemeIcons = false) { this.value = value; this.supportThemeIcons = supportThemeIcons; this.isTrusted = false; this.supportHtml = false; }
  appendMarkdown(v) { this.value += v; return this; }
  appendText(v) { this.value += v.replace(/[\\\\\`*_{}[\\]()#+\\-.!<>|$]/g, "\\\\$&"); return this; }
}
class Position { constructor(line, character) { this.line = line; this.character = character; } }
class Range { constructor(a, b, c, d) { this.start = new Position(a, b); this.end = new Position(c, d); } }
class Hover { constructor(contents, range) { this.contents = Array.isArray(contents) ? contents : [contents]; this.range = range; } }
class Disposable { constructor(f) { this.f = f; } dispose() { if (this.f) this.f(); } }
class EventEmitter { constructor() { this.listeners = []; this.event = (l) => { this.listeners.push(l); return new Disposable(() => {}); }; } fire(e) { for (const l of this.listeners) l(e); } dispose() {} }
const Uri = { file: (p) => ({ scheme: "file", fsPath: p, path: p, toString: () => "file://" + p }) };
module.exports = {
  TreeItem, TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 }, ThemeIcon, ThemeColor, MarkdownString,
  Position, Range, Hover, Disposable, EventEmitter, Uri,
  workspace: { workspaceFolders: undefined, getConfiguration: () => ({ get: (_k, d) => d }) },
  window: { createTreeView: () => ({ selection: [], dispose() {} }) },
};
`;

export interface CorpusEnv {
  tmp: string;
  fixture: Fixture;
  hook: string;
  nodePath: string;
}

function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_JS, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Trains the tiny run every case copies, and analyses its weights once. */
export function prepare(): CorpusEnv {
  const tmp = fs.mkdtempSync(path.join(tmpdir(), "lm-hostile-"));
  const fixDir = path.join(tmp, "fixture");
  fs.mkdirSync(fixDir);
  const experiment = path.join(fixDir, "tiny.experiment.ts");
  fs.copyFileSync(path.join(ROOT, "test", "fixtures", "experiments", "tiny.experiment.ts"), experiment);
  const t = cli(
    ["train", experiment, "--system", "tinyAdd", "--out", path.join(fixDir, "runs"), "--backend", "cpu"],
    fixDir,
  );
  if (t.status !== 0) throw new Error(`training the fixture failed: ${t.stderr}`);
  const runDir = t.stdout.trim();
  // The weights analysis of a copy (the fixture itself stays without analyses/).
  const copy = path.join(fixDir, "analysed");
  fs.cpSync(runDir, copy, { recursive: true });
  const a = cli(["analyze", copy, "--only", "weights"], fixDir);
  if (a.status !== 0) throw new Error(`analysing the fixture failed: ${a.stderr}`);
  const weightsJsonl = fs.readFileSync(path.join(copy, "analyses", "weights.jsonl"), "utf8");
  const hook = path.join(tmp, "rss-hook.cjs");
  fs.writeFileSync(hook, RSS_HOOK_SOURCE);
  const nodePath = path.join(tmp, "stub", "node_modules");
  fs.mkdirSync(path.join(nodePath, "vscode"), { recursive: true });
  fs.writeFileSync(path.join(nodePath, "vscode", "index.js"), VSCODE_STUB);
  return { tmp, fixture: { runDir, experiment, weightsJsonl }, hook, nodePath };
}

function pathsFor(env: CorpusEnv, c: Case): CasePaths {
  const root = path.join(env.tmp, "cases", c.id.replace(/[^A-Za-z0-9.-]+/g, "_"));
  const ws = path.join(root, "ws");
  const runs = path.join(ws, "runs");
  return {
    root,
    ws,
    runs,
    run: path.join(runs, "run"),
    exp: path.join(ws, "exp"),
    outside: path.join(root, "outside"),
  };
}

/** The files beside the run that nothing may touch. */
function writeSentinels(p: CasePaths, fx: Fixture): void {
  fs.mkdirSync(p.runs, { recursive: true });
  fs.mkdirSync(path.join(p.outside, "analyses"), { recursive: true });
  fs.mkdirSync(path.join(p.outside, "archive-target"), { recursive: true });
  fs.writeFileSync(path.join(p.outside, "sentinel.txt"), "nothing may change this file\n");
  fs.writeFileSync(path.join(p.outside, "secret.txt"), "SECRET-TOKEN-0123456789 (not JSON)\n");
  fs.writeFileSync(path.join(p.outside, "victim.txt"), "victim\n");
  // An unrelated weights analysis (other settings) that an analyzer must not archive or replace.
  fs.writeFileSync(
    path.join(p.outside, "analyses", "weights.jsonl"),
    fx.weightsJsonl.replace('"settings":{"every":1}', '"settings":{"every":3}'),
  );
}

export interface CaseResult {
  row: Row;
  failures: string[];
}

const STACK_LINE = /^\s+at \S.*(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
const INTERNAL = /error \(internal\)|internal error/i;

function probeReport(out: ChildOutcome): ProbeReport | undefined {
  const line = out.stdout.split("\n").find((l) => l.startsWith(REPORT_PREFIX));
  return line === undefined ? undefined : (JSON.parse(line.slice(REPORT_PREFIX.length)) as ProbeReport);
}

/** What a user would read from a probe: the index's problem and every error a reader threw. */
function probeText(report: ProbeReport | undefined): string {
  if (!report) return "";
  const out: string[] = [];
  for (const [name, r] of Object.entries(report.parts)) {
    if (!r.ok) out.push(`${name}: ${r.errorName}: ${r.error}`);
    else if (
      typeof r.value === "object" &&
      r.value !== null &&
      !Array.isArray(r.value) &&
      typeof r.value["problem"] === "string"
    )
      out.push(r.value["problem"]);
  }
  return out.join("\n");
}

/**
 * A case's time limit is a hang detector set for a machine doing little else. On a loaded one (the
 * suite runs two test files at once beside code-server; CI failed a 300,000-line case at 30 s at a
 * load of 25 on 2 cores) it is stretched by the load per core, at most fourfold: a hang still
 * never answers.
 */
function timeLimit(ms: number): number {
  return Math.round(ms * Math.min(4, Math.max(1, (loadavg()[0] ?? 0) / availableParallelism())));
}

export async function runCase(env: CorpusEnv, c: Case): Promise<CaseResult> {
  const p = pathsFor(env, c);
  fs.rmSync(p.root, { recursive: true, force: true });
  writeSentinels(p, env.fixture);
  const ctx: SetupContext = { p, fx: env.fixture, cleanup: [] };
  const failures: string[] = [];
  let outcomes: ChildOutcome[] = [];
  let report: ProbeReport | undefined;
  try {
    await c.setup(ctx);
    const writes = c.expect.writes?.(p) ?? (c.run.kind === "probe" ? [] : [p.run]);
    const before = snapshot(p.root, writes);
    const rssFile = (i: number) => path.join(p.root, `.rss-${i}`);
    const timeMs = timeLimit(c.expect.timeMs);
    const common = { cwd: p.ws, killMb: KILL_MB, timeMs };
    const env0: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: "" };
    switch (c.run.kind) {
      case "probe":
        outcomes = [
          await runChild({
            ...common,
            command: process.execPath,
            args: ["--require", env.hook, PROBES_JS, JSON.stringify(c.run.request(p))],
            env: { ...env0, NODE_PATH: env.nodePath },
            rssFile: rssFile(0),
          }),
        ];
        report = probeReport(outcomes[0] as ChildOutcome);
        break;
      case "cli":
        outcomes = [
          await runChild({
            ...common,
            command: process.execPath,
            args: ["--require", env.hook, CLI_JS, ...c.run.args(p)],
            env: env0,
            rssFile: rssFile(0),
            ...(c.run.signals ? { signals: c.run.signals } : {}),
          }),
        ];
        break;
      case "cli-twice": {
        const args = c.run.args(p);
        outcomes = await Promise.all(
          [0, 1].map((i) =>
            runChild({
              ...common,
              command: process.execPath,
              args: ["--require", env.hook, CLI_JS, ...args],
              env: env0,
              rssFile: rssFile(i),
            }),
          ),
        );
        break;
      }
    }
    for (const f of [0, 1]) fs.rmSync(rssFile(f), { force: true });
    const changed = snapshotDiff(before, snapshot(p.root, writes));
    if (changed.length > 0) failures.push(`changed outside the run: ${changed.slice(0, 4).join(", ")}`);

    const text = c.run.kind === "probe" ? probeText(report) : outcomes.map((o) => o.stdout + o.stderr).join("\n");
    const observed: Observed = { outcomes, report, text };
    for (const o of outcomes) {
      if (o.timedOut) failures.push(`no answer within ${timeMs} ms (killed)`);
      else if (o.memoryKilled) failures.push(`killed at ${KILL_MB} MB resident`);
      else if (o.peakMb > c.expect.peakMb) failures.push(`peak ${o.peakMb} MB > ${c.expect.peakMb} MB`);
    }
    const finished = outcomes.every((o) => !o.timedOut && !o.memoryKilled);
    if (finished) {
      if (STACK_LINE.test(text)) failures.push(`stack trace in the message: ${firstLines(text)}`);
      if (INTERNAL.test(text)) failures.push(`"internal" error: ${firstLines(text)}`);
      if (c.run.kind === "probe") {
        const o = outcomes[0] as ChildOutcome;
        if (!report) failures.push(`the probe gave no report (exit ${o.exit}): ${firstLines(o.stderr)}`);
        for (const [name, r] of Object.entries(report?.parts ?? {})) {
          if (r.ok) continue;
          const clear = c.expect.partErrors;
          if (!clear?.test(r.error)) failures.push(`${name} threw ${r.errorName}: ${r.error.slice(0, 160)}`);
        }
      } else {
        const allowed = c.expect.exit ?? [0];
        for (const o of outcomes)
          if (!allowed.includes(o.exit))
            failures.push(`exit ${o.exit}, expected ${allowed.join(" or ")}: ${firstLines(o.stderr)}`);
        if (c.expect.message && !c.expect.message.test(text))
          failures.push(`message does not match ${c.expect.message}: ${firstLines(text)}`);
      }
      const extra = c.expect.check?.(observed, p);
      if (extra !== undefined) failures.push(extra);
    }
  } catch (e) {
    failures.push(`the case itself failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    for (const f of ctx.cleanup) f();
    if (process.env["LM_HOSTILE_KEEP"] === undefined) fs.rmSync(p.root, { recursive: true, force: true });
  }
  const ms = Math.max(0, ...outcomes.map((o) => o.ms));
  const peakMb = Math.max(0, ...outcomes.map((o) => o.peakMb));
  return {
    row: { id: c.id, category: c.category, pass: failures.length === 0, ms, peakMb, why: failures.join("; ") },
    failures,
  };
}

function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join(" ⏎ ").slice(0, 300);
}
