// Iterative magnitude pruning (Frankle & Carbin 2019; with rewinding, Frankle et al. 2020):
// `lm imp` (docs/lottery-tickets.md). Round 0 trains the system dense. Round r prunes a fraction
// of the weights round r − 1's ticket kept, those of least final magnitude (over all prunable
// tensors, or per tensor), rewinds the survivors to their values at step K of round 0 (K = 0: the
// initialization) and trains again: the ticket. Its controls at the same sparsity: the same mask
// from a fresh initialization ("reinit"), and a random mask of the same per-tensor sparsity from
// the same rewound weights ("random").
//
// The IMP folder is a sweep folder (src/shared/sweepFormat.ts, with its `imp` section): one
// point per run, values { weights remaining (%), kind, round }, so the sweep panel plots any
// summary against sparsity with one line per kind. Each run is a child `lm imp-task DIR INDEX`
// (its own worker and run folder, its output in logs/<run>.log); rounds run one after another
// (a round's mask comes from the previous ticket), a round's controls beside the next ticket.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Rng } from "../sdk/rng";
import { writeFileAtomicSync } from "../shared/atomicFile";
import { parseMetricsLine } from "../shared/runFormat";
import { pidAlive } from "../shared/runLock";
import {
  SWEEP_FORMAT,
  SWEEP_FORMAT_VERSION,
  SWEEP_MANIFEST,
  type SweepImp,
  type SweepManifest,
  type SweepPoint,
} from "../shared/sweepFormat";
import { UsageError } from "./errors";
import { type MaskSet, maskCounts, readMaskFile, writeMaskFile } from "./masks";
import { RunFolder } from "./runFolder";
import type { RunRequest } from "./session";
import {
  loadSweep,
  runState,
  setPointStatus,
  statusFromRun,
  sweepPoint,
  updateSweep,
  withSweepLock,
} from "./sweep/folder";
import type { TaskBackend } from "./sweep/task";

export type ImpKind = "ticket" | "reinit" | "random";

/** The fields of an IMP folder's points, in the order the sweep panel offers them (x, then lines). */
export const IMP_FIELDS = ["weights remaining (%)", "kind", "round"] as const;
export const REMAINING = IMP_FIELDS[0];
export const MASKS_DIR = "masks";
export const LOGS_DIR = "logs";

/** A point's run folder: `r2-ticket`, `r2-reinit`, `r2-random`. */
export function impRunName(round: number, kind: ImpKind): string {
  return `r${round}-${kind}`;
}

/** The mask file of round r's ticket (and reinit control), or of its random control. */
export function maskFileOf(dir: string, round: number, kind: ImpKind): string {
  return join(dir, MASKS_DIR, kind === "random" ? `random-${round}.safetensors` : `round-${round}.safetensors`);
}

/** 100 · kept / total to 4 significant digits (what the panel's x shows). */
export function percent(kept: number, total: number): number {
  return Number(((100 * kept) / total).toPrecision(4));
}

// ---------------------------------------------------------------------------------- pruning

type Tensors = ReadonlyMap<string, { shape: number[]; values: Float32Array }>;

/** The parameters pruned: those of rank ≥ 2 (weight matrices, embeddings); biases and other 1-D ones stay dense. */
export function prunableNames(params: Tensors): string[] {
  return [...params].filter(([, p]) => p.shape.length >= 2).map(([name]) => name);
}

/**
 * The next round's mask: of the weights `previous` keeps (all, without one), the fraction
 * `fraction` of least |w| is pruned, over all prunable tensors together ("global") or in each
 * ("layer"); the count pruned is rounded to the nearest weight. Ties go to the earlier tensor and
 * index, so the mask is a function of the weights alone.
 */
