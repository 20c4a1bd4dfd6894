// The life of a child process that speaks the trainer protocol (src/shared/trainerProtocol.ts) on
// one of its pipes: events parsed line by line, the tail of stderr kept for crash reports, an exit
// reported once and only after the pipes have drained (a `finished` line or a traceback written just
// before exit is not lost; the wait is bounded), a kill timer armed by a graceful stop. The sidecar
// (TrainerProcess in supervisor.ts: protocol on stdout, stop as a request) and a Python script
// (pythonRun.ts: protocol on fd 3, stop as SIGTERM) differ only in how they start and stop.
import type { ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { LineSplitter, parseTrainerEvent, type TrainerEvent } from "../shared/trainerProtocol";
import { Emitter, type Event } from "./events";
import type { ExitInfo, Log, RunProcess } from "./supervisor";

/** How long an exited process's pipes get to deliver their last bytes. */
const DRAIN_MS = 1000;

export interface ProtocolChildOptions {
  /** What the log calls it ("trainer", "python"). */
  name: string;
  /** The pipe the protocol's events arrive on. */
  protocol: Readable | null | undefined;
  /** How much of stderr to keep. */
  stderrTail: number;
  /** Each chunk of stdout, when stdout is not the protocol. */
  onStdout?: (chunk: string) => void;
  /** Each chunk of stderr, as it arrives. */
  onStderr: (chunk: string) => void;
}

export abstract class ProtocolChild implements RunProcess {
  private readonly events = new Emitter<TrainerEvent>();
  private readonly exit = new Emitter<ExitInfo>();
  /** Every protocol event the process writes. */
  readonly onEvent: Event<TrainerEvent> = this.events.event;
  /** The process ended (once). */
  readonly onExit: Event<ExitInfo> = this.exit.event;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private finished: Extract<TrainerEvent, { type: "finished" }> | undefined;
  private stderrTail = "";
  private killTimer: NodeJS.Timeout | undefined;

  protected constructor(
    protected readonly child: ChildProcess,
    protected readonly log: Log,
    private readonly options: ProtocolChildOptions,
  ) {
    const { name, protocol } = options;
    let resolveExited!: (info: ExitInfo) => void;
    this.exited = new Promise((r) => (resolveExited = r));
    const splitter = new LineSplitter((line) => {
      const event = parseTrainerEvent(line);
      if (!event) {
        log.warn(`${name} ${child.pid}: not a protocol line: ${line.slice(0, 300)}`);
        return;
      }
      if (event.type === "finished") this.finished = event;
      this.events.fire(event);
    });
    protocol?.setEncoding("utf8");
    protocol?.on("data", (chunk: string) => splitter.push(chunk));
    protocol?.on("end", () => splitter.end());
    if (options.onStdout !== undefined && child.stdout !== protocol) {
      const onStdout = options.onStdout;
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (chunk: string) => onStdout(chunk));
    }
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-options.stderrTail);
      options.onStderr(chunk);
    });
    // stdin errors (EPIPE after the process exited) are expected; the exit reports crashes.
    child.stdin?.on("error", (e) => log.trace(`${name} ${child.pid} stdin: ${e.message}`));
    const done = (info: ExitInfo): void => {
      if (this.exitInfo) return;
      this.exitInfo = info;
      if (this.killTimer) clearTimeout(this.killTimer);
      resolveExited(info);
      this.exit.fire(info);
    };
    child.on("error", (e) => {
      // Spawn failure (ENOENT for a bad path) or a failed kill: if the process never ran, this is its end.
      log.error(`${name} process error: ${e.message}`);
      if (child.pid === undefined || child.exitCode !== null)
        done({ code: null, signal: null, finished: this.finished, spawnError: e.message });
    });
    child.on("exit", (code, signal) => {
      // The last events and the traceback may still be in the pipes: wait for them to drain (bounded).
      const open = [protocol, child.stdout, child.stderr].filter(
        (s, i, all): s is Readable => !!s && !s.readableEnded && all.indexOf(s) === i,
      );
      let left = open.length;
      const settle = (): void => done({ code, signal, finished: this.finished });
      if (left === 0) return settle();
      for (const s of open)
        s.once("end", () => {
          if (--left === 0) settle();
        });
      setTimeout(settle, DRAIN_MS).unref();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }
  /** The last of what the process wrote on stderr (crash reports, tracebacks). */
  get stderr(): string {
    return this.stderrTail;
  }

  /** Graceful stop, then a kill after `graceMs`. */
  abstract stop(graceMs: number, options?: { closeInput?: boolean }): void;

  /** Kills the process after `graceMs` unless it exits first (armed once). */
  protected killAfter(graceMs: number): void {
    if (this.killTimer) return;
    this.killTimer = setTimeout(() => this.kill(), graceMs);
    this.killTimer.unref();
  }

  kill(): void {
    if (this.hasExited) return;
    this.log.info(`killing ${this.options.name} ${this.pid}`);
    this.child.stdin?.destroy();
    this.killNow();
  }

  /** SIGKILL to the process (a subclass may widen it to the process's group). */
  protected killNow(): void {
    this.child.kill("SIGKILL");
  }

  dispose(): void {
    this.kill();
    this.events.dispose();
    this.exit.dispose();
  }
}
