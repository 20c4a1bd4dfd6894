// The training loop: a validated model system in, a run folder out. Used by the sidecar and the
// CLI alike; they differ only in the `emit` they pass (protocol lines or a progress bar).
//
// Step semantics: "step s" means the parameters after s optimizer updates. Metrics and checkpoints
// at step s describe those parameters; step 0 is the initialization and is always recorded.
//
// `train` opens a `Training` (validate, allocate after a memory check, create or reopen the run
// folder under its lock), then runs it: step 0, the steps, and the end (finished, stopped,
// diverged or failed), each a method below. On the torch backend the steps run in the PyTorch
// worker (torch/relay.ts) and this class writes what it hands back: the same records and files.
import * as tf from "@tensorflow/tfjs-core";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { SystemSpec } from "../sdk/spec";
import { describeSystem, resolvedConfig } from "../sdk/validate";
import type { BackendInfo, MetricsRecord, RunManifest, RunStatus, RunSweepPoint } from "../shared/runFormat";
import { RUN_FORMAT_VERSION } from "../shared/runFormat";
import type { RunLock } from "../shared/runLock";
import type { InterventionChange } from "../shared/interventionFormat";
import { BatchSchedule } from "./batches";
import { checkIntervention, type ExampleWeights, exampleWeights } from "./intervention";
import { dataRecord } from "./dataRecord";
import { type Emit, SystemError, UsageError } from "./errors";
import type { LoadedExperiment } from "./loadExperiment";
import { AppliedMasks, checkMasks, maskPath, runMasks, writeMaskFile } from "./masks";
import { checkMemory } from "./memoryBudget";
import { Optimizer } from "./optimizers";
import { type CheckpointData, RunFolder, restoreParams } from "./runFolder";
import { SafetensorsError } from "../shared/safetensors";
import { lossOf, type SplitTensors, SystemInstance } from "./system";
import type { SequenceBatch } from "./tasks/index";
import { chooseSystem, systemConfigError, validatedSpec } from "./systems";
import type { ParamValues } from "./torch/exchange";
import { runOnWorker, type WorkerRunEnd } from "./torch/relay";
import type { TorchTarget } from "./trainingBackend";
import { VERSION } from "./version";

export interface TrainRequest {
  experiment: LoadedExperiment;
  system: string;
  /** The run folder to create (train) or continue (resume). */
  runDir: string;
  backend: BackendInfo;
  emit: Emit;
  /** Polled after every step; true asks for a graceful stop. */
  shouldStop: () => boolean;
  /** Continue the run in `runDir` from its last checkpoint. */
  resume?: boolean;
  /** Overrides the system's `steps` (a new run only; a resumed run keeps its recorded total). */
  steps?: number;
  /** Train in the PyTorch worker (the torch backend); tfjs then only builds the data and the step-0 parameters. */
  torch?: TorchTarget;
  /** A new run that is one point of a sweep: its values and seed, recorded as run.json's `sweep`. */
  sweepPoint?: RunSweepPoint;
  /** Start this new run from a checkpoint of another run (`lm branch`); `steps` then defaults to the parent's total. */
  branch?: BranchStart;
  /** A mask file for a new run or a branch (masks.ts); a branch of a masked run keeps its parent's otherwise. */
  mask?: string;
}

/** A branch's start (docs/branching.md): the parent run, its checkpoint, and the branch's minibatch-order seed. */
export interface BranchStart {
  parentDir: string;
  parent: RunManifest;
  step: number;
  /** The minibatch order's seed; undefined keeps the parent's (its `seed`, or its own branch's data seed). */
  dataSeed?: number;
  /** Branch even though the experiment file changed since the parent ran (its sha256 differs). */
  allowChanged?: boolean;
  /** An intervention on the data (`lm intervene`, docs/interventions.md): per-example loss weights. */
  intervention?: InterventionChange;
}

export interface TrainOutcome {
  status: Exclude<RunStatus, "running">;
  step: number;
  message?: string;
}

/**
 * A failure once the run folder exists: carries the step the training reached, so the report
 * says where it stopped (the run.json `step` stays at the last complete checkpoint).
 */
export class TrainingFailure extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly original: unknown,
  ) {
    super(message, { cause: original });
  }
}

