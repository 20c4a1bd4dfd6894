// The trainer supervisor against the real sidecar (dist/trainer/sidecar.js, built by `npm test`)
// and against fake sidecars that misbehave: readiness, list, a short training to `finished`, a
// graceful stop, a crash marking run.json failed, a start timeout. No `vscode` involved.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { classify } from "../../src/extension/watcher";
import { readConfig, DEFAULT_CONFIG } from "../../src/extension/config";
import {
  type Launch,
  type Log,
  markRunFailed,
  type Problem,
  Supervisor,
  TrainerProcess,
} from "../../src/extension/supervisor";
import { repoRoot } from "../support";

const quiet: Log = { info: () => {}, warn: () => {}, error: () => {}, trace: () => {} };

function launchOf(sidecar: string, cwd: string): Launch {
  return { node: process.execPath, electronRunAsNode: false, sidecar, cwd };
}

function supervisor(launch: Launch, overrides: { readyTimeoutMs?: number } = {}): Supervisor {
  return new Supervisor({
    launch: () => launch,
    log: quiet,
    maxConcurrent: () => 2,
    readyTimeoutMs: overrides.readyTimeoutMs ?? 60_000,
    listTimeoutMs: 120_000,
    stopGraceMs: 20_000,
  });
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "lm-supervisor-"));
}

const manifest = (status: string) => ({
  format: "learning-mechanics/run",
  formatVersion: 1,
  id: "x",
  system: "s",
  experiment: { path: "/x.experiment.ts", sha256: "sha256:0" },
  config: {},
  seed: 0,
  backend: { name: "cpu", reason: "test" },
  status,
  startedAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
  totalSteps: 10,
  step: 3,
  producer: "test",
});

test("list: the systems of the grokking example", { timeout: 120_000 }, async () => {
  const root = repoRoot();
  const sup = supervisor(launchOf(path.join(root, "dist", "trainer", "sidecar.js"), root));
  try {
    const reply = await sup.list(path.join(root, "examples", "grokking.experiment.ts"));
    assert.equal(reply.error, undefined);
    assert.ok(
      reply.systems.some((s) => s.name === "modAdd"),
      JSON.stringify(reply.systems.map((s) => s.name)),
    );
  } finally {
    sup.dispose();
  }
});

