// Local sweep throughput: the 4 runs of bench/sweep.experiment.ts one after another (`lm train
// --run-dir … ` four times, seeds 0–3: the same work as the sweep's points) against `lm sweep
// --parallel 2` of the same system, through the real CLI.
//
//   npm run build --silent && node dist/bench/sweep.js [--backend wasm] [--parallel 2] [--repeats 1]
//
// Prints both wall times, their ratio (≈ min(cores, parallel) on an idle machine with small
// systems), and the CPU time (user + system) of all the processes each took: on a shared machine
// the wall time includes waiting for a core, the CPU time does not. CPU time is read from
// /proc/self/stat (cutime + cstime: every finished descendant's, since each parent waits for its
// children), so it needs Linux; elsewhere it prints "—".
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    parallel: { type: "string", default: "2" },
    repeats: { type: "string", default: "1" },
  },
});
const ROOT = resolve(__dirname, "..", "..");
const CLI = join(ROOT, "dist", "trainer", "cli.js");
const FILE = join(ROOT, "bench", "sweep.experiment.ts");
const RUNS = 4;

/** Seconds of CPU time of every finished child of this process (Linux), or undefined. */
function childrenCpu(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command's closing parenthesis; cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[13]) + Number(fields[14]);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function lm(cliArgs: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...cliArgs], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`lm ${cliArgs.join(" ")} exited ${r.status}\n${r.stderr}`);
}

function measure(f: () => void): { wall: number; cpu: number | undefined } {
  const c0 = childrenCpu();
  const t0 = performance.now();
  f();
  const wall = (performance.now() - t0) / 1000;
  const c1 = childrenCpu();
  return { wall, cpu: c0 === undefined || c1 === undefined ? undefined : c1 - c0 };
}

/** The sweep system with `seed: s` written in, so `lm train` trains exactly what sweep point s trains. */
function seededFile(dir: string, seed: number): string {
  const text = readFileSync(FILE, "utf8").replace("sweep: { seeds: 4 },", `seed: ${seed},`);
  const file = join(dir, `seed${seed}.experiment.ts`);
  writeFileSync(file, text);
  return file;
}

const fmt = (s: number | undefined) => (s === undefined ? "—" : `${s.toFixed(1)} s`);
const parallel = Number(args.parallel);
console.log(
  `sweep benchmark: ${RUNS} runs of bench/sweep.experiment.ts on ${args.backend}, ${availableParallelism()} cores, --parallel ${parallel}`,
);
for (let rep = 0; rep < Number(args.repeats); rep++) {
  const dir = mkdtempSync(join(tmpdir(), "lm-bench-sweep-"));
  try {
    const files = Array.from({ length: RUNS }, (_, s) => seededFile(dir, s));
    const serial = measure(() => {
      for (const [s, file] of files.entries())
        lm(["train", file, "--run-dir", join(dir, "serial", String(s)), "--backend", args.backend]);
    });
    const swept = measure(() =>
      lm(["sweep", FILE, "--out", join(dir, "sweep"), "--parallel", String(parallel), "--backend", args.backend]),
    );
    console.log(
      `one after another: ${fmt(serial.wall)} wall, ${fmt(serial.cpu)} CPU · lm sweep --parallel ${parallel}: ${fmt(swept.wall)} wall, ${fmt(swept.cpu)} CPU · speed-up ${(serial.wall / swept.wall).toFixed(2)}x (wall), CPU ratio ${serial.cpu && swept.cpu ? (swept.cpu / serial.cpu).toFixed(2) : "—"}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