export function magnitudeMask(
  weights: Tensors,
  previous: MaskSet | undefined,
  fraction: number,
  scope: "global" | "layer",
): MaskSet {
  const names = prunableNames(weights);
  const next: MaskSet = new Map(
    names.map((n) => {
      const w = weights.get(n)!;
      const prev = previous?.get(n)?.values;
      return [
        n,
        { shape: [...w.shape], values: prev ? Float32Array.from(prev) : new Float32Array(w.values.length).fill(1) },
      ];
    }),
  );
  const groups = scope === "global" ? [names] : names.map((n) => [n]);
  for (const group of groups) {
    const kept: Array<{ m: Float32Array; i: number; a: number }> = [];
    for (const n of group) {
      const w = weights.get(n)!.values;
      const m = next.get(n)!.values;
      for (let i = 0; i < m.length; i++) if (m[i] === 1) kept.push({ m, i, a: Math.abs(w[i]!) });
    }
    const prune = Math.round(fraction * kept.length);
    // Array.prototype.sort is stable: equal magnitudes keep tensor-then-index order.
    kept.sort((x, y) => x.a - y.a);
    for (let k = 0; k < prune; k++) kept[k]!.m[kept[k]!.i] = 0;
  }
  return next;
}

/** A random mask with the same number of kept weights in every tensor as `like` (positions uniform, from `rng`). */
export function randomMaskLike(like: MaskSet, rng: Rng): MaskSet {
  const out: MaskSet = new Map();
  for (const [name, m] of like) {
    const n = m.values.length;
    const keep = m.values.reduce((s, v) => s + v, 0);
    const order = Array.from({ length: n }, (_, i) => i);
    // A partial Fisher–Yates shuffle: the first `keep` positions are a uniform sample.
    for (let i = 0; i < keep; i++) {
      const j = i + rng.int(n - i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const values = new Float32Array(n);
    for (let i = 0; i < keep; i++) values[order[i]!] = 1;
    out.set(name, { shape: [...m.shape], values });
  }
  return out;
}

// ---------------------------------------------------------------------------------- the folder

export interface NewImp {
  runsRoot: string;
  experiment: string;
  system: string;
  /** The system's seed: the tickets' and the random controls' (the reinit control of round r uses seed + r). */
  seed: number;
  settings: SweepImp;
  parallel: number;
  steps?: number;
}

/** The points of an IMP: round 0's dense run, then each round's ticket and its controls. */
export function impPoints(settings: SweepImp, seed: number): SweepPoint[] {
  const points: SweepPoint[] = [];
  const add = (round: number, kind: ImpKind) =>
    points.push({
      index: points.length,
      values: {
        [REMAINING]: Number((100 * (1 - settings.fraction) ** round).toPrecision(4)),
        kind,
        round,
      },
      seed: kind === "reinit" ? seed + round : seed,
      run: impRunName(round, kind),
      status: "pending",
    });
  add(0, "ticket");
  for (let r = 1; r <= settings.rounds; r++) {
    add(r, "ticket");
    for (const c of settings.controls) add(r, c);
  }
  return points;
}

/** `<runs root>/<system>-imp-<YYYYMMDD-HHMMSS>` with its sweep.json, every point pending. */
export function createImpFolder(imp: NewImp): string {
  const root = resolve(imp.runsRoot);
  mkdirSync(root, { recursive: true });
  const t = new Date().toISOString();
  const base = `${imp.system}-imp-${t.slice(0, 10).replace(/-/g, "")}-${t.slice(11, 19).replace(/:/g, "")}`;
  let dir = join(root, base);
  for (let n = 2; ; n++) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || n > 100) throw e;
      dir = join(root, `${base}-${n}`);
    }
  }
  const points = impPoints(imp.settings, imp.seed);
  const manifest: SweepManifest = {
    format: SWEEP_FORMAT,
    version: SWEEP_FORMAT_VERSION,
    experiment: imp.experiment,
    system: imp.system,
    createdAt: t,
    fields: [...IMP_FIELDS],
    mode: "list",
    seeds: [...new Set(points.map((p) => p.seed))],
    points,
    launcher: { kind: "local", parallel: imp.parallel },
    ...(imp.steps === undefined ? {} : { steps: imp.steps }),
    imp: imp.settings,
  };
  withSweepLock(dir, () => writeFileAtomicSync(join(dir, SWEEP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`));
  return dir;
}

/** The IMP folder's manifest; a sweep folder that is not one is named as such. */
export function loadImp(dir: string): SweepManifest & { imp: SweepImp } {
  const m = loadSweep(dir);
  if (m.imp === undefined)
    throw new UsageError(`${dir} is a sweep folder, not an IMP folder (lm sweep --resume ${dir} continues it)`, 1);
  return { ...m, imp: m.imp };
}

function pointOf(m: SweepManifest, round: number, kind: ImpKind): SweepPoint | undefined {
  return m.points.find((p) => p.values["round"] === round && p.values["kind"] === kind);
}

// ---------------------------------------------------------------------------------- one task

export type ImpTask =
  | { kind: "done"; runDir: string; status: "finished" | "diverged"; step: number }
  | { kind: "run"; runDir: string; request: RunRequest };

/**
 * What point `index` of the IMP folder needs (`lm imp-task`): nothing (done), a resume (it has
 * checkpoints), or its start: round 0 trains the system; a ticket or a random control branches
 * round 0 at the rewind step with its mask; a reinit control trains the system from the
 * initialization of its own seed with the ticket's mask. Marks the point running.
 */
export function prepareImpTask(dir: string, index: number, backend: TaskBackend): ImpTask {
  const impDir = resolve(dir);
  const m = loadImp(impDir);
  const point = sweepPoint(m, index, impDir);
  const runDir = join(impDir, point.run);
  const state = runState(impDir, point);
  if (state.kind === "run") {
    if (state.status === "finished" || state.status === "diverged") {
      setPointStatus(impDir, [index], state.status);
      return { kind: "done", runDir, status: state.status, step: state.step };
    }
    if (state.status === "running" && state.pid !== undefined && state.pid !== process.pid && pidAlive(state.pid))
      throw new UsageError(`IMP point ${index} is being trained by pid ${state.pid} (${runDir})`, 1);
  }
  const choice = {
    ...(backend.backend !== undefined ? { backend: backend.backend } : {}),
    ...(backend.device !== undefined ? { device: backend.device } : {}),
    ...(backend.python !== undefined ? { python: backend.python } : {}),
    ...(backend.threads !== undefined ? { threads: backend.threads } : {}),
  };
  let request: RunRequest | undefined;
  if (state.kind !== "absent") {
    if (state.kind === "run" && new RunFolder(runDir).checkpointSteps().length > 0)
      request = { kind: "resume", runDir, ...choice };
    // Nothing to resume from: start it again (a folder of this IMP, named by it).
    else rmSync(runDir, { recursive: true, force: true });
  }
  const round = Number(point.values["round"]);
  const kind = point.values["kind"] as ImpKind;
  if (request === undefined) {
    const steps = m.steps === undefined ? {} : { steps: m.steps };
    if (round === 0) request = { kind: "train", file: m.experiment, system: m.system, runDir, ...steps, ...choice };
    else {
      const mask = maskFileOf(impDir, round, kind);
      if (!existsSync(mask))
        throw new UsageError(`${mask} is not there yet: round ${round}'s mask comes from round ${round - 1}`, 1);
      request =
        kind === "reinit"
          ? {
              kind: "train",
              file: m.experiment,
              system: m.system,
              runDir,
              mask,
              // The fresh initialization is the system's at another seed (recorded, so a resume rebuilds it).
              sweepPoint: { dir: "..", index, values: {}, seed: point.seed },
              ...steps,
              ...choice,
            }
          : {
              kind: "branch",
              parentDir: join(impDir, impRunName(0, "ticket")),
              step: m.imp.rewind,
              mask,
              runDir,
              ...choice,
            };
    }
  }
  setPointStatus(impDir, [index], "running");
  return { kind: "run", runDir, request };
}