/** Rows per evaluation chunk: bounds the memory of a full-split evaluation. */
const EVAL_CHUNK = 8192;
/** How often the synchronous loop yields, so a stop request and signals get through (ms). */
const YIELD_MS = 50;
const PROGRESS_MS = 200;

export async function train(req: TrainRequest): Promise<TrainOutcome> {
  const training = await Training.open(req);
  try {
    return await training.run();
  } finally {
    training.dispose();
  }
}

const now = (): string => new Date().toISOString();

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

class Training {
  private readonly emit: Emit;
  private readonly folder: RunFolder;
  private readonly batches: BatchSchedule | undefined;
  /** Update t's examples when the task draws fresh ones every step (inContextRegression): from (data seed, t). */
  private readonly fresh: ((t: number) => SequenceBatch) | undefined;
  private readonly vars: tf.Variable[];
  private readonly nameOf: Map<string, string>;
  /** The loss weights of an intervention branch's minibatch rows (docs/interventions.md); undefined: all 1. */
  private readonly weights: ExampleWeights | undefined;
  /** Step-0 parameters, for the relative change recorded in every checkpoint's stats. */
  private initialValues: Map<string, Float32Array> | undefined;
  private manifest!: RunManifest;
  private lastCheckpoint: number | undefined;
  private step: number;
  private t0 = Date.now();
  private rate = { step: 0, time: Date.now(), value: 0, lastReport: 0 };

  private constructor(
    private readonly req: TrainRequest,
    private readonly spec: SystemSpec,
    private readonly system: SystemInstance,
    private readonly optimizer: Optimizer,
    private readonly lock: RunLock,
    /** The checkpoint a resume continues from; undefined for a run that starts at its initialization. */
    private readonly startStep: number | undefined,
    private readonly timeOffset: number,
    /** The step-0 parameters of a resumed torch run (a centred model's worker recomputes f(w₀, x) from them). */
    private readonly initParams: ParamValues[] | undefined,
    /** The minibatch order's seed: the system's `seed`, unless this run is a branch given another. */
    private readonly dataSeed: number,
    /** An intervention branch's change (docs/interventions.md); undefined: the parent's data as it was. */
    private readonly intervention: InterventionChange | undefined,
    /** The run's weight masks (a lottery ticket), applied around every update; undefined: dense. */
    private readonly masks: AppliedMasks | undefined,
  ) {
    this.weights = intervention ? exampleWeights(intervention) : undefined;
    this.emit = req.emit;
    this.folder = new RunFolder(req.runDir);
    const trainN = system.train.n;
    const { freshTrain } = system;
    const size = spec.batchSize;
    // Validation requires a numeric batchSize for fresh sequences.
    this.fresh = freshTrain && size !== "full" ? (t) => freshTrain(dataSeed, t, size) : undefined;
    this.batches =
      this.fresh || spec.batchSize === "full" || spec.batchSize >= trainN
        ? undefined
        : new BatchSchedule(trainN, spec.batchSize, dataSeed);
    this.vars = system.model.params.map((p) => p.variable);
    this.nameOf = new Map(system.model.params.map((p) => [p.variable.name, p.name]));
    this.step = startStep ?? 0;
    this.lastCheckpoint = startStep;
  }

  // ------------------------------------------------------------------ setup

