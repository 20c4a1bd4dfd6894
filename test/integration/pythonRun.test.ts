// `.py` experiments run by the extension (▶ Run), through the very code the extension uses
// (Supervisor.runScript → pythonRun.ts), with a real interpreter and PyTorch, no VS Code: the
// logger speaks the trainer protocol on its own pipe (started, progress, metrics, checkpoint,
// finished), the script's prints reach the output sink, the run lands in the workspace's run root
// (or where the script's `root=` says), Stop ends it `stopped` with a final checkpoint (with and
// without `with`), a second Stop kills, and a crash (in torch, below the user's frame, or before
// `lm.init`) is a Problem at the user's file and line with run.json failed. The logger holds the
// run's trainer lock while it writes. Needs a Python with torch (test/support.ts `torchPython`).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type ActiveRun, type Log, type Problem, Supervisor } from "../../src/extension/supervisor";
import type { RunManifest } from "../../src/shared/runFormat";
import { acquireRunLock, RunLockedError, TRAINER_LOCK } from "../../src/shared/runLock";
import type { TrainerEvent } from "../../src/shared/trainerProtocol";
import { repoRoot, torchPython } from "../support";
import { tempDir } from "./harness";

const torch = torchPython();
const quiet: Log = { info: () => {}, warn: () => {}, error: () => {}, trace: () => {} };
const packageRoot = join(repoRoot(), "python");
const work = tempDir("pyrun");
after(() => rmSync(work, { recursive: true, force: true }));

/** A workspace folder with `files`; its run root is `<ws>/runs`. */
function workspace(files: Record<string, string>): { dir: string; runsRoot: string } {
  const dir = join(work, `ws-${Math.random().toString(16).slice(2, 8)}`);
  mkdirSync(join(dir, "pkg"), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, runsRoot: join(dir, "runs") };
}

interface Session {
  sup: Supervisor;
  events: TrainerEvent[];
  problems: Problem[];
  output: string[];
}

function session(): Session {
  const s: Session = {
    sup: new Supervisor({
      launch: () => {
        throw new Error("no sidecar in these tests");
      },
      log: quiet,
      scriptOutput: (_run, text) => s.output.push(text),
      pythonPackageRoot: packageRoot,
      maxConcurrent: () => 2,
      readyTimeoutMs: 60_000,
      listTimeoutMs: 60_000,
      stopGraceMs: 30_000,
    }),
    events: [],
    problems: [],
    output: [],
  };
  s.sup.onEvent(({ event }) => s.events.push(event));
  s.sup.onProblem((p) => s.problems.push(p));
  return s;
}

/** How a run ended, read through a function: the assertions before narrowed `run.phase` to a live kind. */
const endedAs = (run: ActiveRun): string | undefined => (run.phase.kind === "ended" ? run.phase.status : undefined);

const manifestOf = (runDir: string): RunManifest =>
  JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as RunManifest;

/** A loop that trains a tiny model slowly enough to be stopped, printing as it goes. */
const TRAIN = (opening: string, body: string) => `import time, torch
import learning_mechanics as lm

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
print("hello from the script")
${opening}
${body}
`;
const LOOP = `    for step in range(1, 100001):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        run.log({"train_loss": loss.item(), "acc/test": 0.5}, step=step)
        if step % 20 == 0:
            run.checkpoint(model, opt, step=step)
        time.sleep(0.01)`;

