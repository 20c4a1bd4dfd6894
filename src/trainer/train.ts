// The training loop: a validated model system in, a run folder out. Used by the sidecar and the
// CLI alike; they differ only in the `emit` they pass (protocol lines or a progress bar).
//
// Step semantics: "step s" means the parameters after s optimizer updates. Metrics and checkpoints
// at step s describe those parameters; step 0 is the initialization and is always recorded.
import * as tf from "@tensorflow/tfjs-core";
import { dirname } from "node:path";
import type { SystemSpec } from "../sdk/spec";
import { describeSystem, resolvedConfig, validateSystem } from "../sdk/validate";
import type { BackendInfo, MetricsRecord, RunManifest, RunStatus } from "../shared/runFormat";
import { RUN_FORMAT_VERSION } from "../shared/runFormat";
import { readMetrics } from "../shared/metricsReader";
import { BatchSchedule } from "./batches";
import type { LoadedExperiment } from "./loadExperiment";
import { Optimizer } from "./optimizers";
import { RunFolder, restoreParams } from "./runFolder";
import { lossOf, type SplitTensors, SystemInstance } from "./system";
import { VERSION } from "./version";
import { ConfigError, type Emit } from "./errors";

export { ConfigError, type Emit } from "./errors";


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
}

export interface TrainOutcome {
  status: Exclude<RunStatus, "running">;
  step: number;
  message?: string;
}

/** Finds a system by name and validates it, or throws ConfigError / Error. */
export function resolveSystem(experiment: LoadedExperiment, name: string, steps?: number): SystemSpec {
  const found = experiment.systems.find((s) => s.name === name);
  if (!found) {
    const names = experiment.systems.map((s) => s.name);
    throw new Error(`${experiment.file} exports no model system "${name}"${names.length ? ` (it has: ${names.join(", ")})` : " (it exports none)"}`);
  }
  const result = validateSystem(steps === undefined ? found.system.input : { ...found.system.input, steps });
  if (!result.ok) {
    const location = found.system.definedAt;
    throw new ConfigError(name, result.problems.map((p) => (location && !p.location ? { ...p, location } : p)), location);
  }
  return result.spec;
}

