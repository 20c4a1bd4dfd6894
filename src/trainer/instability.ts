// `lm instability RUN --at K1,K2,… [--data-seeds S1,S2]`: the instability analysis of Frankle et
// al. 2020 (docs/branching.md). For each k, two branches of RUN at checkpoint k with different
// data orders, trained to the end, then the linear interpolation between their final weights: the
// barrier against k. Each branch and each interpolation is a child `lm` process (its own worker,
// its own run folder), at most `parallel` at once; a branch already finished in the output folder
// is kept, one cut short is resumed, so running the command again continues it.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { writeFileAtomicSync } from "../shared/atomicFile";
import { INSTABILITY_FILE, INSTABILITY_FORMAT, type InstabilityRecord, type LmcRecord } from "../shared/lmcFormat";
import { UsageError } from "./errors";
import { RunFolder } from "./runFolder";

export { INSTABILITY_FILE, INSTABILITY_FORMAT, type InstabilityRecord };

export interface InstabilityRequest {
  runDir: string;
  at: number[];
  /** Two different seeds of the minibatch order; default [1, 2]. */
  dataSeeds: [number, number];
  /** Default: `<RUN>-instability` beside the run. */
  out?: string;
  backend?: string;
  points?: number;
  /** Children at once (branches and interpolations); default 1. */
  parallel?: number;
}

/** A branch's folder name in the output folder: `k<k>-seed<s>`. */
export function branchName(k: number, seed: number): string {
  return `k${k}-seed${seed}`;
}

export type RunLm = (args: string[]) => Promise<{ code: number | null; stdout: string }>;

/** `lm` child processes, and a way to signal every one still running (Ctrl-C, passed on). */
export type ChildLm = RunLm & { signalAll(signal: NodeJS.Signals): number };

/**
 * Runs `lm ARGS…` as child processes: their progress on our stderr, their stdout returned. Each
 * child is in its own process group (as the sweep launcher's): a Ctrl-C in the terminal reaches
 * this process alone, which passes it on once with `signalAll`, instead of each child seeing it
 * besides (a second signal ends a trainer at once, without its final checkpoint).
 */
export function childLm(cliPath: string): ChildLm {
  const running = new Set<ChildProcess>();
  const run: RunLm = (args) =>
    new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [cliPath, ...args], {
        stdio: ["ignore", "pipe", "inherit"],
        detached: true,
      });
      running.add(child);
      let stdout = "";
      child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
      child.on("error", (e) => {
        running.delete(child);
        reject(e);
      });
      child.on("close", (code) => {
        running.delete(child);
        resolvePromise({ code, stdout });
      });
    });
  return Object.assign(run, {
    signalAll(signal: NodeJS.Signals): number {
      let n = 0;
      for (const c of running)
        if (c.exitCode === null && c.signalCode === null) {
          c.kill(signal);
          n++;
        }
      return n;
    },
  });
}

/** The default parallelism, as for sweeps: one core left free for the rest of the machine. */
export function defaultInstabilityParallel(cores: number): number {
  return Math.max(1, cores - 1);
}

/** One child `lm` to run: a branch (trained or resumed) or the interpolation of a k's pair. */
type Job = { kind: "branch"; k: number; dir: string; args: string[] } | { kind: "lmc"; k: number; args: string[] };

/**
 * The analysis: for each k (in `req.at`'s order) its two branches, then `lm lmc` between them
 * once both are trained. At most `req.parallel` (default 1) children at once; an interpolation
 * goes before any branch still waiting, so with 1 the order is k₁'s branches, k₁'s lmc, k₂'s …,
 * as it always was. instability.json is rewritten after each k, its points in ascending k
 * whatever order they end in, so its values do not depend on the parallelism.
 *
 * The first failure (or `options.signal`: Ctrl-C) starts nothing more; the children running are
 * waited for (the caller passes the signal on to them), then the error is thrown. Whatever
 * finished is kept: running the command again continues.
 */
