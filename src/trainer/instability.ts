// `lm instability RUN --at K1,K2,… [--data-seeds S1,S2]`: the instability analysis of Frankle et
// al. 2020 (docs/branching.md). For each k, two branches of RUN at checkpoint k with different
// data orders, trained to the end, then the linear interpolation between their final weights: the
// barrier against k. Each branch and each interpolation is a child `lm` process (its own worker,
// its own run folder), run one after another; a branch already finished in the output folder is
// kept, one cut short is resumed, so running the command again continues it.
import { spawn } from "node:child_process";
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
}

/** A branch's folder name in the output folder: `k<k>-seed<s>`. */
export function branchName(k: number, seed: number): string {
  return `k${k}-seed${seed}`;
}

export type RunLm = (args: string[]) => Promise<{ code: number | null; stdout: string }>;

/** Runs `lm ARGS…` as a child process: its progress on our stderr, its stdout returned. */
export function childLm(cliPath: string): RunLm {
  return (args) =>
    new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [cliPath, ...args], { stdio: ["ignore", "pipe", "inherit"] });
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolvePromise({ code, stdout }));
    });
}

export async function runInstability(
  req: InstabilityRequest,
  lm: RunLm,
  log: (line: string) => void,
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
  for (const k of req.at) {
    const branches = req.dataSeeds.map((seed) => join(out, branchName(k, seed))) as [string, string];
    for (const [i, dir] of branches.entries()) {
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
      if (args === undefined) {
        log(`k = ${k}: ${dir} is already trained`);
        continue;
      }
      const r = await lm(args);
      // Exit code 0 is also a stopped run (Ctrl-C reaches the children too): only a finished branch is compared.
      const status = r.code === 0 ? new RunFolder(dir).readManifest().status : undefined;
      if (status !== undefined && status !== "finished")
        throw new UsageError(`${dir} ended ${status}; run this again to continue it`, 1);
      if (r.code !== 0)
        throw new UsageError(
          `lm ${args.join(" ")} ended with exit code ${r.code}; fix it, then run this again to continue`,
          1,
        );
    }
    const lmcFile = join(out, `lmc-k${k}.json`);
    const lmcArgs = ["lmc", branches[0], branches[1], "--out", lmcFile, ...backend];
    if (req.points !== undefined) lmcArgs.push("--points", String(req.points));
    const r = await lm(lmcArgs);
    if (r.code !== 0) throw new UsageError(`lm ${lmcArgs.join(" ")} ended with exit code ${r.code}`, 1);
    const lmc = JSON.parse(readFileSync(lmcFile, "utf8")) as LmcRecord;
    record.points.push({
      k,
      branches: [basename(branches[0]), basename(branches[1])],
      lmc: basename(lmcFile),
      barrier: lmc.barrier,
    });
    writeFileAtomicSync(join(out, INSTABILITY_FILE), `${JSON.stringify(record, null, 2)}\n`);
  }
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
