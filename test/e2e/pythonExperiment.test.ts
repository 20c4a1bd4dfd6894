// A `.py` experiment end to end in code-server (issue 11): a PyTorch script that calls `lm.init(`
// gets the `▶ Run` code lens; Run starts it with `learningMechanics.pythonPath`, the loss curves
// gain points live and the status bar shows its progress, `■ Stop` ends it `stopped` with a
// checkpoint at the stop (run.json and the lens's run summary say so); then a script whose model
// call fails inside torch shows a Problem at the user's line and column with the exception's
// message, cleared when the fixed script runs again. In Restricted Mode the file gets no ▶ Run lens, the palette command warns why, and no
// Python process starts. Needs the e2e tools (scripts/install-test-tools.sh) and a Python with PyTorch
// (test/support.ts `torchPython`).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunManifest } from "../../src/shared/runFormat";
import { torchPython } from "../support";
import { since, sleep, waitFor } from "./codeServer";
import {
  extensionNotReady,
  problems,
  startDevRig,
  visibleNotifications,
  waitForGrowingChart,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const torch = notReady === undefined ? torchPython() : { python: undefined, skip: notReady };

/** Trains slowly enough to be watched and stopped: a step every ~20 ms, test accuracy every 20 steps. */
const TRAIN = `"""A small MLP logged for Learning Mechanics."""
import time
import torch
import learning_mechanics as lm

torch.manual_seed(0)
x = torch.randn(512, 10)
y = (x @ torch.randn(10, 3)).argmax(1)
model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
print("training the MLP")

with lm.init(name="mlp", config={"lr": 1e-2}, model=model, optimizer=opt, total_steps=100000) as run:
    for step in range(1, 100001):
        batch = torch.randint(0, 384, (32,))
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        metrics = {"train_loss": loss.item()}
        if step % 20 == 0:
            with torch.no_grad():
                logits = model(x[384:])
                metrics["test_loss"] = torch.nn.functional.cross_entropy(logits, y[384:]).item()
                metrics["test_acc"] = (logits.argmax(1) == y[384:]).float().mean().item()
        run.log(metrics, step=step)
        if step % 100 == 0:
            run.checkpoint(model, opt, step=step)
        time.sleep(0.02)
`;

/** Fails inside torch (a shape mismatch): the Problem belongs at `model(inputs)` in `forward`. */
const BROKEN = `import torch
import learning_mechanics as lm


def forward(model, inputs):
    return model(inputs)


model = torch.nn.Linear(10, 4)
with lm.init(name="broken", model=model) as run:
    run.log({"train_loss": 1.0}, step=1)
    forward(model, torch.randn(8, 20))
`;

/** The run folders under `runsDir` once their run.json parses. */
function runsIn(runsDir: string): Array<{ dir: string; manifest: RunManifest }> {
  if (!existsSync(runsDir)) return [];
  const out: Array<{ dir: string; manifest: RunManifest }> = [];
  for (const e of readdirSync(runsDir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    try {
      const manifest = JSON.parse(readFileSync(join(runsDir, e.name, "run.json"), "utf8")) as RunManifest;
      out.push({ dir: join(runsDir, e.name), manifest });
    } catch {
      // being written; the next poll reads it
    }
  }
  return out;
}

/** Pids of processes whose command line names `file` (a Python running the script), from /proc. */
function processesRunning(file: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(file)) out.push(Number(entry));
    } catch {
      // the process ended while listed
    }
  }
  return out;
}

