// Runs the trainer's sweep commands for the extension, free of `vscode`: `lm sweep FILE --system
// NAME --out ROOT` (the local launcher keeps running while its points train: its process is the
// sweep, and stopping it stops them), and `lm sweep-cancel DIR` (a Slurm sweep: scancel). The CLI
// prints the sweep folder's path on its first stdout line; what it says on stderr is a user's
// mistake worded by the trainer (an unknown sweep path, an empty grid), shown as is.
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { pathKey } from "./paths";
import { type Launch, trainerEnv } from "./supervisor";

export interface SweepLog {
  info(text: string): void;
  warn(text: string): void;
}

/** The CLI's command line: `node dist/trainer/cli.js <args>` beside the sidecar. */
export function cliCommand(
  launch: Launch,
  args: readonly string[],
): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  return {
    command: launch.node,
    args: [path.join(path.dirname(launch.sidecar), "cli.js"), ...args],
    env: trainerEnv(launch),
  };
}

/** The last lines of what a process said on stderr, for a message (the trainer words its errors). */
function tail(text: string, lines = 6): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

export type SweepStart = { ok: true; sweepDir: string } | { ok: false; message: string };

interface LocalSweep {
  child: ChildProcess;
  sweepDir: string;
}

export class SweepLauncher {
  /** Local sweeps this window started, by sweep folder: Cancel stops their process. */
  private readonly local = new Map<string, LocalSweep>();

  constructor(private readonly log: SweepLog) {}

  /**
   * Starts `lm sweep` and resolves with the sweep folder once the CLI names it (its first stdout
   * line), or with the CLI's own message if it exits before that.
   */
  start(
    launch: Launch,
    file: string,
    system: string,
    runsRoot: string,
    extra: readonly string[] = [],
  ): Promise<SweepStart> {
    const cmd = cliCommand(launch, ["sweep", file, "--system", system, "--out", runsRoot, ...extra]);
    this.log.info(`starting sweep: ${cmd.command} ${cmd.args.join(" ")} (cwd ${launch.cwd})`);
    const child = spawn(cmd.command, cmd.args, {
      cwd: launch.cwd,
      env: cmd.env,
      stdio: ["ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    let stdout = "";
    let stderr = "";
    return new Promise((resolve) => {
      let named: string | undefined;
      child.stdout?.setEncoding("utf8").on("data", (d: string) => {
        // Only the first line matters; what the launcher prints after it is not kept.
        if (named !== undefined) return;
        stdout += d;
        const nl = stdout.indexOf("\n");
        if (named === undefined && nl >= 0) {
          named = path.resolve(launch.cwd, stdout.slice(0, nl).trim());
          this.local.set(pathKey(named), { child, sweepDir: named });
          resolve({ ok: true, sweepDir: named });
        }
      });
      child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
        for (const line of d.split("\n")) if (line.trim()) this.log.info(`sweep ${system}: ${line}`);
      });
      child.on("error", (e) => resolve({ ok: false, message: `could not start the trainer: ${e.message}` }));
      child.on("close", (code, signal) => {
        if (named !== undefined) {
          this.local.delete(pathKey(named));
          this.log.info(`sweep ${named} ended (${signal ?? `exit ${code}`})`);
        } else
          resolve({
            ok: false,
            message: tail(stderr) || `lm sweep exited (${signal ?? `code ${code}`}) without naming a sweep folder`,
          });
      });
    });
  }

  /** Whether this window runs the local sweep in `sweepDir`. */
  isRunning(sweepDir: string): boolean {
    return this.local.has(pathKey(sweepDir));
  }

  /** Stops a local sweep this window started (SIGTERM: the launcher stops its points gracefully). */
  stopLocal(sweepDir: string): boolean {
    const s = this.local.get(pathKey(sweepDir));
    if (!s) return false;
    s.child.kill("SIGTERM");
    return true;
  }

  /** `lm sweep-cancel DIR` (a Slurm sweep); resolves with the CLI's message on failure. */
  cancelSlurm(launch: Launch, sweepDir: string): Promise<{ ok: true } | { ok: false; message: string }> {
    const cmd = cliCommand(launch, ["sweep-cancel", sweepDir]);
    this.log.info(`cancelling sweep: ${cmd.command} ${cmd.args.join(" ")}`);
    return new Promise((resolve) => {
      const child = spawn(cmd.command, cmd.args, {
        cwd: launch.cwd,
        env: cmd.env,
        stdio: ["ignore", "pipe", "pipe"],
        windowsHide: true,
      });
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (e) => resolve({ ok: false, message: `could not start the trainer: ${e.message}` }));
      child.on("close", (code) =>
        resolve(
          code === 0
            ? { ok: true }
            : { ok: false, message: tail(stderr) || `lm sweep-cancel exited with code ${code}` },
        ),
      );
    });
  }

  dispose(): void {
    for (const s of this.local.values()) s.child.kill("SIGTERM");
    this.local.clear();
  }
}
