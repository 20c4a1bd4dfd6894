// A Python experiment (`.py` calling `lm.init(`) run by the extension: the interpreter runs the
// file in its folder with the extension's `python/` package on PYTHONPATH, and the logger, seeing
// LM_PROTOCOL=1, writes the trainer protocol's events (src/shared/trainerProtocol.ts) on a pipe of
// their own (file descriptor 3), so the script's prints stay prints. Stop is SIGTERM (the logger
// turns it into a final checkpoint and status `stopped`); a second Stop, or no exit within the
// grace time, kills. No `vscode` here: test/integration/pythonRun.test.ts drives it with a real
// interpreter, and the supervisor supervises it like a sidecar.
import { type ChildProcess, spawn } from "node:child_process";
import { basename, delimiter, dirname } from "node:path";
import type { Readable } from "node:stream";
import { READ_LIMITS, readRegularTextSync } from "../shared/safeRead";
import { LineSplitter, parseTrainerEvent, type TrainerEvent } from "../shared/trainerProtocol";
import { Emitter, type Event } from "./events";
import { isLibraryFile, type PythonError, parsePythonTraceback } from "./pythonTraceback";
import type { ExitInfo, Log, RunProcess } from "./supervisor";

/** The descriptor the logger writes events on (the child's fd 3: stdin, stdout, stderr, then this). */
export const PROTOCOL_FD = 3;
/** How much of stderr is kept for the traceback (a deep RecursionError is long; its end is what counts). */
const STDERR_TAIL = 256 * 1024;

export interface ScriptLaunch {
  /** The interpreter (learningMechanics.pythonPath, else the Python extension's, else python3). */
  python: string;
  /** The script, absolute. It runs in its own folder. */
  file: string;
  /** Where runs go unless the script passes `root=` or `run_dir=` (the workspace's run root). */
  runsRoot: string;
  /** The folder holding `learning_mechanics` (the extension's `python/`), put first on PYTHONPATH. */
  packageRoot: string;
}

/** The script's environment: the extension's, plus the package on PYTHONPATH and the protocol variables. */
export function scriptEnv(launch: ScriptLaunch, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  // VS Code runs the extension host as Node with this set: the script's own subprocesses must not inherit it.
  delete env["ELECTRON_RUN_AS_NODE"];
  env["PYTHONPATH"] = [launch.packageRoot, base["PYTHONPATH"]].filter((p) => p).join(delimiter);
  env["PYTHONUNBUFFERED"] = "1"; // prints reach the output channel as they happen
  env["LM_PROTOCOL"] = "1";
  env["LM_PROTOCOL_FD"] = String(PROTOCOL_FD);
  env["LM_RUNS_ROOT"] = launch.runsRoot;
  return env;
}

/** A script's exception, for Problems: the traceback at the end of its stderr, frames in our package not the user's. */
export function scriptError(stderr: string, packageRoot: string): PythonError | undefined {
  return parsePythonTraceback(stderr, {
    isUserFile: (f) => !isLibraryFile(f, packageRoot),
    lineText: (file, line) => {
      try {
        return readRegularTextSync(file, READ_LIMITS.manifestBytes).split("\n")[line - 1];
      } catch {
        return undefined; // gone, too large, not a regular file: the column stays unindented
      }
    },
  });
}

/** One running script. Obtain with `PythonScriptProcess.start`, which resolves once the process exists. */
export class PythonScriptProcess implements RunProcess {
  private readonly events = new Emitter<TrainerEvent>();
  private readonly exit = new Emitter<ExitInfo>();
  readonly onEvent: Event<TrainerEvent> = this.events.event;
  readonly onExit: Event<ExitInfo> = this.exit.event;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private finished: Extract<TrainerEvent, { type: "finished" }> | undefined;
  private stderrTail = "";
  private killTimer: NodeJS.Timeout | undefined;
  private stopRequested = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly log: Log,
    output: (text: string) => void,
  ) {
    let resolveExited!: (info: ExitInfo) => void;
    this.exited = new Promise((r) => (resolveExited = r));
    const protocol = child.stdio[PROTOCOL_FD] as Readable | null | undefined;
    const splitter = new LineSplitter((line) => {
      const event = parseTrainerEvent(line);
      if (!event) {
        log.warn(`python ${child.pid}: not a protocol line: ${line.slice(0, 300)}`);
        return;
      }
      if (event.type === "finished") this.finished = event;
      this.events.fire(event);
    });
    protocol?.setEncoding("utf8");
    protocol?.on("data", (chunk: string) => splitter.push(chunk));
    protocol?.on("end", () => splitter.end());
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => output(chunk));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      output(chunk);
    });
    const done = (info: ExitInfo): void => {
      if (this.exitInfo) return;
      this.exitInfo = info;
      if (this.killTimer) clearTimeout(this.killTimer);
      resolveExited(info);
      this.exit.fire(info);
    };
    child.on("error", (e) => {
      log.error(`python process error: ${e.message}`);
      if (child.pid === undefined || child.exitCode !== null)
        done({ code: null, signal: null, finished: this.finished, spawnError: e.message });
    });
    child.on("exit", (code, signal) => {
      // The last events and the traceback may still be in the pipes: wait for them to drain (bounded).
      const open = [protocol, child.stdout, child.stderr].filter((s): s is Readable => !!s && !s.readableEnded);
      let left = open.length;
      const settle = (): void => done({ code, signal, finished: this.finished });
      if (left === 0) return settle();
      for (const s of open)
        s.once("end", () => {
          if (--left === 0) settle();
        });
      setTimeout(settle, 1000).unref();
    });
  }

  /** Spawns the interpreter on the script; rejects with a message naming the interpreter when it cannot start. */
  static start(launch: ScriptLaunch, log: Log, output: (text: string) => void): Promise<PythonScriptProcess> {
    log.info(`running ${launch.file} with ${launch.python} (runs under ${launch.runsRoot})`);
    const child = spawn(launch.python, [launch.file], {
      cwd: dirname(launch.file),
      env: scriptEnv(launch),
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    const script = new PythonScriptProcess(child, log, output);
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void =>
        reject(
          new Error(
            `could not start Python (${launch.python}) for ${basename(launch.file)}: ${e.message}. Set learningMechanics.pythonPath, or choose an interpreter in the Python extension.`,
          ),
        );
      child.once("error", onError);
      child.once("spawn", () => {
        child.off("error", onError);
        resolve(script);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }
  get stderr(): string {
    return this.stderrTail;
  }
  /** Whether Stop was asked (an exit then is not a crash). */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Stop: SIGTERM, and a kill after `graceMs`; asked again, kills at once. */
  stop(graceMs: number): void {
    if (this.hasExited) return;
    if (this.stopRequested) {
      this.kill();
      return;
    }
    this.stopRequested = true;
    this.log.info(`stopping python ${this.pid} (SIGTERM)`);
    this.child.kill("SIGTERM");
    this.killTimer = setTimeout(() => this.kill(), graceMs);
    this.killTimer.unref();
  }

  kill(): void {
    if (this.hasExited) return;
    this.log.info(`killing python ${this.pid}`);
    this.child.kill("SIGKILL");
  }

  dispose(): void {
    this.kill();
    this.events.dispose();
    this.exit.dispose();
  }
}