  /** Validates, allocates (after the memory check) and takes the run folder: a new one, or the one to resume. */
  static async open(req: TrainRequest): Promise<Training> {
    const folder = new RunFolder(req.runDir);
    // A resume takes the lock before reading anything; a new run only once its config is known to train.
    let lock = req.resume ? folder.lock("resume") : undefined;
    try {
      const resumed = req.resume ? folder.readManifest() : undefined;
      const branch = req.branch;
      if (branch) checkBranchParent(branch, req.experiment);
      if (resumed?.branchOf && folder.checkpointSteps().length === 0)
        throw new UsageError(
          `${req.runDir} is a branch with no checkpoint (it was stopped before its first was written): branch ${resumed.branchOf.run} again instead`,
          1,
        );
      if (resumed && resumed.experiment?.sha256 !== req.experiment.sha256) {
        throw new UsageError(
          `${req.experiment.file} changed since this run started (${resumed.experiment?.sha256.slice(0, 19) ?? "no file recorded"}…); a resumed run would mix two experiments. Start a new run instead.`,
          1,
        );
      }
      // A resumed run keeps the step count it was started with (recorded in run.json).
      const found = chooseSystem(req.experiment, req.system);
      // A point of a sweep is rebuilt with its values on a resume too (run.json's `sweep`), and so is
      // a branch of one.
      const spec = validatedSpec(found, {
        steps: resumed ? resumed.totalSteps : (req.steps ?? branch?.parent.totalSteps),
        trainedGelu: resumed ?? branch?.parent,
        point: resumed ? resumed.sweep : (req.sweepPoint ?? branch?.parent.sweep),
      });
      if (branch && spec.steps <= branch.step)
        throw new UsageError(
          `the branch would train no step: it starts at step ${branch.step} and ends at step ${spec.steps}; give --steps N with N > ${branch.step}`,
        );
      // A branch's data seed is recorded in its run.json, so a resume of the branch keeps its minibatch order.
      const dataSeed =
        resumed?.branchOf?.change.dataSeed ?? branch?.dataSeed ?? branch?.parent.branchOf?.change.dataSeed ?? spec.seed;
      // An intervention is in run.json too (a resume keeps it), and a branch of an intervention branch inherits it.
      const intervention = resumed ? interventionOf(resumed) : branch ? branchIntervention(branch) : undefined;
      // Read before anything is written.
      const maskSet = runMasks(req, resumed !== undefined);
      let system: SystemInstance;
      try {
        system = new SystemInstance(spec, dirname(req.experiment.file), (io, data) =>
          checkMemory({ name: found.name, location: found.system.definedAt }, spec, io, data),
        );
      } catch (e) {
        throw e instanceof SystemError ? systemConfigError(found, e) : e;
      }
      try {
        if (maskSet) checkMasks(maskSet.masks, system.model.params, maskSet.path);
        // Checked before the folder is created: a refused intervention leaves nothing behind.
        if (branch && intervention) {
          // Fresh sequences every step (inContextRegression without trainSequences): the training
          // split is only the sample the train loss is logged on, so no update sees its rows.
          if (system.freshTrain)
            throw new UsageError(
              `system "${req.system}" draws fresh training sequences every step, so it has no training examples to remove, upweight or move; give its task trainSequences (a fixed training set) to intervene`,
            );
          checkIntervention(intervention, branch.step, spec.steps, system.train.n);
        }
        const optimizer = new Optimizer(spec.optimizer, system.model.params, spec.steps);
        lock ??= folder.create("train");
        for (const path of folder.removeStaleTempFiles())
          req.emit({ type: "log", level: "info", message: `removed ${path}, left by a write that was cut short` });
        // Before the restore overwrites them, the variables hold the step-0 parameters (the seed's).
        const initParams = req.torch && (resumed || branch) ? paramValues(system) : undefined;
        const { startStep, timeOffset } = resumed
          ? restoreLastCheckpoint(folder, system, optimizer, (message) =>
              req.emit({ type: "log", level: "warn", message }),
            )
          : branch
            ? {
                startStep: restoreCheckpoint(new RunFolder(branch.parentDir), branch.step, system, optimizer),
                timeOffset: 0,
              }
            : { startStep: undefined, timeOffset: 0 };
        const masks = maskSet && new AppliedMasks(maskSet.masks, system.model.params);
        if (maskSet && !resumed) writeMaskFile(maskPath(req.runDir), maskSet.masks);
        masks?.maskParams();
        masks?.maskSlots(optimizer.snapshot());
        const training = new Training(
          req,
          spec,
          system,
          optimizer,
          lock,
          startStep,
          timeOffset,
          initParams,
          dataSeed,
          intervention,
          masks,
        );
        training.begin(resumed);
        return training;
      } catch (e) {
        system.dispose();
        throw e;
      }
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  /** Writes run.json (new, or continued) and announces the start. */
  private begin(resumed: RunManifest | undefined): void {
    const { req, spec } = this;
    if (resumed) {
      const from = this.startStep ?? 0;
      const { endedAt: _e, error: _r, divergedAtStep: _d, ...kept } = resumed;
      this.manifest = {
        ...kept,
        status: "running",
        pid: process.pid,
        step: from,
        updatedAt: now(),
        resumedFrom: [...(resumed.resumedFrom ?? []), from],
        backend: req.backend,
      };
      if (this.startStep !== undefined) this.initialValues = initialValuesOf(this.folder, resumed);
    } else {
      this.manifest = {
        format: "learning-mechanics/run",
        formatVersion: RUN_FORMAT_VERSION,
        id: req.runDir.replace(/^.*[\\/]/, ""),
        system: req.system,
        experiment: { path: req.experiment.file, sha256: req.experiment.sha256 },
        config: { ...resolvedConfig(spec), summary: describeSystem(spec) },
        seed: spec.seed,
        backend: req.backend,
        status: "running",
        pid: process.pid,
        startedAt: now(),
        updatedAt: now(),
        totalSteps: spec.steps,
        step: this.startStep ?? 0,
        producer: `learning-mechanics ${VERSION}`,
        gelu: "erf",
        ...(req.sweepPoint ? { sweep: req.sweepPoint } : {}),
        ...(req.branch ? { branchOf: branchOf(req.runDir, req.branch) } : {}),
      };
      // The relative change in a branch's checkpoint stats is from the parent's initialization.
      if (req.branch) this.initialValues = initialValuesOf(this.folder, this.manifest);
    }
    this.folder.writeManifest(this.manifest);
    // A run from before data.json existed gets one at its resume: the task's data is deterministic.
    if (!resumed || !this.folder.hasData()) this.folder.writeData(dataRecord(spec.task, this.system.data));
    this.t0 = Date.now();
    this.emit({
      type: "started",
      runDir: req.runDir,
      runId: this.manifest.id,
      system: req.system,
      backend: req.backend,
      totalSteps: spec.steps,
      fromStep: this.step,
    });
  }

  // ------------------------------------------------------------------ the run

  async run(): Promise<TrainOutcome> {
    try {
      if (this.req.branch) {
        const atStart = await this.recordBranchStart(this.req.branch.step);
        if (atStart) return atStart;
      }
      if (this.req.torch) return await this.runOnTorch(this.req.torch);
      if (this.startStep === undefined) {
        const atInit = await this.recordInitialization();
        if (atInit) return atInit;
      }
      let lastYield = Date.now();
      while (this.step < this.spec.steps) {
        // Let stdin (a stop request) and signals through; the loop is otherwise synchronous.
        if (Date.now() - lastYield > YIELD_MS) {
          await new Promise<void>((r) => setImmediate(r));
          lastYield = Date.now();
        }
        const ended = await this.advance();
        if (ended) return ended;
      }
      return this.finish("finished", this.step);
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** Step 0: metrics and checkpoint of the initialization. */
  private async recordInitialization(): Promise<TrainOutcome | undefined> {
    const { finite, rec } = this.record(0);
    this.writeMetrics(rec);
    if (!finite) return this.diverged(0, "the loss at initialization is not finite");
    await this.checkpoint(0);
    return undefined;
  }

  /**
   * A branch's first records: the metrics of step K recomputed from the restored weights (on this
   * run's backend, so they equal the parent's on the same backend) and its own copy of checkpoint K.
   */
  private async recordBranchStart(step: number): Promise<TrainOutcome | undefined> {
    const { finite, rec } = this.record(step);
    this.writeMetrics(rec);
    if (!finite) return this.diverged(step, "the parent's checkpoint is not finite");
    await this.checkpoint(step);
    return undefined;
  }

  /** One optimizer step, then whatever is due at the new step; an outcome when the run ends there. */
  private async advance(): Promise<TrainOutcome | undefined> {
    const loss = this.optimizerStep(this.step + 1);
    if (!Number.isFinite(loss)) return this.diverged(this.step, `the training loss became ${loss}`);
    this.step += 1;
    const step = this.step;
    const due = (every: number) => step % every === 0 || step === this.spec.steps;
    const stopping = this.req.shouldStop();
    if (due(this.spec.evalEvery) || due(this.spec.checkpointEvery) || stopping) {
      const { finite, rec } = this.record(step);
      this.writeMetrics(rec);
      if (!finite) return this.diverged(step, "the loss or the weights became non-finite");
    }
    if (due(this.spec.checkpointEvery) || stopping) {
      await this.checkpoint(step);
      this.manifest = { ...this.manifest, step, updatedAt: now() };
      this.folder.writeManifest(this.manifest);
    }
    this.reportProgress(loss);
    return stopping ? this.finish("stopped", step) : undefined;
  }

  /** The update to step `t` (on its minibatch); returns the loss before it. A non-finite loss leaves the parameters as they were. */
  private optimizerStep(t: number): number {
    const { system, optimizer } = this;
    const { train, classes, lossScale } = system;
    const idx = this.batches?.indices(t);
    const weights = this.weights?.(t, idx, train.n);
    const fresh = this.fresh?.(t);
    return tf.tidy(() => {
      const rows = (x: tf.Tensor) => (idx ? tf.gather(x, idx) : x);
      const bx = fresh ? tf.tensor2d(fresh.x, [fresh.n, fresh.x.length / fresh.n]) : rows(train.x);
      const by = fresh ? tf.tensor2d(fresh.y, [fresh.n, fresh.y.length / fresh.n]) : rows(train.y);
      const bf0 = train.f0 ? rows(train.f0) : undefined;
      const w = weights ? tf.tensor1d(weights) : undefined;
      const objective = (out: tf.Tensor) => (w ? weightedLossOf(out, by, classes, w) : lossOf(out, by, classes));
      const { value, grads } = tf.variableGrads(
        () => tf.mul(objective(system.output(bx, bf0)), lossScale) as tf.Scalar,
        this.vars,
      );
      const loss = value.dataSync()[0]! / lossScale;
      if (Number.isFinite(loss)) {
        const named = new Map<string, tf.Tensor>();
        for (const [varName, g] of Object.entries(grads)) named.set(this.nameOf.get(varName) ?? varName, g);
        optimizer.apply(this.masks ? this.masks.maskGrads(named) : named);
        this.masks?.maskParams();
      }
      return loss;
    });
  }

  /** The steps in the PyTorch worker: its metrics, checkpoints and end written here as the tfjs loop writes its own. */
  private async runOnTorch(target: TorchTarget): Promise<TrainOutcome> {
    const { system, spec, optimizer } = this;
    const resumedAt = this.startStep;
    const snapshot = optimizer.snapshot();
    const centred = spec.model.kind === "mlp" && spec.model.centered;
    const end: WorkerRunEnd = await runOnWorker(
      {
        python: target.python,
        device: target.device,
        threads: target.threads,
        systemName: this.req.system,
        // The worker uses `seed` for the minibatch order alone (the parameters are handed to it).
        spec: { ...spec, seed: this.dataSeed },
        data: system.data,
        params: paramValues(system),
        init: resumedAt !== undefined && centred ? this.initParams : undefined,
        optimizer:
          resumedAt !== undefined
            ? new Map(
                snapshot.slots.map((s) => [
                  s.name,
                  { shape: [...s.tensor.shape], values: Float32Array.from(s.tensor.dataSync() as Float32Array) },
                ]),
              )
            : undefined,
        masks: this.masks?.masks,
        intervention: this.intervention,
        fromStep: resumedAt ?? 0,
        optimizerT: resumedAt !== undefined ? snapshot.t : 0,
      },
      {
        ready: (device, name, threads) => {
          // The clock starts when the worker can train: starting Python and importing torch is not training time.
          this.t0 = Date.now();
          this.emit({
            type: "log",
            level: "info",
            message: `PyTorch worker ready on ${device} (${name}, ${threads} thread${threads === 1 ? "" : "s"})`,
          });
        },
        metrics: (step, values) => {
          this.step = step;
          this.writeMetrics({ step, time: round6(this.timeOffset + (Date.now() - this.t0) / 1000), ...values });
        },
        checkpoint: (step, data) => this.checkpointFromWorker(step, data),
        progress: (step, loss, stepsPerSecond) => {
          this.step = step;
          this.emit({ type: "progress", step, totalSteps: spec.steps, loss, stepsPerSecond });
        },
        log: (level, message) => this.emit({ type: "log", level, message }),
      },
      this.req.shouldStop,
    );
    this.step = end.step;
    if (end.status === "diverged") return this.diverged(end.step, end.reason);
    return this.finish(end.status, end.step);
  }

  /** Writes a checkpoint the worker handed back: the tfjs names and order, the optimizer slots as the tfjs optimizer lays them out. */
  private async checkpointFromWorker(step: number, data: CheckpointData): Promise<void> {
    const where = `the PyTorch worker's checkpoint of step ${step}`;
    const params = this.system.model.params.map((p) => {
      const v = data.params.get(p.name);
      if (!v) throw new Error(`${where} lacks parameter "${p.name}"`);
      return { name: p.name, shape: v.shape, values: v.values };
    });
    const slots = this.optimizer.snapshot().slots.map((s) => {
      const v = data.optimizer.get(s.name);
      if (!v) throw new Error(`${where} lacks optimizer state "${s.name}"`);
      return { name: s.name, shape: v.shape, values: v.values };
    });
    const written = await this.folder.writeCheckpointValues(
      step,
      params,
      { t: data.optimizerT ?? step, slots },
      this.initialValues,
    );
    if (step === 0) this.initialValues = written.values;
    this.lastCheckpoint = step;
    this.step = step;
    this.emit({ type: "checkpoint", step, path: written.path, bytes: written.bytes });
    if (step > 0) {
      this.manifest = { ...this.manifest, step, updatedAt: now() };
      this.folder.writeManifest(this.manifest);
    }
  }

  // ------------------------------------------------------------------ measuring and writing

  /** Full evaluation in chunks (bounded memory): loss and accuracy on a split. */
  private evaluate(s: SplitTensors): { loss: number; acc: number } {
    return evaluateSplit(this.system, s);
  }

  private paramNorm(): number {
    return Math.sqrt(
      tf.tidy(() => tf.addN(this.system.model.params.map((p) => tf.sum(tf.square(p.variable)))).dataSync()[0]!),
    );
  }

  /** The metrics record of `step`, and whether the loss and the weights are finite. */
  private record(step: number): { finite: boolean; rec: MetricsRecord } {
    const { system } = this;
    const rec: MetricsRecord = { step, time: round6(this.timeOffset + (Date.now() - this.t0) / 1000) };
    const tr = this.evaluate(system.train);
    rec["train_loss"] = tr.loss;
    if (system.classes) rec["train_acc"] = tr.acc;
    if (system.test.n > 0) {
      const te = this.evaluate(system.test);
      rec["test_loss"] = te.loss;
      if (system.classes) rec["test_acc"] = te.acc;
    }
    rec["lr"] = this.optimizer.nextLr();
    const norm = this.paramNorm();
    rec["param_norm"] = norm;
    return { finite: Number.isFinite(tr.loss) && Number.isFinite(norm), rec };
  }

  private writeMetrics(rec: MetricsRecord): void {
    this.folder.appendMetrics(rec);
    const { step, time: _time, ...values } = rec;
    this.emit({ type: "metrics", step, values });
  }

  private async checkpoint(step: number): Promise<void> {
    const { path, bytes, values } = await this.folder.writeCheckpoint(
      step,
      this.system.model.params,
      this.optimizer.snapshot(),
      this.initialValues,
    );
    if (step === 0) this.initialValues = values;
    this.lastCheckpoint = step;
    this.emit({ type: "checkpoint", step, path, bytes });
  }

  private reportProgress(loss: number): void {
    const { step } = this;
    const nowMs = Date.now();
    if (nowMs - this.rate.time >= 1000) {
      this.rate = {
        ...this.rate,
        value: ((step - this.rate.step) * 1000) / (nowMs - this.rate.time),
        step,
        time: nowMs,
      };
    }
    if (nowMs - this.rate.lastReport < PROGRESS_MS && step !== this.spec.steps) return;
    this.rate.lastReport = nowMs;
    const average = (step - (this.startStep ?? 0)) / Math.max(1e-3, (nowMs - this.t0) / 1000);
    this.emit({
      type: "progress",
      step,
      totalSteps: this.spec.steps,
      loss,
      stepsPerSecond: this.rate.value || average,
    });
  }

  // ------------------------------------------------------------------ the end

  private finish(status: TrainOutcome["status"], step: number, extra: Partial<RunManifest> = {}): TrainOutcome {
    this.manifest = { ...this.manifest, ...extra, status, step, updatedAt: now(), endedAt: now() };
    this.folder.writeManifest(this.manifest);
    const message = extra.error?.message;
    return message ? { status, step, message } : { status, step };
  }

  private diverged(step: number, what: string): TrainOutcome {
    const message = `training diverged: ${what} at step ${step}; the last finite checkpoint is step ${this.lastCheckpoint ?? "none"}. Try a smaller learning rate or initialization scale.`;
    this.emit({ type: "log", level: "error", message });
    return this.finish("diverged", step, { divergedAtStep: step, error: { message } });
  }

  /** Records the failure in run.json when it can, and returns what to throw: the step reached and the intact checkpoints travel with it. */
  private fail(e: unknown): TrainingFailure {
    const text = e instanceof Error ? e.message : String(e);
    const diskFull = e instanceof Error && "code" in e && e.code === "ENOSPC";
    const message = diskFull
      ? `disk full: ${text}. Training reached step ${this.step}. ${intactCheckpoints(this.folder)}; free space, then resume the run.`
      : text;
    try {
      // run.json keeps pointing at the last complete checkpoint: that is where a resume starts.
      this.finish("failed", this.manifest.step, { error: { message } });
    } catch {
      // the manifest itself cannot be written (disk full): the last good one stays on disk
    }
    // A model that breaks its contract mid-run is still a config problem at its modelSystem(...) call.
    const cause =
      e instanceof SystemError ? systemConfigError(chooseSystem(this.req.experiment, this.req.system), e) : e;
    return new TrainingFailure(message, this.step, cause);
  }

  dispose(): void {
    this.masks?.dispose();
    this.optimizer.dispose();
    this.system.dispose();
    this.lock.release();
  }
}

/**
 * Full evaluation in chunks (bounded memory): loss and accuracy on a split, with the model's
 * current parameters. The trainer's metrics and `lm lmc` use this one function, so they agree.
 */
export function evaluateSplit(system: SystemInstance, s: SplitTensors): { loss: number; acc: number } {
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < s.n; i += EVAL_CHUNK) {
    const size = Math.min(EVAL_CHUNK, s.n - i);
    const [l, c] = tf.tidy(() => {
      const rows = <T extends tf.Tensor>(t: T): T => (s.n <= EVAL_CHUNK ? t : (tf.slice(t, i, size) as T));
      const out = system.output(rows(s.x), s.f0 ? rows(s.f0) : undefined);
      const y = rows(s.y);
      const loss = tf.mul(lossOf(out, y, system.classes), size);
      const hits = system.classes
        ? tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), tf.argMax(y, -1)), "float32"))
        : tf.scalar(0);
      return [loss.dataSync()[0]!, hits.dataSync()[0]!];
    });
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / s.n, acc: correct / s.n };
}

