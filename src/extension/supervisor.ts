// Trainer processes: spawn → `ready` (raced against a timeout and cancellation) → requests and a
// stream of events → graceful `stop` → kill on dispose (a process is never left behind, and never
// waited on without a bound). No `vscode` import, so
// plain `node --test` drives it against the real sidecar; context.ts adapts it to the UI.
//
// A crash is reported at once: an exit without `finished`, or an `error` event, calls `onProblem`;
// a run folder left saying "running" by a crash is marked failed. A trainer that exited on purpose
// (finished, stopped, diverged) is never restarted.
import { type ChildProcess, spawn } from "node:child_process";
import { basename, join } from "node:path";
import { writeFileAtomicSync } from "../shared/atomicFile";
import { RUN_MANIFEST } from "../shared/runFormat";
import { READ_LIMITS, readRegularTextSync } from "../shared/safeRead";
import {
  encodeMessage,
  PROTOCOL_VERSION,
  type SystemSummary,
  type TrainerEvent,
  type TrainerRequest,
} from "../shared/trainerProtocol";
import { CancelledError } from "./cancelled";
import { type Disposable, Emitter, type Event } from "./events";
import { samePath } from "./paths";
import { endedText } from "./problemText";
import { ProtocolChild } from "./protocolChild";
import { PythonScriptProcess, type ScriptLaunch, scriptError } from "./pythonRun";

/**
 * How long trainers get to save and exit when the extension shuts down. VS Code gives all async
 * `deactivate`s 5 s, then ends the extension host; a stop finishes the current step, evaluates
 * and writes a checkpoint (modAdd on wasm: ~2 s on a busy 2-core machine), so 4 s, leaving 1 s
 * to kill the rest and mark their runs failed.
 */
export const SHUTDOWN_GRACE_MS = 4000;

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  trace(message: string): void;
}

/** How to start a trainer. */
export interface Launch {
  /** Node executable; `process.execPath` inside VS Code (then `electronRunAsNode` is true). */
  node: string;
  electronRunAsNode: boolean;
  /** Absolute path of dist/trainer/sidecar.js. */
  sidecar: string;
  /** Working directory (the workspace folder): relative paths in experiments resolve from it. */
  cwd: string;
}

/**
 * The environment a trainer process (sidecar or CLI) runs with: the extension's, with
 * ELECTRON_RUN_AS_NODE set exactly when `launch.node` is VS Code's own runtime.
 */
export function trainerEnv(launch: Launch): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (launch.electronRunAsNode) env["ELECTRON_RUN_AS_NODE"] = "1";
  else delete env["ELECTRON_RUN_AS_NODE"];
  return env;
}

export type ExitInfo = {
  code: number | null;
  signal: NodeJS.Signals | null;
  finished: Extract<TrainerEvent, { type: "finished" }> | undefined;
  spawnError?: string;
};

/** A sidecar that did not start; `timedOut`: it was alive but not ready in time (a loaded machine: worth another try). */
export class TrainerStartError extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** What the supervisor needs of a process that trains: a sidecar (TrainerProcess) or a Python script (pythonRun.ts). */
export interface RunProcess extends Disposable {
  readonly onEvent: Event<TrainerEvent>;
  readonly onExit: Event<ExitInfo>;
  readonly exited: Promise<ExitInfo>;
  readonly pid: number | undefined;
  readonly hasExited: boolean;
  /** The last of what it wrote on stderr (crash reports, tracebacks). */
  readonly stderr: string;
  /** Graceful stop, then a kill after `graceMs`. */
  stop(graceMs: number, options?: { closeInput?: boolean }): void;
  kill(): void;
}

/** One sidecar process. Obtain with `TrainerProcess.start`, which resolves once it said `ready`. */
export class TrainerProcess extends ProtocolChild {
  private constructor(child: ChildProcess, log: Log) {
    super(child, log, {
      name: "trainer",
      protocol: child.stdout,
      stderrTail: 4000,
      onStderr: (chunk) => {
        for (const line of chunk.split("\n")) if (line.trim() !== "") log.trace(`trainer ${child.pid} stderr: ${line}`);
      },
    });
  }