test("train: a short run ends finished; events stream; no problem reported", { timeout: 180_000 }, async () => {
  const root = repoRoot();
  const out = tmp();
  const sup = supervisor(launchOf(path.join(root, "dist", "trainer", "sidecar.js"), root));
  const problems: Problem[] = [];
  sup.onProblem((p) => problems.push(p));
  const types = new Set<string>();
  sup.onEvent(({ event }) => types.add(event.type));
  try {
    const file = path.join(root, "examples", "grokking.experiment.ts");
    const run = await sup.train({ file, system: "modAdd", runsRoot: out, backend: "cpu", steps: 3 });
    assert.equal(sup.find(file, "modAdd"), run);
    await run.trainer!.exited;
    assert.equal(run.phase.kind, "ended");
    assert.equal(run.phase.kind === "ended" && run.phase.status, "finished");
    assert.ok(run.runDir?.startsWith(out), run.runDir);
    assert.ok(types.has("started") && types.has("finished"), [...types].join());
    assert.deepEqual(problems, []);
    assert.equal(sup.runs().length, 0);
    const status = (JSON.parse(fs.readFileSync(path.join(run.runDir!, "run.json"), "utf8")) as { status: string })
      .status;
    assert.equal(status, "finished");
  } finally {
    sup.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("stop: a long run stops gracefully with status stopped", { timeout: 180_000 }, async () => {
  const root = repoRoot();
  const out = tmp();
  const sup = supervisor(launchOf(path.join(root, "dist", "trainer", "sidecar.js"), root));
  try {
    const file = path.join(root, "examples", "grokking.experiment.ts");
    const run = await sup.train({ file, system: "modAdd", runsRoot: out, backend: "cpu", steps: 100_000 });
    await new Promise<void>((resolve) => sup.onEvent(({ event }) => event.type === "progress" && resolve()));
    sup.stop(run);
    assert.equal(run.phase.kind, "stopping");
    const info = await run.trainer!.exited;
    assert.equal(info.finished?.status, "stopped");
    const phase = run.phase as { kind: string; status?: string };
    assert.equal(phase.status, "stopped");
  } finally {
    sup.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("crash: exit without finished is reported at once and run.json is marked failed", {
  timeout: 30_000,
}, async () => {
  const dir = tmp();
  const runDir = path.join(dir, "run-1");
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, "run.json"), JSON.stringify(manifest("running")));
  const fake = path.join(dir, "crash.js");
  fs.writeFileSync(
    fake,
    `const w = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
w({ type: "ready", protocol: 1, pid: process.pid, version: "fake" });
process.stdin.once("data", () => {
  w({ type: "started", runDir: ${JSON.stringify(runDir)}, runId: "x", system: "s", backend: { name: "cpu", reason: "t" }, totalSteps: 10, fromStep: 0 });
  process.stderr.write("boom\\n");
  setTimeout(() => process.exit(7), 50);
});`,
  );
  const sup = supervisor(launchOf(fake, dir));
  try {
    const problem = new Promise<Problem>((resolve) => sup.onProblem(resolve));
    const run = await sup.train({ file: "/x.experiment.ts", system: "s", runsRoot: dir, backend: "auto" });
    const p = await problem;
    assert.equal(p.crashed, true);
    assert.match(p.message, /exit code 7/);
    assert.match(p.message, /boom/);
    assert.equal(run.phase.kind === "ended" && run.phase.status, "failed");
    const m = JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8")) as {
      status: string;
      error?: { message: string };
    };
    assert.equal(m.status, "failed");
    assert.match(m.error?.message ?? "", /exit code 7/);
  } finally {
    sup.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("markRunFailed leaves a run that is not running alone", () => {
  const dir = tmp();
  try {
    fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(manifest("stopped")));
    assert.equal(markRunFailed(dir, "x"), false);
    assert.equal(
      (JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")) as { status: string }).status,
      "stopped",
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("start: a trainer that never says ready times out and is killed", { timeout: 30_000 }, async () => {
  const dir = tmp();
  const fake = path.join(dir, "silent.js");
  fs.writeFileSync(fake, "setInterval(() => {}, 1000);");
  try {
    await assert.rejects(TrainerProcess.start(launchOf(fake, dir), quiet, { timeoutMs: 500 }), /did not start within/);
    const controller = new AbortController();
    const p = TrainerProcess.start(launchOf(fake, dir), quiet, { timeoutMs: 10_000, signal: controller.signal });
    controller.abort();
    await assert.rejects(p, /cancelled/);
    await assert.rejects(
      TrainerProcess.start({ ...launchOf(fake, dir), node: path.join(dir, "no-such-node") }, quiet, {
        timeoutMs: 5000,
      }),
      /could not start|exited before/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("watcher: paths under a run root map to their run folder and part", () => {
  const root = path.join(path.sep, "w", "runs");
  assert.deepEqual(classify(root, path.join(root, "a", "run.json")), {
    runDir: path.join(root, "a"),
    part: "manifest",
  });
  assert.deepEqual(classify(root, path.join(root, "a", "metrics.jsonl")), {
    runDir: path.join(root, "a"),
    part: "metrics",
  });
  assert.deepEqual(classify(root, path.join(root, "a", "checkpoints", "step-00000100.safetensors")), {
    runDir: path.join(root, "a"),
    part: "checkpoint",
  });
  assert.deepEqual(classify(root, path.join(root, "a", "checkpoints", ".step-00000100.safetensors.1.ab.tmp")), {
    runDir: path.join(root, "a"),
    part: "other",
  });
  assert.deepEqual(classify(root, path.join(root, "sweep", "b", "run.json")), {
    runDir: path.join(root, "sweep", "b"),
    part: "manifest",
  });
  assert.equal(classify(root, path.join(path.sep, "w", "other")), undefined);
});

test("config: typed settings with defaults for bad values", () => {
  const values: Record<string, unknown> = {
    runRoots: [],
    experimentGlob: 3,
    backend: "tpu",
    maxConcurrentTrainers: 0,
    nodePath: " /usr/bin/node ",
  };
  const c = readConfig({ get: <T>(k: string) => values[k] as T | undefined });
  assert.deepEqual(c, { ...DEFAULT_CONFIG, nodePath: "/usr/bin/node" });
  const d = readConfig({
    get: <T>(k: string) => ({ runRoots: ["out"], backend: "wasm", maxConcurrentTrainers: 4 })[k] as T | undefined,
  });
  assert.deepEqual([d.runRoots, d.backend, d.maxConcurrentTrainers], [["out"], "wasm", 4]);
});

/**
 * A fake sidecar that trains "forever" and, when told to stop (the protocol's `stop`, or stdin
 * closing, as it chooses), takes `saveMs` to save, writes run.json "stopped", says `finished` and
 * exits, as the real one does. `ignore` makes it deaf to both (only a kill ends it).
 */
function stoppableFake(
  dir: string,
  runDir: string,
  opts: { saveMs: number; on: "stop" | "stdin-end" | "never" },
): string {
  const fake = path.join(dir, `stoppable-${opts.on}.js`);
  const stopped = JSON.stringify(JSON.stringify(manifest("stopped")));
  fs.writeFileSync(
    fake,
    `const fs = require("node:fs");
const w = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
w({ type: "ready", protocol: 1, pid: process.pid, version: "fake" });
let training = false, stopping = false;
const stop = () => {
  if (stopping || ${JSON.stringify(opts.on)} === "never") return;
  stopping = true;
  setTimeout(() => {
    fs.writeFileSync(${JSON.stringify(path.join(runDir, "run.json"))}, ${stopped});
    w({ type: "finished", runDir: ${JSON.stringify(runDir)}, status: "stopped", step: 3 });
    process.exit(0);
  }, ${opts.saveMs});
};
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  for (const line of chunk.split("\\n").filter(Boolean)) {
    const req = JSON.parse(line);
    if (req.type === "stop") { if (${JSON.stringify(opts.on)} === "stop") stop(); }
    else if (!training) {
      training = true;
      w({ type: "started", runDir: ${JSON.stringify(runDir)}, runId: "x", system: "s", backend: { name: "cpu", reason: "t" }, totalSteps: 10, fromStep: 0 });
      setInterval(() => w({ type: "progress", step: 3, totalSteps: 10, loss: 1, stepsPerSecond: 1 }), 50);
    }
  }
});
process.stdin.on("end", () => { if (${JSON.stringify(opts.on)} === "stdin-end") stop(); });
process.on("SIGTERM", () => {});`,
  );
  return fake;
}

async function startedRun(sup: Supervisor): Promise<{ run: Awaited<ReturnType<Supervisor["train"]>> }> {
  const started = new Promise<void>((resolve) => sup.onEvent(({ event }) => event.type === "started" && resolve()));
  const run = await sup.train({ file: "/x.experiment.ts", system: "s", runsRoot: "/unused", backend: "auto" });
  await started;
  return { run };
}

function statusIn(runDir: string): string {
  return (JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8")) as { status: string }).status;
}

// VS Code calls deactivate() and then, without awaiting it, disposes the extension's subscriptions
// (the supervisor among them): the shutdown must survive that dispose.
for (const on of ["stop", "stdin-end"] as const) {
  test(`shutdown (deactivate, then dispose at once): a trainer that stops on ${on} writes run.json "stopped" and is not killed`, {
    timeout: 30_000,
  }, async () => {
    const dir = tmp();
    const runDir = path.join(dir, "run-1");
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, "run.json"), JSON.stringify(manifest("running")));
    const sup = supervisor(launchOf(stoppableFake(dir, runDir, { saveMs: 400, on }), dir));
    try {
      const { run } = await startedRun(sup);
      const trainer = run.trainer!;
      const t0 = Date.now();
      const done = sup.shutdown(2500);
      sup.dispose();
      await done;
      const info = await trainer.exited;
      assert.equal(info.signal, null, "killed instead of stopped");
      assert.equal(info.code, 0);
      assert.equal(info.finished?.status, "stopped");
      assert.equal(statusIn(runDir), "stopped");
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 400 && elapsed < 2500, `shutdown took ${elapsed} ms (save takes 400 ms, grace 2500 ms)`);
    } finally {
      sup.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("shutdown: a trainer that ignores stop is killed after the grace period, and the run marked failed", {
  timeout: 30_000,
}, async () => {
  const dir = tmp();
  const runDir = path.join(dir, "run-1");
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, "run.json"), JSON.stringify(manifest("running")));
  const sup = supervisor(launchOf(stoppableFake(dir, runDir, { saveMs: 0, on: "never" }), dir));
  try {
    const { run } = await startedRun(sup);
    const trainer = run.trainer!;
    const t0 = Date.now();
    const done = sup.shutdown(800);
    sup.dispose();
    await done;
    const elapsed = Date.now() - t0;
    const info = await trainer.exited;
    assert.equal(info.signal, "SIGKILL");
    assert.ok(elapsed >= 800 && elapsed < 2500, `shutdown took ${elapsed} ms with a grace of 800 ms`);
    assert.equal(statusIn(runDir), "failed");
    // A second shutdown is the same one, already over.
    await sup.shutdown(800);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The timing bound is the fakes' business above; this one checks the real sidecar answers a
// shutdown (stop + stdin closed, then dispose at once) by saving, with a grace that a loaded
// 2-core machine cannot miss. The time it took is printed (wasm, modAdd: ~2 s here).
test("shutdown: the real sidecar, mid-training, saves and its run.json says stopped", {
  timeout: 180_000,
}, async (t) => {
  const root = repoRoot();
  const out = tmp();
  const sup = supervisor(launchOf(path.join(root, "dist", "trainer", "sidecar.js"), root));
  try {
    const file = path.join(root, "examples", "grokking.experiment.ts");
    const run = await sup.train({ file, system: "modAdd", runsRoot: out, backend: "wasm", steps: 100_000 });
    await new Promise<void>((resolve) => sup.onEvent(({ event }) => event.type === "progress" && resolve()));
    const trainer = run.trainer!;
    const t0 = Date.now();
    const done = sup.shutdown(30_000);
    sup.dispose();
    await done;
    const info = await trainer.exited;
    t.diagnostic(`the real sidecar stopped ${Date.now() - t0} ms after shutdown`);
    assert.equal(info.signal, null, `killed after ${Date.now() - t0} ms`);
    assert.equal(info.finished?.status, "stopped");
    assert.equal(statusIn(run.runDir!), "stopped");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