/** After a task: the point's status from its run.json ("failed" when it never started). */
export function finishImpTask(dir: string, index: number): void {
  const impDir = resolve(dir);
  const point = sweepPoint(loadSweep(impDir), index, impDir);
  const state = runState(impDir, point);
  const status =
    state.kind === "run" && state.status === "running" && state.pid === process.pid
      ? "failed"
      : (statusFromRun(state) ?? "failed");
  setPointStatus(impDir, [index], status);
}

// ---------------------------------------------------------------------------------- the rounds

/** Runs `lm imp-task DIR INDEX …` as a child: its output appended to `log`; resolves to its exit code. */
export type RunTask = (index: number, log: string) => Promise<number | null>;

export function childImpTask(
  cli: string,
  dir: string,
  backendArgs: readonly string[],
  children: Set<ReturnType<typeof spawn>>,
): RunTask {
  return (index, log) =>
    new Promise((resolvePromise, reject) => {
      const fd = openSync(log, "a");
      const child = spawn(process.execPath, [cli, "imp-task", dir, String(index), ...backendArgs], {
        stdio: ["ignore", "ignore", fd],
      });
      closeSync(fd);
      children.add(child);
      child.on("error", reject);
      child.on("close", (code) => {
        children.delete(child);
        resolvePromise(code);
      });
    });
}