/** The model's parameters as values (a copy), in creation order. */
function paramValues(system: SystemInstance): ParamValues[] {
  return system.model.params.map((p) => ({
    name: p.name,
    shape: [...p.variable.shape],
    values: Float32Array.from(p.variable.dataSync() as Float32Array),
  }));
}

/** "Checkpoints up to step N are intact (k files: steps …)", read from the folder. */
function intactCheckpoints(folder: RunFolder): string {
  const steps = folder.checkpointSteps();
  if (steps.length === 0) return "No checkpoint was written";
  const list =
    steps.length <= 6 ? steps.join(", ") : `${steps.slice(0, 3).join(", ")}, …, ${steps.slice(-2).join(", ")}`;
  return `Checkpoints up to step ${steps.at(-1)} are intact (${steps.length} file${steps.length === 1 ? "" : "s"}: steps ${list})`;
}

/** The refusals of `lm branch` before anything is written: the checkpoint exists, the experiment file is the parent's. */
function checkBranchParent(branch: BranchStart, experiment: LoadedExperiment): void {
  const steps = new RunFolder(branch.parentDir).checkpointSteps();
  if (!steps.includes(branch.step)) {
    const list =
      steps.length === 0
        ? "none"
        : steps.length <= 12
          ? steps.join(", ")
          : `${steps.slice(0, 6).join(", ")}, …, ${steps.slice(-4).join(", ")}`;
    throw new UsageError(`${branch.parentDir} has no checkpoint of step ${branch.step}; its checkpoints: ${list}`, 1);
  }
  if (!branch.allowChanged && branch.parent.experiment?.sha256 !== experiment.sha256)
    throw new UsageError(
      `${experiment.file} changed since ${branch.parentDir} was trained (${branch.parent.experiment?.sha256.slice(0, 19) ?? "no file recorded"}…); a branch would not continue the same experiment. Pass --allow-changed to branch anyway.`,
      1,
    );
}