  /** Spawns a sidecar and waits for `ready`; rejects (and kills it) on timeout, cancellation, or exit. */
  static async start(
    launch: Launch,
    log: Log,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<TrainerProcess> {
    if (options.signal?.aborted) throw new CancelledError();
    const env = trainerEnv(launch);
    log.info(`starting trainer: ${launch.node} ${launch.sidecar} (cwd ${launch.cwd})`);
    const child = spawn(launch.node, [launch.sidecar], {
      cwd: launch.cwd,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    const trainer = new TrainerProcess(child, log);
    const cleanups: Disposable[] = [];
    try {
      const ready = await new Promise<Extract<TrainerEvent, { type: "ready" }>>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new TrainerStartError(`the trainer did not start within ${Math.round(options.timeoutMs / 1000)} s`, true),
            ),
          options.timeoutMs,
        );
        cleanups.push({ dispose: () => clearTimeout(timer) });
        cleanups.push(trainer.onEvent((e) => e.type === "ready" && resolve(e)));
        cleanups.push(
          trainer.onExit((info) =>
            reject(
              new TrainerStartError(
                info.spawnError
                  ? `could not start ${launch.node}: ${info.spawnError}`
                  : `the trainer exited before it was ready (code ${info.code}, signal ${info.signal})${trainer.stderr ? `: ${trainer.stderr.trim().slice(-1000)}` : ""}`,
              ),
            ),
          ),
        );
        if (options.signal) {
          const onAbort = (): void => reject(new CancelledError());
          options.signal.addEventListener("abort", onAbort, { once: true });
          cleanups.push({ dispose: () => options.signal?.removeEventListener("abort", onAbort) });
        }
      });
      if (ready.protocol !== PROTOCOL_VERSION) {
        throw new TrainerStartError(
          `the trainer speaks protocol ${ready.protocol}, this extension ${PROTOCOL_VERSION}: rebuild (npm run build)`,
        );
      }
      log.info(`trainer ready: pid ${ready.pid}, version ${ready.version}`);
      return trainer;
    } catch (e) {
      trainer.kill();
      throw e;
    } finally {
      for (const c of cleanups) c.dispose();
    }
  }

  send(request: TrainerRequest): void {
    if (this.hasExited || !this.child.stdin?.writable) throw new Error("the trainer is not running");
    this.log.trace(`→ trainer ${this.pid}: ${JSON.stringify(request)}`);
    this.child.stdin.write(encodeMessage(request));
  }

  /**
   * Asks for a graceful stop; kills the process if it has not exited after `graceMs`. With
   * `closeInput`, stdin is closed after the request too: the sidecar also stops on end of input,
   * and there is nothing more to say to it (shutdown).
   */
  stop(graceMs: number, options: { closeInput?: boolean } = {}): void {
    if (this.hasExited) return;
    try {
      this.send({ type: "stop" });
    } catch {
      // stdin already closed: fall through to the kill timer
    }
    if (options.closeInput) this.child.stdin?.end();
    this.killAfter(graceMs);
  }
}

export interface Progress {
  step: number;
  totalSteps: number;
  /** Null when not finite, or when a Python script logs no loss. */
  loss: number | null;
  stepsPerSecond: number;
}

/** A training (or resume) supervised by this extension: its life as a discriminated union. */
export type RunPhase =
  | { kind: "starting" }
  | { kind: "training"; progress: Progress | undefined }
  | { kind: "stopping"; progress: Progress | undefined }
  | { kind: "ended"; status: "finished" | "stopped" | "diverged" | "failed"; message?: string };

export interface ActiveRun {
  readonly id: number;
  /** A model system of a TypeScript experiment trained by the sidecar, or a Python script run as is. */
  readonly kind: "system" | "script";
  /** Experiment file (absolute). */
  readonly file: string;
  /** The model system; for a script, the script's file name. */
  readonly system: string;
  /** Known once the trainer said `started` (or from the start, for a resume). */
  runDir: string | undefined;
  phase: RunPhase;
  lastMetrics: Record<string, number | null> | undefined;
  trainer: RunProcess | undefined;
}

