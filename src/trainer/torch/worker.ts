// The PyTorch worker as a child process: spawned with the package on PYTHONPATH, handshake
// (`hello` with the protocol version), requests written to its stdin, events read from its stdout
// in order. stderr is kept (the last lines explain a crash). `dispose` kills it.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { delimiter } from "node:path";
import {
  WORKER_PROTOCOL_VERSION,
  encodeWorkerMessage,
  parseWorkerEvent,
  type WorkerEvent,
  type WorkerRequest,
} from "../../shared/workerProtocol";
import { LineSplitter } from "../../shared/trainerProtocol";
import { workerPackageRoot } from "./python";

export type WorkerHello = Extract<WorkerEvent, { type: "hello" }>;
export type StartRequest = Omit<Extract<WorkerRequest, { type: "start" }>, "type" | "protocol">;

/** How the worker process ended. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of its stderr (a Python traceback, a warning). */
  stderrTail: string;
}

export class WorkerError extends Error {}

export interface SpawnOptions {
  python: string;
  /** The folder that holds `learning_mechanics` (default: found above this bundle). */
  packageRoot?: string;
  /** Time allowed from spawn to `hello` (importing torch can take seconds on a loaded machine). */
  handshakeTimeoutMs?: number;
}

const STDERR_KEEP = 8192;

/** One worker process. Events are read with `next()` (or `for await`), in the order they came. */
export class TorchWorker {
  private readonly queue: WorkerEvent[] = [];
  private waiting: ((e: WorkerEvent | undefined) => void) | undefined;
  private stderr = "";
  private ended = false;
  readonly exited: Promise<WorkerExit>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly hello: WorkerHello,
    pending: WorkerEvent[],
    exited: Promise<WorkerExit>,
  ) {
    this.queue.push(...pending);
    this.exited = exited;
  }

  /** Spawns `python -m learning_mechanics.worker` and waits for its `hello`. */
  static spawn(opts: SpawnOptions): Promise<TorchWorker> {
    const root = opts.packageRoot ?? workerPackageRoot();
    const env = {
      ...process.env,
      PYTHONPATH: [root, process.env["PYTHONPATH"]].filter((p) => p).join(delimiter),
      PYTHONUNBUFFERED: "1",
    };
    const child = spawn(opts.python, ["-m", "learning_mechanics.worker"], { stdio: ["pipe", "pipe", "pipe"], env });
    return new Promise((resolve, reject) => {
      let worker: TorchWorker | undefined;
      let stderr = "";
      const early: WorkerEvent[] = [];
      let exitResolve: (e: WorkerExit) => void = () => {};
      const exited = new Promise<WorkerExit>((r) => (exitResolve = r));
      const fail = (message: string) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(new WorkerError(message));
      };
      const timeoutMs = opts.handshakeTimeoutMs ?? 120_000;
      const timer = setTimeout(
        () => fail(`the PyTorch worker (${opts.python}) did not start within ${Math.round(timeoutMs / 1000)} s`),
        timeoutMs,
      );
      const lines = new LineSplitter((line) => {
        const e = parseWorkerEvent(line);
        if (!e) {
          // Not protocol: keep it with stderr so a crash report shows it.
          stderr = `${stderr}${line}\n`.slice(-STDERR_KEEP);
          return;
        }
        if (worker) {
          worker.push(e);
          return;
        }
        if (e.type !== "hello") {
          early.push(e);
          return;
        }
        if (e.protocol !== WORKER_PROTOCOL_VERSION) {
          fail(
            `the PyTorch worker speaks protocol ${e.protocol}, this trainer ${WORKER_PROTOCOL_VERSION}: python/learning_mechanics does not belong to this version of the extension`,
          );
          return;
        }
        clearTimeout(timer);
        worker = new TorchWorker(child, e, early, exited);
        worker.stderr = stderr;
        resolve(worker);
      });
      child.stdout.setEncoding("utf8").on("data", (d: string) => lines.push(d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        if (worker) worker.stderr = (worker.stderr + d).slice(-STDERR_KEEP);
        else stderr = (stderr + d).slice(-STDERR_KEEP);
      });
      child.stdin.on("error", () => {
        // EPIPE after the worker exited: the exit is reported through `exited`.
      });
      child.on("error", (e: NodeJS.ErrnoException) => {
        if (!worker)
          fail(`cannot start the PyTorch worker with ${opts.python}: ${e.code === "ENOENT" ? "not found" : e.message}`);
      });
      child.on("close", (code, signal) => {
        lines.end();
        const tail = lastLines(worker ? worker.stderr : stderr, 12);
        exitResolve({ code, signal, stderrTail: tail });
        if (worker) worker.end();
        else
          fail(
            `the PyTorch worker exited before its handshake (${signal ?? `code ${String(code)}`})${tail ? `:\n${tail}` : ""}`,
          );
      });
    });
  }

  private push(e: WorkerEvent): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(e);
    } else this.queue.push(e);
  }

  private end(): void {
    this.ended = true;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(undefined);
    }
  }

  /** The next event, or undefined once the worker has exited and every event was read. */
  next(): Promise<WorkerEvent | undefined> {
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => (this.waiting = r));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WorkerEvent> {
    for (let e = await this.next(); e; e = await this.next()) yield e;
  }

  private send(req: WorkerRequest): void {
    if (!this.child.stdin.writable) return;
    this.child.stdin.write(encodeWorkerMessage(req));
  }

  start(req: StartRequest): void {
    this.send({ type: "start", protocol: WORKER_PROTOCOL_VERSION, ...req });
  }

  /** Asks for a graceful stop: the worker finishes its step, evaluates, hands back a checkpoint. */
  stop(): void {
    this.send({ type: "stop" });
  }

  /** Kills the process (idempotent). */
  dispose(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}
