// Branching and linear mode connectivity from the extension, free of `vscode`: the choices the
// commands offer (a run's checkpoint steps, the data-order seed: the parent's, a new one, or one
// typed), the `lm branch` / `lm lmc` command lines, and running them as the sweep launcher runs
// the CLI (sweepLauncher.ts `cliCommand`: the trainer's Node, trainerEnv). The sidecar protocol
// has no branch request; these commands are what `lm` already does (docs/branching.md).
import { type ChildProcess, spawn } from "node:child_process";
import { lstatSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { CHECKPOINT_DIR, checkpointFiles } from "../shared/runFormat";
import { cliCommand } from "./sweepLauncher";
import type { Launch } from "./supervisor";

/** The data order of a branch: the parent's, a fresh random seed, or the one the user typed. */
export type DataSeedChoice = { kind: "same" } | { kind: "new"; seed: number } | { kind: "typed"; seed: number };

/** The largest seed offered or accepted: the trainer's seeds are 32-bit. */
export const MAX_DATA_SEED = 2 ** 31 - 1;

/** The checkpoint steps of a run, ascending; none when checkpoints/ is missing or is a link. */
export function checkpointSteps(runDir: string): number[] {
  const dir = path.join(runDir, CHECKPOINT_DIR);
  try {
    if (!lstatSync(dir).isDirectory()) return [];
    return checkpointFiles(readdirSync(dir)).map((c) => c.step);
  } catch {
    return [];
  }
}

/** A fresh data-order seed (1 … MAX_DATA_SEED; 0 is left out, so it never reads as "the default"). */
export function newDataSeed(random: () => number = Math.random): number {
  return 1 + Math.floor(random() * (MAX_DATA_SEED - 1));
}

/** A typed seed: a whole number in [0, MAX_DATA_SEED], or the message saying what is expected. */
export function parseDataSeed(text: string): number | string {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return `a data seed is a whole number from 0 to ${MAX_DATA_SEED}; "${text}" is not`;
  const n = Number(t);
  return n <= MAX_DATA_SEED ? n : `a data seed is at most ${MAX_DATA_SEED}; ${t} is larger`;
}

/** Backends the CLI takes by name without more settings; torch needs an interpreter, auto is the CLI's default. */
const CLI_BACKENDS = new Set(["gpu", "native", "wasm", "cpu"]);

export function backendArgs(backend: string): string[] {
  return CLI_BACKENDS.has(backend) ? ["--backend", backend] : [];
}

/** `lm branch RUN --step K [--data-seed S] [--backend B]`: the branch goes beside its parent. */
export function branchArgs(runDir: string, step: number, seed: DataSeedChoice, backend: string): string[] {
  const seedArgs = seed.kind === "same" ? [] : ["--data-seed", String(seed.seed)];
  return ["branch", runDir, "--step", String(step), ...seedArgs, ...backendArgs(backend)];
}

/** `lm lmc RUN_A RUN_B [--backend B]`: the last checkpoints of both, written to RUN_A/lmc/. */
export function lmcArgs(runA: string, runB: string, backend: string): string[] {
  return ["lmc", runA, runB, ...backendArgs(backend)];
}

export type CliOutcome = { ok: true; stdout: string } | { ok: false; message: string };

/** The last lines of what a process said on stderr (the trainer words its errors). */
function tail(text: string, lines = 6): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/**
 * Runs `lm ARGS…` to the end. Cancelling (`signal`) sends one SIGTERM: a branch stops after its
 * step with a final checkpoint (status "stopped", resumable). Resolves with stdout, or with the
 * CLI's own message (a user's mistake worded by the trainer) on a non-zero exit.
 */
export function runLm(
  launch: Launch,
  args: readonly string[],
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<CliOutcome> {
  const cmd = cliCommand(launch, args);
  log(`running: ${cmd.command} ${cmd.args.join(" ")} (cwd ${launch.cwd})`);
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd.command, cmd.args, {
        cwd: launch.cwd,
        env: cmd.env,
        stdio: ["ignore", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (e) {
      resolve({ ok: false, message: `could not start the trainer: ${e instanceof Error ? e.message : String(e)}` });
      return;
    }
    let stdout = "";
    let stderr = "";
    const onAbort = () => child.kill("SIGTERM");
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < 64_000) stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
      for (const line of d.split("\n")) if (line.trim()) log(`lm ${args[0]}: ${line}`);
    });
    child.on("error", (e) => resolve({ ok: false, message: `could not start the trainer: ${e.message}` }));
    child.on("close", (code, sig) => {
      signal?.removeEventListener("abort", onAbort);
      resolve(
        code === 0
          ? { ok: true, stdout }
          : { ok: false, message: tail(stderr) || `lm ${args[0]} exited (${sig ?? `code ${code}`})` },
      );
    });
  });
}

/** The first line of a CLI's stdout (the folder or file it wrote), resolved from its working directory. */
export function firstLinePath(stdout: string, cwd: string): string | undefined {
  const line = stdout.split("\n")[0]?.trim();
  return line ? path.resolve(cwd, line) : undefined;
}