export async function train(req: TrainRequest): Promise<TrainOutcome> {
  const { experiment, emit } = req;
  const folder = new RunFolder(req.runDir);
  // A resumed run keeps the step count it was started with (recorded in run.json).
  const steps = req.resume ? folder.readManifest().totalSteps : req.steps;
  const spec = resolveSystem(experiment, req.system, steps);

  // --- data, model, optimizer
  const system = new SystemInstance(spec, dirname(experiment.file));
  const { model, classes, train, test, lossScale } = system;
  const optimizer = new Optimizer(spec.optimizer, model.params, spec.steps);
  try {
    return await runLoop();
  } finally {
    optimizer.dispose();
    system.dispose();
  }

  async function runLoop(): Promise<TrainOutcome> {
    // --- the run folder: new, or continued from its last checkpoint
    let manifest: RunManifest;
    let startStep = 0;
    let timeOffset = 0;
    const now = () => new Date().toISOString();
    if (req.resume) {
      manifest = folder.readManifest();
      if (manifest.status === "running" && manifest.pid !== undefined && processAlive(manifest.pid)) {
        throw new Error(`${req.runDir} is being trained by process ${manifest.pid}; stop it first`);
      }
      if (manifest.experiment.sha256 !== experiment.sha256) {
        throw new Error(`${experiment.file} changed since this run started (${manifest.experiment.sha256.slice(0, 19)}…); a resumed run would mix two experiments. Start a new run instead.`);
      }
      const steps = folder.checkpointSteps();
      const last = steps[steps.length - 1];
      if (last === undefined) throw new Error(`${req.runDir} has no checkpoint to resume from`);
      const ckpt = folder.readCheckpoint(last);
      restoreParams(model.params, ckpt.params, folder.checkpointPath(last));
      optimizer.restore(ckpt.optimizerT ?? last, ckpt.optimizer);
      startStep = last;
      folder.truncateMetricsAfter(last);
      timeOffset = lastMetricsTime(folder, last);
      manifest = { ...manifest, status: "running", pid: process.pid, step: last, updatedAt: now(), resumedFrom: [...(manifest.resumedFrom ?? []), last], backend: req.backend };
      delete manifest.endedAt;
      delete manifest.error;
      delete manifest.divergedAtStep;
    } else {
      folder.create();
      manifest = {
        format: "learning-mechanics/run",
        formatVersion: RUN_FORMAT_VERSION,
        id: req.runDir.replace(/^.*[\\/]/, ""),
        system: req.system,
        experiment: { path: experiment.file, sha256: experiment.sha256 },
        config: { ...resolvedConfig(spec), summary: describeSystem(spec) },
        seed: spec.seed,
        backend: req.backend,
        status: "running",
        pid: process.pid,
        startedAt: now(),
        updatedAt: now(),
        totalSteps: spec.steps,
        step: 0,
        producer: `learning-mechanics ${VERSION}`,
      };
    }
    folder.writeManifest(manifest);

    const output = (x: tf.Tensor, f0: tf.Tensor | undefined): tf.Tensor => system.output(x, f0);

    const t0 = Date.now();
    const elapsed = () => timeOffset + (Date.now() - t0) / 1000;
    emit({ type: "started", runDir: req.runDir, runId: manifest.id, system: req.system, backend: req.backend, totalSteps: spec.steps, fromStep: startStep });

    /** Full evaluation in chunks (bounded memory); returns loss and accuracy on a split. */
    const evaluate = (s: SplitTensors): { loss: number; acc: number } => {
      const chunk = 8192;
      let lossSum = 0;
      let correct = 0;
      for (let i = 0; i < s.n; i += chunk) {
        const size = Math.min(chunk, s.n - i);
        const [l, c] = tf.tidy(() => {
          const rows = <T extends tf.Tensor>(t: T): T => (s.n <= chunk ? t : (tf.slice(t, i, size) as T));
          const out = output(rows(s.x), s.f0 ? rows(s.f0) : undefined);
          const y = rows(s.y);
          const loss = tf.mul(lossOf(out, y, classes), size);
          const hits = classes ? tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), tf.argMax(y, -1)), "float32")) : tf.scalar(0);
          return [loss.dataSync()[0]!, hits.dataSync()[0]!];
        });
        lossSum += l;
        correct += c;
      }
      return { loss: lossSum / s.n, acc: correct / s.n };
    };

    const paramNorm = (): number =>
      Math.sqrt(tf.tidy(() => tf.addN(model.params.map((p) => tf.sum(tf.square(p.variable)))).dataSync()[0]!));

    const record = (step: number): { finite: boolean; rec: MetricsRecord } => {
      const rec: MetricsRecord = { step, time: round6(elapsed()) };
      const tr = evaluate(train);
      rec["train_loss"] = tr.loss;
      if (classes) rec["train_acc"] = tr.acc;
      if (test.n > 0) {
        const te = evaluate(test);
        rec["test_loss"] = te.loss;
        if (classes) rec["test_acc"] = te.acc;
      }
      rec["lr"] = optimizer.nextLr();
      const norm = paramNorm();
      rec["param_norm"] = norm;
      return { finite: Number.isFinite(tr.loss) && Number.isFinite(norm), rec };
    };

    // Step-0 parameters, for the relative change recorded in every checkpoint's stats.
    let initialValues: Map<string, Float32Array> | undefined =
      startStep > 0 && folder.checkpointSteps()[0] === 0 ? new Map([...folder.readCheckpoint(0).params].map(([k, v]) => [k, v.values])) : undefined;
    const checkpoint = async (step: number) => {
      const { path, bytes, values } = await folder.writeCheckpoint(step, model.params, optimizer.snapshot(), initialValues);
      if (step === 0) initialValues = values;
      emit({ type: "checkpoint", step, path, bytes });
    };
    const writeMetrics = (rec: MetricsRecord) => {
      folder.appendMetrics(rec);
      const { step, time: _time, ...values } = rec;
      emit({ type: "metrics", step, values });
    };
    const finish = (status: TrainOutcome["status"], step: number, extra: Partial<RunManifest> = {}): TrainOutcome => {
      manifest = { ...manifest, ...extra, status, step, updatedAt: now(), endedAt: now() };
      folder.writeManifest(manifest);
      const message = extra.error?.message;
      return message ? { status, step, message } : { status, step };
    };
    const diverged = (step: number, lastGood: number | undefined, what: string): TrainOutcome => {
      const message = `training diverged: ${what} at step ${step}; the last finite checkpoint is step ${lastGood ?? "none"}. Try a smaller learning rate or initialization scale.`;
      emit({ type: "log", level: "error", message });
      return finish("diverged", step, { divergedAtStep: step, error: { message } });
    };

    const batches = spec.batchSize === "full" || spec.batchSize >= train.n ? undefined : new BatchSchedule(train.n, spec.batchSize, spec.seed);
    const vars = model.params.map((p) => p.variable);
    const nameOf = new Map(model.params.map((p) => [p.variable.name, p.name]));

    try {
      let lastCheckpoint: number | undefined = startStep === 0 ? undefined : startStep;
      if (startStep === 0) {
        const { finite, rec } = record(0);
        writeMetrics(rec);
        if (!finite) return diverged(0, undefined, "the loss at initialization is not finite");
        await checkpoint(0);
        lastCheckpoint = 0;
      }

      let step = startStep;
      let lastProgress = 0;
      let rateStep = step;
      let rateTime = Date.now();
      let rate = 0;
      let lastYield = Date.now();
      while (step < spec.steps) {
        // Let stdin (a stop request) and signals (Ctrl-C) through; the loop is otherwise synchronous.
        if (Date.now() - lastYield > 50) {
          await new Promise<void>((r) => setImmediate(r));
          lastYield = Date.now();
        }
        const t = step + 1;
        const idx = batches?.indices(t);
        const lossValue = tf.tidy(() => {
          const bx = idx ? tf.gather(train.x, idx) : train.x;
          const by = idx ? tf.gather(train.y, idx) : train.y;
          const bf0 = train.f0 ? (idx ? tf.gather(train.f0, idx) : train.f0) : undefined;
          const { value, grads } = tf.variableGrads(() => tf.mul(lossOf(output(bx, bf0), by, classes), lossScale) as tf.Scalar, vars);
          const loss = value.dataSync()[0]! / lossScale;
          if (Number.isFinite(loss)) {
            const named = new Map<string, tf.Tensor>();
            for (const [varName, g] of Object.entries(grads)) named.set(nameOf.get(varName) ?? varName, g);
            optimizer.apply(named);
          }
          return loss;
        });
        if (!Number.isFinite(lossValue)) return diverged(step, lastCheckpoint, `the training loss became ${lossValue}`);
        step = t;

        const due = (every: number) => step % every === 0 || step === spec.steps;
        const stopping = req.shouldStop();
        if (due(spec.evalEvery) || due(spec.checkpointEvery) || stopping) {
          const { finite, rec } = record(step);
          writeMetrics(rec);
          if (!finite) return diverged(step, lastCheckpoint, "the loss or the weights became non-finite");
        }
        if (due(spec.checkpointEvery) || stopping) {
          await checkpoint(step);
          lastCheckpoint = step;
          manifest = { ...manifest, step, updatedAt: now() };
          folder.writeManifest(manifest);
        }

        const nowMs = Date.now();
        if (nowMs - rateTime >= 1000) {
          rate = ((step - rateStep) * 1000) / (nowMs - rateTime);
          rateStep = step;
          rateTime = nowMs;
        }
        if (nowMs - lastProgress >= 200 || step === spec.steps) {
          lastProgress = nowMs;
          emit({ type: "progress", step, totalSteps: spec.steps, loss: lossValue, stepsPerSecond: rate || (step - startStep) / Math.max(1e-3, (nowMs - t0) / 1000) });
        }
        if (stopping) return finish("stopped", step);
      }
      return finish("finished", step);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const diskFull = err.code === "ENOSPC";
      const message = diskFull ? `disk full: ${err.message}. Checkpoints up to step ${manifest.step} are intact; free space, then resume the run.` : err.message;
      try {
        finish("failed", manifest.step, { error: { message } });
      } catch {
        // the manifest itself cannot be written (disk full): the last good one stays on disk
      }
      throw diskFull ? Object.assign(new Error(message, { cause: e }), { code: err.code }) : e;
    }
  }
}

/** Whether a process with this pid exists on this machine (signal 0 probes without signalling). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Elapsed time recorded at `step`, so a resumed run's clock continues where it stopped. */
function lastMetricsTime(folder: RunFolder, step: number): number {
  const recs = readMetrics(folder.metricsPath).records.filter((r) => r.step <= step);
  const last = recs[recs.length - 1];
  return last && Number.isFinite(last.time) ? last.time : 0;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