/** At most `n` tasks at once, started in the order asked for. */
function pool(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (job) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** The final checkpoint's parameters of a finished run. */
function finalWeights(runDir: string): Tensors {
  const folder = new RunFolder(runDir);
  const last = folder.checkpointSteps().at(-1);
  if (last === undefined) throw new UsageError(`${runDir} has no checkpoint to prune from`, 1);
  return folder.readCheckpoint(last).params;
}

/**
 * Round r's masks, from round r − 1's ticket (written once: a second run of `lm imp --resume`
 * finds them), and the points' x set to the exact share of prunable weights kept.
 */
function writeRoundMasks(dir: string, m: SweepManifest & { imp: SweepImp }, round: number): void {
  const ticketFile = maskFileOf(dir, round, "ticket");
  if (!existsSync(ticketFile)) {
    const previous = round === 1 ? undefined : readMaskFile(maskFileOf(dir, round - 1, "ticket"));
    const weights = finalWeights(join(dir, impRunName(round - 1, "ticket")));
    mkdirSync(join(dir, MASKS_DIR), { recursive: true });
    const mask = magnitudeMask(weights, previous, m.imp.fraction, m.imp.scope);
    writeMaskFile(ticketFile, mask, { round: String(round), scope: m.imp.scope });
  }
  const mask = readMaskFile(ticketFile);
  const randomFile = maskFileOf(dir, round, "random");
  if (m.imp.controls.includes("random") && !existsSync(randomFile))
    writeMaskFile(randomFile, randomMaskLike(mask, new Rng(pointOf(m, 0, "ticket")?.seed ?? 0, "imp-random", round)), {
      round: String(round),
    });
  const { kept, total } = maskCounts(mask);
  updateSweep(dir, (s) => {
    for (const p of s.points) if (p.values["round"] === round) p.values[REMAINING] = percent(kept, total);
  });
}

export interface ImpRunOptions {
  parallel: number;
  runTask: RunTask;
  log: (line: string) => void;
  /** True once a stop was asked for: no task starts after it. */
  stopping: () => boolean;
}

/** The outcome of `runImp`: every point done, or why not (a ticket failed, a stop, failed controls). */
export type ImpOutcome =
  | { kind: "done"; failed: string[] }
  | { kind: "stopped" }
  | { kind: "ticketFailed"; run: string };

/** Runs the rounds of the IMP folder `dir` (a point already finished is kept; one cut short resumes). */
export async function runImp(dir: string, opts: ImpRunOptions): Promise<ImpOutcome> {
  const m = loadImp(dir);
  const slot = pool(opts.parallel);
  const failed: string[] = [];
  const controls: Promise<void>[] = [];
  const logs = join(dir, LOGS_DIR);
  mkdirSync(logs, { recursive: true });
  /** One point to the end; whether it finished. */
  const run = (p: SweepPoint): Promise<boolean> =>
    slot(async () => {
      const before = runState(dir, p);
      if (before.kind === "run" && before.status === "finished") return true;
      if (opts.stopping()) return false;
      opts.log(`${p.run}: training (${REMAINING} ${p.values[REMAINING]})`);
      const code = await opts.runTask(p.index, join(logs, `${p.run}.log`));
      const after = runState(dir, p);
      const ok = code === 0 && after.kind === "run" && after.status === "finished";
      opts.log(
        `${p.run}: ${after.kind === "run" ? after.status : "failed"}${ok ? finalAccText(join(dir, p.run)) : `; see ${join(logs, `${p.run}.log`)}`}`,
      );
      return ok;
    });
  for (let round = 0; round <= m.imp.rounds; round++) {
    if (round > 0) writeRoundMasks(dir, m, round);
    const current = loadImp(dir);
    // The ticket first: with one slot free, it goes before its round's controls (the next round waits on it).
    const ticket = pointOf(current, round, "ticket")!;
    const ticketDone = run(ticket);
    for (const kind of m.imp.controls) {
      const c = round > 0 ? pointOf(current, round, kind) : undefined;
      if (c)
        controls.push(
          run(c).then((ok) => {
            if (!ok) failed.push(c.run);
          }),
        );
    }
    const ok = await ticketDone;
    if (!ok) {
      await Promise.all(controls);
      return opts.stopping() ? { kind: "stopped" } : { kind: "ticketFailed", run: ticket.run };
    }
  }
  await Promise.all(controls);
  return opts.stopping() ? { kind: "stopped" } : { kind: "done", failed };
}

/** " · test_acc 0.953 (best 0.961)" from a run's metrics, or "". */
function finalAccText(runDir: string): string {
  const acc = testAccuracy(runDir);
  return acc ? ` · test_acc ${acc.final.toFixed(3)} (best ${acc.best.toFixed(3)})` : "";
}

/** A run's final and best test accuracy (undefined for a run that logs none). */
export function testAccuracy(runDir: string): { final: number; best: number } | undefined {
  let text: string;
  try {
    text = readFileSync(join(runDir, "metrics.jsonl"), "utf8");
  } catch {
    return undefined;
  }
  let final: number | undefined;
  let best = Number.NEGATIVE_INFINITY;
  for (const line of text.split("\n")) {
    const v = parseMetricsLine(line)?.["test_acc"];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    final = v;
    best = Math.max(best, v);
  }
  return final === undefined ? undefined : { final, best };
}

/** The table `lm imp` prints at the end: per round, the share kept and each kind's final test accuracy. */
export function impTable(dir: string): string {
  const m = loadImp(dir);
  const kinds: ImpKind[] = ["ticket", ...m.imp.controls];
  const rows = [`${"round".padStart(5)}${"remaining %".padStart(13)}${kinds.map((k) => k.padStart(10)).join("")}`];
  for (let r = 0; r <= m.imp.rounds; r++) {
    const t = pointOf(m, r, "ticket");
    const cell = (k: ImpKind) => {
      const p = pointOf(m, r, k);
      const a = p ? testAccuracy(join(dir, p.run)) : undefined;
      return (a ? a.final.toFixed(3) : "—").padStart(10);
    };
    rows.push(`${String(r).padStart(5)}${String(t?.values[REMAINING] ?? "").padStart(13)}${kinds.map(cell).join("")}`);
  }
  return `final test accuracy by round (${m.imp.scope} pruning of ${m.imp.fraction} per round, rewind to step ${m.imp.rewind}):\n${rows.join("\n")}\n`;
}