/** Whether a process runs (a zombie waiting for its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function until<T>(what: string, get: () => T | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("Python experiments run by the extension", { skip: torch.skip }, () => {
  const python = torch.python ?? "python3";

  test("events on the protocol pipe, prints to the output, the run under the run root; Stop → stopped with a final checkpoint", {
    timeout: 120_000,
  }, async () => {
    const ws = workspace({
      "train.py": TRAIN(`with lm.init(name="mlp", model=model, optimizer=opt, total_steps=100000) as run:`, LOOP),
    });
    const s = session();
    const file = join(ws.dir, "train.py");
    try {
      const run = await s.sup.runScript({ python, file, runsRoot: ws.runsRoot, packageRoot });
      assert.equal(s.sup.findScript(file), run);
      assert.equal(run.kind, "script");
      await until("a progress event past step 30", () =>
        s.events.find((e) => e.type === "progress" && e.step > 30 && e.loss !== null),
      );
      const started = s.events.find((e) => e.type === "started");
      assert.ok(started && started.type === "started");
      assert.equal(started.system, "mlp");
      assert.equal(started.fromStep, 0);
      assert.equal(started.totalSteps, 100000);
      assert.ok(started.runDir.startsWith(join(ws.runsRoot, "mlp-")), started.runDir);
      assert.equal(run.runDir, started.runDir);
      const metrics = s.events.find((e) => e.type === "metrics");
      assert.ok(metrics && metrics.type === "metrics" && metrics.values["acc/test"] === 0.5, JSON.stringify(metrics));
      assert.ok(s.events.some((e) => e.type === "checkpoint" && e.step === 20));
      assert.equal(run.phase.kind, "training");
      assert.ok(run.phase.kind === "training" && run.phase.progress && run.phase.progress.step > 30);
      // The logger holds the trainer lock: a resume (or a second writer) is refused while it runs.
      assert.throws(
        () => acquireRunLock(started.runDir, TRAINER_LOCK, "resume"),
        (e: unknown) => e instanceof RunLockedError && e.owner.pid === run.trainer?.pid && e.owner.purpose === "train",
      );
      assert.equal(manifestOf(started.runDir).status, "running");

      s.sup.stop(run);
      const info = await run.trainer!.exited;
      assert.equal(info.finished?.status, "stopped");
      assert.equal(endedAs(run), "stopped");
      const m = manifestOf(started.runDir);
      assert.equal(m.status, "stopped");
      assert.equal(m.experiment?.path, file);
      const last = readdirSync(join(started.runDir, "checkpoints")).sort().at(-1);
      assert.equal(last, `step-${String(m.step).padStart(8, "0")}.safetensors`, "a checkpoint at the stop");
      assert.ok(!existsSync(join(started.runDir, TRAINER_LOCK)), "the lock is released");
      assert.deepEqual(s.problems, [], "Stop is no Problem");
      assert.match(s.output.join(""), /hello from the script/);
    } finally {
      s.sup.dispose();
    }
  });

  test("without `with`: Stop still ends the run stopped, and root= given by the script is used", {
    timeout: 120_000,
  }, async () => {
    const ws = workspace({
      "plain.py": TRAIN(`run = lm.init(name="plain", root="elsewhere", model=model)\nif True:`, LOOP),
    });
    const s = session();
    try {
      const run = await s.sup.runScript({ python, file: join(ws.dir, "plain.py"), runsRoot: ws.runsRoot, packageRoot });
      await until("a checkpoint event", () => s.events.find((e) => e.type === "checkpoint" && e.step >= 20));
      assert.ok(run.runDir?.startsWith(join(ws.dir, "elsewhere", "plain-")), run.runDir);
      s.sup.stop(run);
      await run.trainer!.exited;
      const m = manifestOf(run.runDir!);
      assert.equal(m.status, "stopped");
      assert.ok(existsSync(join(run.runDir!, "checkpoints", `step-${String(m.step).padStart(8, "0")}.safetensors`)));
      assert.deepEqual(s.problems, []);
    } finally {
      s.sup.dispose();
    }
  });

  test("a second Stop kills a script that ignores the first; the run is marked failed", {
    timeout: 60_000,
  }, async () => {
    const ws = workspace({
      "stubborn.py": `import signal, subprocess, sys, time
import learning_mechanics as lm
run = lm.init(name="stubborn")
signal.signal(signal.SIGTERM, lambda *a: print("not stopping"))
# A worker of its own, as a DataLoader with num_workers > 0 has: the kill must end it too.
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open("worker.pid", "w").write(str(worker.pid))
run.log({"loss": 1.0}, step=1)
while True:
    time.sleep(0.05)
`,
    });
    const s = session();
    try {
      const run = await s.sup.runScript({
        python,
        file: join(ws.dir, "stubborn.py"),
        runsRoot: ws.runsRoot,
        packageRoot,
      });
      await until("started", () => s.events.find((e) => e.type === "started"));
      await new Promise((r) => setTimeout(r, 300));
      s.sup.stop(run);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(run.trainer?.hasExited, false, "the first Stop leaves it to the script");
      s.sup.stop(run);
      const info = await run.trainer!.exited;
      assert.equal(info.signal, "SIGKILL");
      assert.equal(manifestOf(run.runDir!).status, "failed");
      const worker = Number(readFileSync(join(ws.dir, "worker.pid"), "utf8"));
      await until("the script's worker process to be gone", () => (alive(worker) ? undefined : true), 5_000);
      assert.equal(endedAs(run), "failed");
    } finally {
      s.sup.dispose();
    }
  });

  test("a crash inside torch: a Problem at the user's line (a helper module), run.json failed", {
    timeout: 120_000,
  }, async () => {
    const ws = workspace({
      "helper.py": `import torch\n\n\ndef forward(model):\n    x = torch.randn(8, 20)\n    return model(x)\n`,
      "crash.py": `import torch
import learning_mechanics as lm
import helper

model = torch.nn.Linear(10, 4)
with lm.init(name="crash", model=model) as run:
    run.log({"loss": 1.0}, step=1)
    helper.forward(model)
`,
    });
    const s = session();
    try {
      const run = await s.sup.runScript({ python, file: join(ws.dir, "crash.py"), runsRoot: ws.runsRoot, packageRoot });
      await run.trainer!.exited;
      assert.equal(s.problems.length, 1, JSON.stringify(s.problems));
      const p = s.problems[0]!;
      assert.equal(p.event?.kind, "runtime");
      assert.match(
        p.event?.message ?? "",
        /^RuntimeError: mat1 and mat2 shapes cannot be multiplied \(8x20 and 10x4\)/,
      );
      assert.deepEqual(p.event?.location, { file: join(ws.dir, "helper.py"), line: 6, column: 12 });
      assert.equal(p.crashed, false, "the logger said finished (failed) before the exit");
      const m = manifestOf(run.runDir!);
      assert.equal(m.status, "failed");
      assert.match(m.error?.message ?? "", /mat1 and mat2/);
      assert.equal(endedAs(run), "failed");
      assert.ok(s.events.some((e) => e.type === "finished" && e.status === "failed"));
    } finally {
      s.sup.dispose();
    }
  });

  test("an error before lm.init: a Problem at its line, no run", { timeout: 60_000 }, async () => {
    const ws = workspace({
      "early.py": `import learning_mechanics as lm\n\nconfig = {"lr": 0.1}\nlr = config["learning_rate"]\nrun = lm.init(name="never")\n`,
    });
    const s = session();
    try {
      const run = await s.sup.runScript({ python, file: join(ws.dir, "early.py"), runsRoot: ws.runsRoot, packageRoot });
      await run.trainer!.exited;
      assert.equal(s.problems.length, 1);
      const p = s.problems[0]!;
      assert.equal(p.event?.message, "KeyError: 'learning_rate'");
      assert.deepEqual(p.event?.location, { file: join(ws.dir, "early.py"), line: 4, column: 6 });
      assert.equal(p.crashed, true);
      assert.equal(run.runDir, undefined);
      assert.ok(!existsSync(ws.runsRoot));
    } finally {
      s.sup.dispose();
    }
  });

  test("a finished script: status finished, no Problem; a missing interpreter is a clear error", {
    timeout: 60_000,
  }, async () => {
    const ws = workspace({
      "ok.py": `import learning_mechanics as lm\nwith lm.init(name="ok") as run:\n    run.log({"loss": 0.5}, step=1)\n`,
    });
    const s = session();
    try {
      const run = await s.sup.runScript({ python, file: join(ws.dir, "ok.py"), runsRoot: ws.runsRoot, packageRoot });
      const info = await run.trainer!.exited;
      assert.equal(info.code, 0);
      assert.equal(endedAs(run), "finished");
      assert.equal(manifestOf(run.runDir!).status, "finished");
      assert.deepEqual(s.problems, []);
      await assert.rejects(
        s.sup.runScript({
          python: join(ws.dir, "no-such-python"),
          file: join(ws.dir, "ok.py"),
          runsRoot: ws.runsRoot,
          packageRoot,
        }),
        /could not start Python \(.*no-such-python\) for ok\.py: .*ENOENT.*learningMechanics\.pythonPath/,
      );
    } finally {
      s.sup.dispose();
    }
  });
});