export async function runInstability(
  req: InstabilityRequest,
  lm: RunLm,
  log: (line: string) => void,
  options: { signal?: AbortSignal } = {},
): Promise<{ path: string; record: InstabilityRecord }> {
  const runDir = resolve(req.runDir);
  const parent = new RunFolder(runDir).readManifest();
  const steps = new RunFolder(runDir).checkpointSteps();
  const missing = req.at.filter((k) => !steps.includes(k));
  if (missing.length > 0)
    throw new UsageError(
      `${runDir} has no checkpoint of step ${missing.join(", ")}; its checkpoints: ${steps.join(", ")}`,
      1,
    );
  const parallel = req.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new UsageError(`--parallel must be a whole number ≥ 1, got ${parallel}`, 2);
  const out = resolve(req.out ?? join(dirname(runDir), `${basename(runDir)}-instability`));
  mkdirSync(out, { recursive: true });
  const backend = req.backend ? ["--backend", req.backend] : [];
  const record: InstabilityRecord = {
    format: INSTABILITY_FORMAT,
    formatVersion: 1,
    parent: relative(out, runDir),
    parentId: parent.id,
    dataSeeds: req.dataSeeds,
    points: [],
  };
  const branchesOf = (k: number) => req.dataSeeds.map((seed) => join(out, branchName(k, seed))) as [string, string];
  const lmcFileOf = (k: number) => join(out, `lmc-k${k}.json`);
  const lmcJob = (k: number): Job => {
    const [a, b] = branchesOf(k);
    const args = ["lmc", a, b, "--out", lmcFileOf(k), ...backend];
    if (req.points !== undefined) args.push("--points", String(req.points));
    return { kind: "lmc", k, args };
  };

  const queue: Job[] = [];
  /** Branches of each k not yet trained. */
  const waiting = new Map<number, number>();
  for (const k of req.at) {
    let left = 0;
    for (const [i, dir] of branchesOf(k).entries()) {
      const args = existsSync(join(dir, "run.json"))
        ? new RunFolder(dir).readManifest().status === "finished"
          ? undefined
          : ["resume", dir, ...backend]
        : [
            "branch",
            runDir,
            "--step",
            String(k),
            "--data-seed",
            String(req.dataSeeds[i]),
            "--run-dir",
            dir,
            ...backend,
          ];
      if (args === undefined) log(`k = ${k}: ${dir} is already trained`);
      else {
        queue.push({ kind: "branch", k, dir, args });
        left++;
      }
    }
    waiting.set(k, left);
    // Both already trained: only the interpolation is left, in k's place.
    if (left === 0) queue.push(lmcJob(k));
  }

  const finishJob = (job: Job, r: { code: number | null }): void => {
    if (job.kind === "branch") {
      // Exit code 0 is also a stopped run (Ctrl-C): only a finished branch is compared.
      const status = r.code === 0 ? new RunFolder(job.dir).readManifest().status : undefined;
      if (status !== undefined && status !== "finished")
        throw new UsageError(`${job.dir} ended ${status}; run this again to continue it`, 1);
      if (r.code !== 0)
        throw new UsageError(
          `lm ${job.args.join(" ")} ended with exit code ${r.code}; fix it, then run this again to continue`,
          1,
        );
      const left = (waiting.get(job.k) ?? 1) - 1;
      waiting.set(job.k, left);
      if (left === 0) queue.unshift(lmcJob(job.k));
      return;
    }
    if (r.code !== 0) throw new UsageError(`lm ${job.args.join(" ")} ended with exit code ${r.code}`, 1);
    const [a, b] = branchesOf(job.k);
    const lmc = JSON.parse(readFileSync(lmcFileOf(job.k), "utf8")) as LmcRecord;
    record.points.push({
      k: job.k,
      branches: [basename(a), basename(b)],
      lmc: basename(lmcFileOf(job.k)),
      barrier: lmc.barrier,
    });
    record.points.sort((x, y) => x.k - y.k);
    writeFileAtomicSync(join(out, INSTABILITY_FILE), `${JSON.stringify(record, null, 2)}\n`);
  };

  let failure: unknown;
  const stopped = () => failure !== undefined || options.signal?.aborted === true;
  await new Promise<void>((done) => {
    let running = 0;
    const next = (): void => {
      while (!stopped() && running < parallel && queue.length > 0) {
        const job = queue.shift() as Job;
        running++;
        lm(job.args)
          .then((r) => finishJob(job, r))
          .catch((e: unknown) => {
            failure ??= e;
          })
          .finally(() => {
            running--;
            next();
          });
      }
      if (running === 0 && (queue.length === 0 || stopped())) done();
    };
    next();
  });
  if (failure !== undefined) throw failure;
  if (options.signal?.aborted)
    throw new UsageError(`stopped; the branches that finished are kept in ${out}: run this again to continue`, 1);
  return { path: join(out, INSTABILITY_FILE), record };
}

/** Barrier against k, one line each, for stderr. */
export function instabilityTable(record: InstabilityRecord): string {
  const qs = (["train_loss", "train_error", "test_loss", "test_error"] as const).filter((q) =>
    record.points.some((p) => p.barrier[q] !== undefined),
  );
  const cell = (v: number | undefined) => (v === undefined ? "—" : v.toPrecision(4)).padStart(13);
  return `${[
    `instability of ${record.parentId} (data seeds ${record.dataSeeds.join(", ")}): barrier height against k`,
    `${"k".padStart(8)}${qs.map((q) => q.padStart(13)).join("")}`,
    ...record.points.map((p) => `${String(p.k).padStart(8)}${qs.map((q) => cell(p.barrier[q])).join("")}`),
  ].join("\n")}\n`;
}
