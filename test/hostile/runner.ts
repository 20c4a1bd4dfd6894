// The corpus runner's machinery: a child process measured from outside (wall time, peak RSS,
// killed past a time or memory bound), a checksum of every file that must not change, and the
// closing table. No knowledge of the cases here (cases.ts) nor of the readers (probes.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface ChildSpec {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long: the case then fails on time. */
  timeMs: number;
  /** Killed (SIGKILL) when its resident memory passes this: protects the machine; the case fails on memory. */
  killMb: number;
  /** Signals to send, at these times after the start (Ctrl-C, SIGTERM). */
  signals?: readonly { atMs: number; signal: NodeJS.Signals }[];
  /** File the --require hook writes the child's peak RSS (KiB) to on exit. */
  rssFile: string;
}

export interface ChildOutcome {
  /** Exit code, or the signal's name when the process died of one. */
  exit: number | string;
  timedOut: boolean;
  memoryKilled: boolean;
  ms: number;
  /** Highest resident set seen: polled from /proc, or the hook's VmHWM at exit when higher. */
  peakMb: number;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Bytes of each stream kept (a child printing megabytes must not fill the runner's memory). */
const KEEP_BYTES = 256 << 10;

/**
 * The node `--require` hook that records the child's own peak RSS on exit (VmHWM: the peak of this
 * process image; `resourceUsage().maxRSS` would also count the runner's memory before exec).
 */
export const RSS_HOOK_SOURCE = `"use strict";
const fs = require("node:fs");
process.on("exit", () => {
  const file = process.env.LM_HOSTILE_RSS_FILE;
  if (!file) return;
  try {
    const m = /VmHWM:\\s+(\\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) fs.writeFileSync(file, m[1]);
  } catch {}
});
`;

function statusKb(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+)/.exec(text);
    const rss = /VmRSS:\s+(\d+)/.exec(text);
    return { hwm: Number(hwm?.[1] ?? 0), rss: Number(rss?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/** True when the process has exited (a zombie not yet reaped, or gone). */
function exited(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return /\) Z /.test(stat);
  } catch {
    return true;
  }
}

/** Children still running, killed if the runner exits first (a hung probe must not outlive it). */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function runChild(spec: ChildSpec): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...spec.env, LM_HOSTILE_RSS_FILE: spec.rssFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    const pid = child.pid ?? -1;
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      if (stdout.length < KEEP_BYTES) stdout += d.slice(0, KEEP_BYTES - stdout.length);
    });
    child.stderr.on("data", (d: string) => {
      if (stderr.length < KEEP_BYTES) stderr += d.slice(0, KEEP_BYTES - stderr.length);
    });
    let peakKb = 0;
    let timedOut = false;
    let memoryKilled = false;
    const poll = setInterval(() => {
      const s = statusKb(pid);
      if (s === undefined) return;
      peakKb = Math.max(peakKb, s.hwm, s.rss);
      if (s.rss > spec.killMb * 1024 && !memoryKilled) {
        memoryKilled = true;
        child.kill("SIGKILL");
      }
    }, 20);
    const timers = (spec.signals ?? []).map((s) => setTimeout(() => child.kill(s.signal), s.atMs));
    const deadline = setTimeout(() => {
      // The runner's own event loop may have been busy (building another case's files): a child
      // that already exited and waits to be reaped answered in time.
      if (exited(pid)) return;
      timedOut = true;
      child.kill("SIGKILL");
    }, spec.timeMs);
    child.on("error", (e) => {
      clearInterval(poll);
      clearTimeout(deadline);
      for (const t of timers) clearTimeout(t);
      reject(e);
    });
    child.on("close", (code, signal) => {
      live.delete(child);
      clearInterval(poll);
      clearTimeout(deadline);
      for (const t of timers) clearTimeout(t);
      try {
        peakKb = Math.max(peakKb, Number(fs.readFileSync(spec.rssFile, "utf8")) || 0);
      } catch {
        // killed before its exit hook ran: the polled value stands
      }
      resolve({
        exit: code ?? signal ?? "unknown",
        timedOut,
        memoryKilled,
        ms: Math.round(performance.now() - t0),
        peakMb: Math.round(peakKb / 1024),
        stdout,
        stderr,
        pid,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Checksums of what must not change

/** Files larger than this are identified by size, mtime and inode instead of their bytes. */
const HASH_LIMIT = 64 << 20;

function describe(p: string, st: fs.Stats): string {
  if (st.isSymbolicLink()) return `link → ${fs.readlinkSync(p)}`;
  if (st.isDirectory()) return "dir";
  if (st.isFIFO()) return "fifo";
  if (st.isCharacterDevice()) return `char ${st.rdev}`;
  if (st.isBlockDevice()) return `block ${st.rdev}`;
  if (st.isSocket()) return "socket";
  if (st.size > HASH_LIMIT) return `file ${st.size} ${st.mtimeMs} ${st.ino}`;
  // Only regular files are opened: a FIFO is never read by the checksum.
  return `file ${st.size} ${createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`;
}

/**
 * Every entry under `root` except those under `exclude` (folders where the case may write), by
 * path relative to `root`; plus, for every symlink met anywhere under `root` (the excluded folders
 * included), its target when that lies outside `root` (e.g. /dev/zero): what a link leads to must
 * not change either. Symlinks are never followed into folders.
 */
export function snapshot(root: string, exclude: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const excluded = (p: string) => exclude.some((e) => p === e || p.startsWith(e + path.sep));
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) {
        let target: string | undefined;
        try {
          target = fs.realpathSync(p);
        } catch {
          target = undefined; // dangling
        }
        if (target !== undefined && !(target === root || target.startsWith(root + path.sep))) {
          try {
            const ts = fs.statSync(target);
            out.set(`target:${target}`, ts.isDirectory() ? "dir" : describe(target, ts));
          } catch {
            out.set(`target:${target}`, "missing");
          }
        }
      }
      if (excluded(p)) {
        if (st.isDirectory() && !st.isSymbolicLink()) walk(p);
        continue;
      }
      out.set(path.relative(root, p), describe(p, st));
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** What changed between two snapshots, in words ("changed outside/x", "new outside/y"). */
export function snapshotDiff(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    const now = after.get(k);
    if (now === undefined) out.push(`removed ${k}`);
    else if (now !== v) out.push(`changed ${k}`);
  }
  for (const k of after.keys()) if (!before.has(k)) out.push(`new ${k}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The closing table

export interface Row {
  id: string;
  category: string;
  pass: boolean;
  ms: number;
  peakMb: number;
  /** Why it failed (first reasons), empty when it passed. */
  why: string;
}

export function formatTable(rows: readonly Row[]): string {
  const head = ["case", "category", "result", "time ms", "peak MB", "why"];
  const body = rows.map((r) => [
    r.id,
    r.category,
    r.pass ? "pass" : "FAIL",
    String(r.ms),
    String(r.peakMb),
    r.why.replace(/\s+/g, " ").slice(0, 140),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const out = [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)];
  const byCategory = new Map<string, { n: number; failed: number }>();
  for (const r of rows) {
    const c = byCategory.get(r.category) ?? { n: 0, failed: 0 };
    c.n++;
    if (!r.pass) c.failed++;
    byCategory.set(r.category, c);
  }
  const failed = rows.filter((r) => !r.pass).length;
  const peak = Math.max(0, ...rows.map((r) => r.peakMb));
  const totalMs = rows.reduce((a, r) => a + r.ms, 0);
  out.push(
    "",
    `totals: ${rows.length} cases, ${rows.length - failed} pass, ${failed} fail; highest peak ${peak} MB; child time ${(totalMs / 1000).toFixed(1)} s`,
  );
  for (const [c, v] of byCategory) out.push(`  ${c}: ${v.n} cases, ${v.failed} fail`);
  return out.join("\n");
}
