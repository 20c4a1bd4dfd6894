// Runs the built trainer (dist/trainer) as a real child process, the way users and the extension do.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readMetrics } from "../../src/shared/metricsReader";
import type { MetricsRecord, RunManifest } from "../../src/shared/runFormat";
import {
  encodeMessage,
  LineSplitter,
  parseTrainerEvent,
  type TrainerEvent,
  type TrainerRequest,
} from "../../src/shared/trainerProtocol";

export const ROOT = resolve(__dirname, "..", "..", "..");
export const CLI = join(ROOT, "dist", "trainer", "cli.js");
export const SIDECAR = join(ROOT, "dist", "trainer", "sidecar.js");
export const FIXTURES = join(ROOT, "test", "fixtures", "experiments");
export const EXAMPLES = join(ROOT, "examples");

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `lm-${label}-`));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it, to its end (killed after `timeoutMs`); `env` replaces the environment. */
export function runCli(args: string[], timeoutMs = 240_000, env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      ...(env !== undefined ? { env } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`lm ${args.join(" ")} timed out after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const live = new Set<ChildProcessWithoutNullStreams>();

/** Kills sidecars a failed test left running (call from `after`), so the test process can exit. */
export function killSidecars(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

/** A running sidecar: send requests, await events. */
export class Sidecar {
  readonly events: TrainerEvent[] = [];
  readonly stray: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: Array<{ pred: (e: TrainerEvent) => boolean; resolve: (e: TrainerEvent) => void }> = [];

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, [SIDECAR], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    live.add(this.child);
    const splitter = new LineSplitter((line) => {
      const event = parseTrainerEvent(line);
      if (!event) {
        this.stray.push(line);
        return;
      }
      this.events.push(event);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(event)) return true;
        w.resolve(event);
        return false;
      });
    });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (d: string) => splitter.push(d));
    this.child.stderr.on("data", () => {});
    this.exited = new Promise((r) =>
      this.child.on("close", (code) => {
        live.delete(this.child);
        r(code);
      }),
    );
  }

  send(request: TrainerRequest): void {
    this.child.stdin.write(encodeMessage(request));
  }

  closeStdin(): void {
    this.child.stdin.end();
  }

  waitFor<T extends TrainerEvent["type"]>(
    type: T,
    pred: (e: Extract<TrainerEvent, { type: T }>) => boolean = () => true,
    timeoutMs = 120_000,
  ): Promise<Extract<TrainerEvent, { type: T }>> {
    const seen = this.events.find((e) => e.type === type && pred(e as Extract<TrainerEvent, { type: T }>));
    if (seen) return Promise.resolve(seen as Extract<TrainerEvent, { type: T }>);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no "${type}" event within ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(",")}`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        pred: (e) => e.type === type && pred(e as Extract<TrainerEvent, { type: T }>),
        resolve: (e) => {
          clearTimeout(timer);
          resolvePromise(e as Extract<TrainerEvent, { type: T }>);
        },
      });
    });
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}

export function readManifest(runDir: string): RunManifest {
  return JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as RunManifest;
}

export function metricsOf(runDir: string): MetricsRecord[] {
  return readMetrics(join(runDir, "metrics.jsonl")).records;
}

export function checkpointFiles(runDir: string): string[] {
  return readdirSync(join(runDir, "checkpoints")).sort();
}

/** Metrics without the wall-clock field, for exact comparisons between runs. */
export function withoutTime(records: MetricsRecord[]): Array<Record<string, number | null>> {
  return records.map(({ time: _time, ...rest }) => rest);
}

/** A python3 that has numpy, or undefined. */
export function pythonWithNumpy(): string | undefined {
  for (const py of [process.env["LM_PYTHON"], "python3", "/usr/bin/python3"]) {
    if (!py) continue;
    const r = spawnSync(py, ["-c", "import numpy"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return undefined;
}
