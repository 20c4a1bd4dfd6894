// Running part of a test in a child process, with a time limit: for reads that could block forever
// (a FIFO) or exhaust memory (a 2 GiB file) if a reader regressed, and to measure peak memory
// (maxRSS) apart from the test runner. The child is the (bundled) test file itself, started with
// an environment variable naming the job; the file calls `childJob` before defining its tests.
import { spawnSync } from "node:child_process";

const ENV = "LM_TEST_CHILD_JOB";

export interface ChildOutcome {
  /** What the job returned (JSON), when it finished in time. */
  value?: unknown;
  /** The job's error message, when it threw (`code` is the error's code, if any). */
  error?: { message: string; code?: string; name?: string };
  /** Peak resident memory of the child, in bytes. */
  maxRssBytes?: number;
  /** True when the child was killed at the time limit. */
  timedOut: boolean;
  stderr: string;
}

/**
 * In the child: if this process was started for a job, runs it with `args`, prints the outcome as
 * JSON and exits. Does nothing in the test runner. Call at the top of a test file.
 */
export function childJob(jobs: Record<string, (args: string[]) => unknown>): void {
  const spec = process.env[ENV];
  if (spec === undefined) return;
  const [name, ...args] = JSON.parse(spec) as string[];
  const job = jobs[name ?? ""];
  const finish = (out: Omit<ChildOutcome, "timedOut" | "stderr">): never => {
    out.maxRssBytes = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(JSON.stringify(out));
    process.exit(0);
  };
  const failed = (e: unknown): Omit<ChildOutcome, "timedOut" | "stderr"> => {
    const err = e as NodeJS.ErrnoException;
    return {
      error: { message: String(err.message), ...(err.code !== undefined ? { code: err.code } : {}), name: err.name },
    };
  };
  try {
    if (job === undefined) throw new Error(`no child job ${String(name)}`);
    const value = job(args);
    if (value instanceof Promise) {
      value.then(
        (v: unknown) => finish({ value: v ?? null }),
        (e: unknown) => finish(failed(e)),
      );
      // Tests must not start in the child while the job runs.
      process.env["LM_TEST_CHILD_BUSY"] = "1";
      return;
    }
    finish({ value: value ?? null });
  } catch (e) {
    finish(failed(e));
  }
}

/** True in a child started for a job: the test file must then define no tests. */
export function inChild(): boolean {
  return process.env[ENV] !== undefined;
}

/** Runs job `name` of test file `file` (pass `__filename`) in a child, killed after `timeoutMs`. */
export function runChildJob(
  file: string,
  name: string,
  args: string[],
  timeoutMs: number,
  nodeArgs: string[] = [],
): ChildOutcome {
  const env: NodeJS.ProcessEnv = { ...process.env, [ENV]: JSON.stringify([name, ...args]) };
  delete env["NODE_TEST_CONTEXT"]; // the child is not a test-runner worker
  const r = spawnSync(process.execPath, [...nodeArgs, file], {
    env,
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    encoding: "utf8",
    maxBuffer: 16 << 20,
  });
  const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT";
  if (timedOut || r.stdout === "") return { timedOut, stderr: r.stderr ?? "" };
  return { ...(JSON.parse(r.stdout) as Omit<ChildOutcome, "timedOut" | "stderr">), timedOut, stderr: r.stderr };
}