/** What a training computes on: the backend setting and, for torch (or auto, which may choose it), the interpreter and device. */
export interface BackendChoice {
  backend: string;
  /** An interpreter path; absent: the trainer's default (python3 on PATH). */
  python?: string;
  /** cpu, cuda, cuda:N, mps; absent: the trainer's default. */
  device?: string;
}

export interface TrainOptions extends BackendChoice {
  file: string;
  system: string;
  runsRoot: string;
  steps?: number;
}

/** The request fields of a choice: only what differs from the trainer's defaults. */
function choiceFields(c: BackendChoice): { backend?: string; python?: string; device?: string } {
  return {
    ...(c.backend !== "auto" ? { backend: c.backend } : {}),
    ...(c.python ? { python: c.python } : {}),
    ...(c.device ? { device: c.device } : {}),
  };
}

export interface SupervisorOptions {
  /** How to start a trainer for this experiment file (its workspace folder is the working directory). */
  launch: (file: string) => Launch;
  /** Where a Python script's prints go (an output channel); absent: the log. */
  scriptOutput?: (run: ActiveRun, text: string) => void;
  log: Log;
  maxConcurrent: () => number;
  readyTimeoutMs: number;
  listTimeoutMs: number;
  stopGraceMs: number;
  /** The extension's `python/` folder: frames in it are the logger's, not the user's (Problems). */
  pythonPackageRoot?: string;
}

/** A problem to show at once: an `error` event or a crash. */
export interface Problem {
  run: ActiveRun | undefined;
  message: string;
  /** The `error` event, when there is one (for Problems with locations). */
  event?: Extract<TrainerEvent, { type: "error" }>;
  crashed: boolean;
}

/** Runs trainers: one sidecar process per training, and a short-lived one per `list`. */
export class Supervisor implements Disposable {
  private readonly active = new Map<number, ActiveRun>();
  private nextId = 1;
  private disposed = false;
  private shuttingDown: Promise<void> | undefined;
  private readonly changed = new Emitter<ActiveRun>();
  private readonly events = new Emitter<{ run: ActiveRun; event: TrainerEvent }>();
  private readonly problems = new Emitter<Problem>();
  /** Any run changed phase, progress or folder. */
  readonly onDidChange: Event<ActiveRun> = this.changed.event;
  /** Every event of every supervised run. */
  readonly onEvent: Event<{ run: ActiveRun; event: TrainerEvent }> = this.events.event;
  /** An `error` event or a crash, to show at once. */
  readonly onProblem: Event<Problem> = this.problems.event;

  constructor(private readonly options: SupervisorOptions) {}

  /** Runs that have not ended. */
  runs(): ActiveRun[] {
    return [...this.active.values()].filter((r) => r.phase.kind !== "ended");
  }
  find(file: string, system: string): ActiveRun | undefined {
    return this.runs().find((r) => r.kind === "system" && samePath(r.file, file) && r.system === system);
  }
  /** The run of a Python script, while it runs. */
  findScript(file: string): ActiveRun | undefined {
    return this.runs().find((r) => r.kind === "script" && samePath(r.file, file));
  }
  findByRunDir(runDir: string): ActiveRun | undefined {
    return this.runs().find((r) => r.runDir !== undefined && samePath(r.runDir, runDir));
  }