/** run.json `branchOf`: the parent's folder relative to the branch's when they share a tree. */
function branchOf(runDir: string, branch: BranchStart): NonNullable<RunManifest["branchOf"]> {
  const rel = relative(runDir, branch.parentDir);
  const dataSeed = branch.dataSeed ?? branch.parent.branchOf?.change.dataSeed;
  const intervention = branchIntervention(branch);
  return {
    run: rel !== "" && !isAbsolute(rel) ? rel : branch.parentDir,
    runId: branch.parent.id,
    step: branch.step,
    // Recorded whenever the order is not the run's `seed` (inherited from a parent branch too): a resume reads it here.
    change: intervention
      ? { ...intervention, ...(dataSeed !== undefined ? { dataSeed } : {}) }
      : dataSeed !== undefined
        ? { dataSeed }
        : {},
  };
}

/**
 * The step-0 parameters for the relative change in checkpoint stats: this run's checkpoint 0, or
 * for a branch its parent's (followed up the chain of branches); undefined when none is there.
 */
function initialValuesOf(folder: RunFolder, manifest: RunManifest): Map<string, Float32Array> | undefined {
  let at = folder;
  let m: RunManifest | undefined = manifest;
  for (let depth = 0; depth < 32; depth++) {
    if (at.checkpointSteps()[0] === 0) return new Map([...at.readCheckpoint(0).params].map(([k, v]) => [k, v.values]));
    const parent: RunManifest["branchOf"] = m?.branchOf;
    if (!parent) return undefined;
    at = new RunFolder(resolve(at.dir, parent.run));
    try {
      m = at.readManifest();
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Loads checkpoint `step` of `folder` into the model and the optimizer; returns the step. */
function restoreCheckpoint(folder: RunFolder, step: number, system: SystemInstance, optimizer: Optimizer): number {
  const ckpt = folder.readCheckpoint(step);
  restoreParams(system.model.params, ckpt.params, folder.checkpointPath(step));
  optimizer.restore(ckpt.optimizerT ?? step, ckpt.optimizer);
  return step;
}

/**
 * Loads the last readable checkpoint into the model and the optimizer and drops the metrics
 * recorded after it. A checkpoint that cannot be read (truncated or corrupt: a copy cut short, a
 * failing disk; our own writes are atomic) is passed over with a warning naming it: training
 * resumes from the one before and writes that step again. A run with no checkpoint at all (killed
 * while writing step 0) restarts from its initialization, which the seed determines: `startStep`
 * is then undefined.
 */
function restoreLastCheckpoint(
  folder: RunFolder,
  system: SystemInstance,
  optimizer: Optimizer,
  warn: (message: string) => void,
): { startStep: number | undefined; timeOffset: number } {
  const steps = folder.checkpointSteps();
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    let ckpt: CheckpointData;
    try {
      ckpt = folder.readCheckpoint(step);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
      if (i === 0) throw e;
      warn(
        `checkpoint ${step} cannot be read (${e.message}): resuming from step ${steps[i - 1]} instead, and writing step ${step} again`,
      );
      continue;
    }
    restoreParams(system.model.params, ckpt.params, folder.checkpointPath(step));
    optimizer.restore(ckpt.optimizerT ?? step, ckpt.optimizer);
    const { lastTime } = folder.cutMetricsAfter(step);
    return { startStep: step, timeOffset: lastTime };
  }
  folder.cutMetricsAfter(-1);
  return { startStep: undefined, timeOffset: 0 };
}

/** The intervention recorded in a run's run.json, if it is an intervention branch. */
export function interventionOf(m: RunManifest): InterventionChange | undefined {
  const change = m.branchOf?.change;
  return change?.kind === "intervention" ? change : undefined;
}

/** A new branch's intervention: its own, else its parent's (a branch of an intervention branch keeps training on the same data). */
function branchIntervention(branch: BranchStart): InterventionChange | undefined {
  return branch.intervention ?? interventionOf(branch.parent);
}

/**
 * The loss of a minibatch whose examples carry weights: (1/B) Σ w_i ℓ_i, B the minibatch's size
 * (not Σ w_i), so an example of weight 0 changes nothing in the others' steps (docs/interventions.md).
 */
export function weightedLossOf(out: tf.Tensor, y: tf.Tensor, classes: boolean, w: tf.Tensor1D): tf.Scalar {
  const perExample = classes
    ? tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1))
    : out.rank > 1
      ? tf.mean(tf.square(tf.sub(out, y)), -1)
      : tf.square(tf.sub(out, y));
  return tf.mean(tf.mul(perExample, w)) as tf.Scalar;
}
