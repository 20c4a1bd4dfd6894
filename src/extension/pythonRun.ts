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
import { isLibraryFile, type PythonError, parsePythonTraceback } from "./pythonTraceback";
import { ProtocolChild } from "./protocolChild";
import type { Log } from "./supervisor";

/** The descriptor the logger writes events on (the child's fd 3: stdin, stdout, stderr, then this). */
export const PROTOCOL_FD = 3;
/** Process groups (and killing one) are POSIX's; on Windows a kill ends the interpreter only. */
const GROUP_KILL = process.platform !== "win32";
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
export class PythonScriptProcess extends ProtocolChild {
  private stopRequested = false;

  private constructor(child: ChildProcess, log: Log, output: (text: string) => void) {
    super(child, log, {
      name: "python",
      protocol: child.stdio[PROTOCOL_FD] as Readable | null | undefined,
      stderrTail: STDERR_TAIL,
      onStdout: output,
      onStderr: output,
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
      // Its own process group, so a kill reaches what the script started too (DataLoader workers,
      // subprocesses), not only the interpreter.
      detached: GROUP_KILL,
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
    this.killAfter(graceMs);
  }

  /**
   * SIGKILL to the script's whole process group. Stop's SIGTERM goes to the interpreter alone: the
   * logger turns it into a final checkpoint, which may still need the DataLoader's workers.
   */
  protected override killNow(): void {
    const pid = this.child.pid;
    if (GROUP_KILL && pid !== undefined) {
      try {
        process.kill(-pid, "SIGKILL");
        return;
      } catch {
        // the group is gone already, or was never made: the process itself
      }
    }
    this.child.kill("SIGKILL");
  }
}