  /** Asks a fresh sidecar for the systems of `file`. Rejects with the trainer's message on failure. */
  async list(
    file: string,
    signal?: AbortSignal,
  ): Promise<{ systems: SystemSummary[]; error?: Extract<TrainerEvent, { type: "error" }> }> {
    const trainer = await TrainerProcess.start(this.options.launch(file), this.options.log, {
      timeoutMs: this.options.readyTimeoutMs,
      ...(signal ? { signal } : {}),
    });
    const cleanups: Disposable[] = [trainer];
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`listing ${file} took more than ${this.options.listTimeoutMs / 1000} s`)),
          this.options.listTimeoutMs,
        );
        cleanups.push({ dispose: () => clearTimeout(timer) });
        cleanups.push(
          trainer.onEvent((e) => {
            if (e.type === "systems") resolve({ systems: e.systems });
            else if (e.type === "error") resolve({ systems: [], error: e });
            else if (e.type === "log") this.options.log.info(`[list] ${e.message}`);
          }),
        );
        cleanups.push(
          trainer.onExit((info) =>
            reject(
              new Error(
                `the trainer exited while listing ${file} (code ${info.code})${trainer.stderr ? `: ${trainer.stderr.trim().slice(-500)}` : ""}`,
              ),
            ),
          ),
        );
        if (signal) {
          const onAbort = (): void => reject(new CancelledError());
          signal.addEventListener("abort", onAbort, { once: true });
          cleanups.push({ dispose: () => signal.removeEventListener("abort", onAbort) });
        }
        trainer.send({ type: "list", file });
      });
    } finally {
      // A listing trainer has nothing to save: close it.
      for (const c of cleanups) c.dispose();
    }
  }

  private checkCapacity(): void {
    const max = this.options.maxConcurrent();
    if (this.runs().length >= max) {
      throw new Error(
        `${this.runs().length} trainer${this.runs().length === 1 ? " is" : "s are"} already running (learningMechanics.maxConcurrentTrainers is ${max}): stop one first`,
      );
    }
  }

  /** Starts a training; resolves once the trainer accepted the request (before `started`). */
  async train(options: TrainOptions, signal?: AbortSignal): Promise<ActiveRun> {
    if (this.find(options.file, options.system)) throw new Error(`${options.system} is already training`);
    return this.launchSidecar(options.file, options.system, undefined, signal, {
      type: "train",
      file: options.file,
      system: options.system,
      runsRoot: options.runsRoot,
      ...choiceFields(options),
      ...(options.steps !== undefined ? { steps: options.steps } : {}),
    });
  }

  /** Continues a stopped run in its folder. */
  async resume(
    runDir: string,
    file: string,
    system: string,
    choice: BackendChoice,
    signal?: AbortSignal,
  ): Promise<ActiveRun> {
    if (this.findByRunDir(runDir)) throw new Error(`${runDir} is already training`);
    return this.launchSidecar(file, system, runDir, signal, { type: "resume", runDir, ...choiceFields(choice) });
  }

  /**
   * Runs a Python script that uses the logger (▶ Run on a `.py` experiment): its events come from
   * the logger's protocol pipe, its prints go to `scriptOutput`, Stop is SIGTERM.
   */
  async runScript(launch: ScriptLaunch): Promise<ActiveRun> {
    if (this.findScript(launch.file)) throw new Error(`${basename(launch.file)} is already running`);
    const run = this.register("script", launch.file, basename(launch.file), undefined);
    const output = (text: string): void => {
      if (this.options.scriptOutput) this.options.scriptOutput(run, text);
      else
        for (const line of text.split("\n")) if (line.trim() !== "") this.options.log.info(`[${run.system}] ${line}`);
    };
    return this.attach(run, () => PythonScriptProcess.start(launch, this.options.log, output), undefined);
  }

  private launchSidecar(
    file: string,
    system: string,
    runDir: string | undefined,
    signal: AbortSignal | undefined,
    request: TrainerRequest,
  ): Promise<ActiveRun> {
    const run = this.register("system", file, system, runDir);
    return this.attach(
      run,
      () =>
        TrainerProcess.start(this.options.launch(file), this.options.log, {
          timeoutMs: this.options.readyTimeoutMs,
          ...(signal ? { signal } : {}),
        }),
      request,
    );
  }

  private register(kind: ActiveRun["kind"], file: string, system: string, runDir: string | undefined): ActiveRun {
    if (this.disposed) throw new Error("the extension is shutting down");
    this.checkCapacity();
    const run: ActiveRun = {
      id: this.nextId++,
      kind,
      file,
      system,
      runDir,
      phase: { kind: "starting" },
      lastMetrics: undefined,
      trainer: undefined,
    };
    this.active.set(run.id, run);
    this.changed.fire(run);
    return run;
  }

  /** Starts the process of a registered run and follows it; `request` is sent to a sidecar once it is ready. */
  private async attach(
    run: ActiveRun,
    start: () => Promise<RunProcess>,
    request: TrainerRequest | undefined,
  ): Promise<ActiveRun> {
    let trainer: RunProcess;
    try {
      trainer = await start();
    } catch (e) {
      run.phase = { kind: "ended", status: "failed", message: (e as Error).message };
      this.active.delete(run.id);
      this.changed.fire(run);
      throw e;
    }
    run.trainer = trainer;
    run.phase = { kind: "training", progress: undefined };
    trainer.onEvent((event) => this.handleEvent(run, event));
    trainer.onExit((info) => this.handleExit(run, info));
    if (request !== undefined && trainer instanceof TrainerProcess) trainer.send(request);
    this.changed.fire(run);
    return run;
  }

  private handleEvent(run: ActiveRun, event: TrainerEvent): void {
    switch (event.type) {
      case "started":
        run.runDir = event.runDir;
        this.options.log.info(
          `${run.system}: training in ${event.runDir} on ${event.backend.name} (${event.backend.reason}), from step ${event.fromStep} of ${event.totalSteps}`,
        );
        break;
      case "progress":
        if (run.phase.kind === "training" || run.phase.kind === "stopping")
          run.phase.progress = {
            step: event.step,
            totalSteps: event.totalSteps,
            loss: event.loss,
            stepsPerSecond: event.stepsPerSecond,
          };
        break;
      case "metrics":
        run.lastMetrics = event.values;
        break;
      case "log":
        this.options.log[event.level === "warn" ? "warn" : event.level === "error" ? "error" : "info"](
          `[${run.system}] ${event.message}`,
        );
        break;
      case "error":
        this.options.log.error(`[${run.system}] ${event.kind} error: ${event.message}`);
        this.problems.fire({ run, message: event.message, event, crashed: false });
        break;
      case "finished":
        if (event.runDir) run.runDir = event.runDir;
        // A script's run ended, but the script goes on (it may start another): its exit ends it here.
        if (run.kind === "script") break;
        run.phase = { kind: "ended", status: event.status, ...(event.message ? { message: event.message } : {}) };
        this.options.log.info(endedText(run.system, event, run.runDir !== undefined));
        break;
      case "ready":
      case "systems":
      case "checkpoint":
        break;
    }
    this.events.fire({ run, event });
    if (event.type !== "log" && event.type !== "checkpoint") this.changed.fire(run);
  }

  private handleExit(run: ActiveRun, info: ExitInfo): void {
    this.active.delete(run.id);
    if (run.kind === "script") {
      this.handleScriptExit(run, info);
      return;
    }
    if (!info.finished) {
      // Exited without `finished`: a crash (or killed). Report it at once; never restart it.
      const why = info.spawnError ?? `exit code ${info.code}${info.signal ? `, signal ${info.signal}` : ""}`;
      const stderr = run.trainer?.stderr.trim();
      const message = `The trainer for ${run.system} stopped unexpectedly (${why})${stderr ? `: ${stderr.slice(-500)}` : ""}`;
      run.phase = { kind: "ended", status: "failed", message };
      if (run.runDir) markRunFailed(run.runDir, message, this.options.log);
      if (!this.disposed) {
        this.options.log.error(message);
        this.problems.fire({ run, message, crashed: true });
      }
    }
    run.trainer = undefined;
    this.changed.fire(run);
  }

  /**
   * A script ended. An exception (its traceback on stderr, Stop's KeyboardInterrupt aside) is a
   * Problem at the innermost line of the user's files, whether it came before `lm.init` or during
   * the run; a run the script left "running" (killed, or an error the logger did not see) is marked failed.
   */
  private handleScriptExit(run: ActiveRun, info: ExitInfo): void {
    const stopping = run.phase.kind === "stopping";
    const error =
      info.code !== 0 && info.code !== null
        ? scriptError(run.trainer?.stderr ?? "", this.options.pythonPackageRoot ?? "")
        : undefined;
    const interrupted = error?.type === "KeyboardInterrupt";
    const crash = error !== undefined && !interrupted ? error : undefined;
    const tail = run.trainer?.stderr.trim().slice(-500);
    const how = info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
    let message: string | undefined;
    if (info.spawnError) message = `could not start Python for ${run.system}: ${info.spawnError}`;
    else if (crash) message = `${run.system}: ${crash.message}`;
    else if (info.finished === undefined && run.runDir !== undefined && (info.signal !== null || info.code !== 0))
      message = `${run.system} ended (${how}) before it saved its run${stopping ? " (killed after Stop)" : ""}`;
    else if (info.code !== 0 && !interrupted && !(stopping && info.signal !== null))
      message = `${run.system} ended with ${how}${tail ? `: ${tail}` : ""}`;
    const status = info.finished?.status ?? (message !== undefined ? "failed" : stopping ? "stopped" : "finished");
    run.phase = { kind: "ended", status, ...(message !== undefined ? { message } : {}) };
    if (run.runDir && message !== undefined) markRunFailed(run.runDir, message, this.options.log);
    if (message !== undefined && !this.disposed) {
      this.options.log.error(message);
      this.problems.fire({
        run,
        message,
        ...(crash
          ? {
              event: {
                type: "error",
                kind: "runtime",
                message: crash.message,
                ...(crash.location ? { location: crash.location } : {}),
              },
            }
          : {}),
        crashed: info.finished === undefined,
      });
    }
    run.trainer = undefined;
    this.changed.fire(run);
  }

  /** Graceful stop: final checkpoint, status "stopped". */
  stop(run: ActiveRun): void {
    if (run.phase.kind === "ended") return;
    const progress = run.phase.kind === "training" || run.phase.kind === "stopping" ? run.phase.progress : undefined;
    run.phase = { kind: "stopping", progress };
    run.trainer?.stop(this.options.stopGraceMs);
    this.changed.fire(run);
  }

  /**
   * Shutting down (deactivate): every trainer gets the protocol's `stop` and its stdin closed, and
   * up to `graceMs` to save and exit (its run.json then says "stopped"); what is left is killed
   * (and its run marked failed by `handleExit`). Resolves once every trainer has exited. Idempotent:
   * a second call returns the first call's promise.
   */
  shutdown(graceMs: number): Promise<void> {
    if (this.shuttingDown !== undefined) return this.shuttingDown;
    this.disposed = true;
    const trainers = [...this.active.values()]
      .map((r) => r.trainer)
      .filter((t): t is RunProcess => t !== undefined && !t.hasExited);
    this.shuttingDown = (async () => {
      for (const t of trainers) t.stop(graceMs, { closeInput: true });
      const all = Promise.all(trainers.map((t) => t.exited));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) {
        for (const t of trainers) t.kill();
        await all;
      }
      this.disposeEmitters();
    })();
    return this.shuttingDown;
  }

  /**
   * Releases the supervisor. VS Code disposes an extension's subscriptions right after calling
   * `deactivate`, without awaiting it: so while a `shutdown` is under way, dispose leaves its
   * trainers to it (killing them here would lose their final run.json). Otherwise, trainers still
   * running are shut down as by `shutdown` with the default grace, in the background.
   */
  dispose(): void {
    this.disposed = true;
    if (this.shuttingDown !== undefined) return;
    if (this.runs().some((r) => r.trainer && !r.trainer.hasExited)) {
      void this.shutdown(SHUTDOWN_GRACE_MS);
      return;
    }
    for (const run of this.active.values()) run.trainer?.kill();
    this.disposeEmitters();
  }

  private disposeEmitters(): void {
    this.changed.dispose();
    this.events.dispose();
    this.problems.dispose();
  }
}

/** Marks a run folder failed, only if its run.json still says "running" (the trainer did not get to). */
export function markRunFailed(runDir: string, message: string, log?: Log): boolean {
  const path = join(runDir, RUN_MANIFEST);
  let manifest: unknown;
  try {
    // Regular files only, bounded, never blocking: the folder may have been tampered with.
    manifest = JSON.parse(readRegularTextSync(path, READ_LIMITS.manifestBytes));
  } catch {
    return false;
  }
  if (typeof manifest !== "object" || manifest === null || !("status" in manifest) || manifest.status !== "running")
    return false;
  const now = new Date().toISOString();
  const updated = { ...manifest, status: "failed", updatedAt: now, endedAt: now, error: { message } };
  try {
    writeFileAtomicSync(path, `${JSON.stringify(updated, null, 2)}\n`);
    log?.info(`marked ${runDir} failed`);
    return true;
  } catch (e) {
    log?.error(`could not mark ${runDir} failed: ${(e as Error).message}`);
    return false;
  }
}