describe("e2e: a Python experiment from the code lens", () => {
  test("▶ Run → live curves and progress → ■ Stop → stopped; a crash → a Problem at the user's line", {
    skip: torch.skip,
    timeout: 360_000,
  }, async (t) => {
    const python = torch.python!;
    const ws = workspaceCopy();
    writeFileSync(join(ws.dir, "train_mlp.py"), TRAIN);
    writeFileSync(join(ws.dir, "broken.py"), BROKEN);
    const runsDir = join(ws.dir, "runs");
    const cs = await startDevRig(ws.dir, { settings: { "learningMechanics.pythonPath": python } });
    try {
      await cs.openFile("train_mlp.py");
      await cs.clickCodeLens("▶ Run", 90_000);
      const tRun = performance.now();
      const run = await waitFor(
        "the mlp run folder under runs/",
        () => runsIn(runsDir).find((r) => r.manifest.system === "mlp"),
        120_000,
      );
      assert.equal(run.manifest.experiment?.path, join(ws.dir, "train_mlp.py"));
      assert.equal(run.manifest.backend.name, "pytorch");

      // Live: the loss-curves panel opens on `started` and gains ink; the status bar shows the steps.
      const { before, grown } = await waitForGrowingChart(cs, { frameMs: 90_000, growMs: 120_000 });
      const status = await waitFor(
        "the status bar's progress",
        async () => {
          const text = await cs.statusBarText();
          return /train_mlp\.py · step \d+\/100000 · loss \d/.test(text) ? text : undefined;
        },
        60_000,
        500,
      );
      const liveMs = since(tRun);

      await cs.focusFirstEditorGroup();
      await cs.clickCodeLens("■ Stop", 30_000);
      const stopped = await waitFor(
        "run.json status stopped",
        () => {
          const m = JSON.parse(readFileSync(join(run.dir, "run.json"), "utf8")) as RunManifest;
          return m.status === "stopped" ? m : undefined;
        },
        90_000,
        500,
      );
      const last = readdirSync(join(run.dir, "checkpoints")).sort().at(-1);
      assert.equal(last, `step-${String(stopped.step).padStart(8, "0")}.safetensors`, "a checkpoint at the stop");
      assert.ok(!existsSync(join(run.dir, ".lock")), "the logger released the run's lock");
      // The lens is ▶ Run again, with the run's summary beside it.
      await cs.waitForCodeLens("▶ Run", 30_000);
      await cs.waitForCodeLens(`step ${stopped.step}/100000`, 30_000);
      await cs.waitForCodeLens("· stopped", 30_000);

      // A crash inside torch: a Problem at the user's call, with the exception's message.
      await cs.openFile("broken.py");
      await cs.clickCodeLens("▶ Run", 90_000);
      const rows = await waitFor(
        "the traceback in Problems",
        async () => {
          const r = (await problems(cs)).filter((p) => p.file === "broken.py");
          return r.length > 0 ? r : undefined;
        },
        120_000,
        1_000,
      );
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.match(rows[0]!.text, /RuntimeError: mat1 and mat2 shapes cannot be multiplied \(8x20 and 10x4\)/);
      // `    return model(inputs)`: line 6, the call starts at column 12.
      assert.deepEqual({ line: rows[0]!.line, column: rows[0]!.column }, { line: 6, column: 12 });
      const broken = await waitFor(
        "the broken run marked failed",
        () => runsIn(runsDir).find((r) => r.manifest.system === "broken" && r.manifest.status === "failed"),
        30_000,
      );
      assert.match(broken.manifest.error?.message ?? "", /mat1 and mat2/);

      // Fixed and run again: the Problem is cleared when the run starts, and the run finishes.
      writeFileSync(join(ws.dir, "broken.py"), BROKEN.replace("torch.randn(8, 20)", "torch.randn(8, 10)"));
      await waitFor(
        "the editor to show the fixed file",
        async () => ((await cs.editorText()).includes("torch.randn(8, 10)") ? true : undefined),
        30_000,
        500,
      );
      await cs.focusFirstEditorGroup();
      await cs.clickCodeLens("▶ Run", 60_000);
      await waitFor(
        "broken.py's Problem cleared",
        async () => ((await problems(cs)).some((p) => p.file === "broken.py") ? undefined : true),
        60_000,
        1_000,
      );
      await waitFor(
        "the fixed script's run finished",
        () => runsIn(runsDir).find((r) => r.manifest.system === "broken" && r.manifest.status === "finished"),
        120_000,
        1_000,
      );
      await cs.screenshot("python-experiment");
      t.diagnostic(
        `curves growing and status "${status}" ${liveMs} ms after the click (ink ${before} → ${grown}); stopped at step ${stopped.step}`,
      );
    } catch (e) {
      await cs.screenshot("python-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
      ws.dispose();
    }
  });

  test("untrusted workspace: no ▶ Run lens, the command says why, nothing runs", {
    skip: torch.skip,
    timeout: 180_000,
  }, async () => {
    const ws = workspaceCopy();
    const file = join(ws.dir, "train_mlp.py");
    writeFileSync(file, TRAIN);
    const cs = await startDevRig(ws.dir, {
      workspaceTrust: true,
      settings: {
        "security.workspace.trust.startupPrompt": "never",
        "learningMechanics.pythonPath": torch.python!,
      },
    });
    try {
      await waitFor(
        "Restricted Mode in the status bar",
        async () => ((await cs.statusBarText()).includes("Restricted Mode") ? true : undefined),
        30_000,
      );
      await cs.openFile("train_mlp.py");
      // The provider ran (its Dashboard lens is there), and offered no Run.
      await cs.waitForCodeLens("Dashboard", 90_000);
      assert.equal(await cs.codeLens("▶ Run").count(), 0, "no ▶ Run lens in Restricted Mode");
      await cs.runCommand("Learning Mechanics: Run Python Experiment");
      const warning = await waitFor(
        "the trust warning",
        async () =>
          (await visibleNotifications(cs)).find((n) =>
            /Running a Python experiment runs its code, so it needs a trusted workspace/.test(n.text),
          ),
        15_000,
        200,
      );
      assert.equal(warning.severity, "warning");
      await sleep(2_000);
      assert.deepEqual(processesRunning(file), [], "no Python started on the script");
      assert.ok(!existsSync(join(ws.dir, "runs")), "no run written");
    } catch (e) {
      await cs.screenshot("python-untrusted-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
      ws.dispose();
    }
  });
});
