// The torch backend from the extension, end to end in code-server: with the settings
// `learningMechanics.backend: "torch"` and `learningMechanics.pythonPath` (a user setting), the
// `▶ Train` code lens starts a run whose run.json names torch and that interpreter, the loss curves
// gain points live, and Stop ends it as `stopped` with a checkpoint at the stop. Needs the e2e tools
// (scripts/install-test-tools.sh) and a Python with PyTorch (test/support.ts `torchPython`).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunManifest } from "../../src/shared/runFormat";
import { torchPython } from "../support";
import { contributedCommands, since, sleep, waitFor } from "./codeServer";
import { extensionNotReady, startDevRig, waitForGrowingChart, workspaceCopy } from "./helpers";

const notReady = extensionNotReady();
const torch = notReady === undefined ? torchPython() : { python: undefined, skip: notReady };

function stopTitle(): string {
  const stop = contributedCommands().find((c) => c.command === "learningMechanics.stop");
  return stop?.category !== undefined ? `${stop.category}: ${stop.title}` : (stop?.title ?? "Learning Mechanics: Stop");
}

/** The modAdd run under `runsDir` (one or two levels deep) once its run.json parses. */
function modAddRun(runsDir: string): { dir: string; manifest: RunManifest } | undefined {
  if (!existsSync(runsDir)) return undefined;
  const dirs: string[] = [];
  for (const e of readdirSync(runsDir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(runsDir, e.name);
    if (existsSync(join(p, "run.json"))) dirs.push(p);
    else
      for (const f of readdirSync(p, { withFileTypes: true }))
        if (f.isDirectory() && existsSync(join(p, f.name, "run.json"))) dirs.push(join(p, f.name));
  }
  for (const dir of dirs) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunManifest;
      if (manifest.system === "modAdd") return { dir, manifest };
    } catch {
      // being written; the next poll reads it
    }
  }
  return undefined;
}

describe("e2e: training on torch from the code lens", () => {
  test("backend torch: code lens → live curves on torch → stop", { skip: torch.skip, timeout: 300_000 }, async (t) => {
    const python = torch.python!;
    const ws = workspaceCopy();
    const runsDir = join(ws.dir, "runs");
    const cs = await startDevRig(ws.dir, {
      settings: {
        "learningMechanics.backend": "torch",
        "learningMechanics.pythonPath": python,
        "learningMechanics.device": "cpu",
      },
    });
    try {
      await cs.clickExplorerRow("grokking.experiment.ts");
      await cs.waitForCodeLens("▶ Train modAdd", 90_000);
      await cs.clickCodeLens("▶ Train modAdd");
      const tTrain = performance.now();
      const run = await waitFor("a modAdd run folder under runs/", () => modAddRun(runsDir), 120_000);
      assert.equal(run.manifest.backend.name, "torch", JSON.stringify(run.manifest.backend));
      assert.equal(run.manifest.backend.device, "cpu");
      assert.equal(run.manifest.backend.reason, "requested: torch");
      assert.match(run.manifest.backend.versions?.["torch"] ?? "", /^\d+\.\d+/);

      // Live curves: the loss-curves panel gains ink as the worker's metrics arrive.
      const { before, grown } = await waitForGrowingChart(cs, { frameMs: 90_000, growMs: 120_000 });
      assert.ok(grown > before, `chart ink ${before} → ${grown}`);
      const liveMs = since(tTrain);

      await cs.runCommand(stopTitle());
      await sleep(500);
      if (await cs.page.locator(".quick-input-widget").isVisible()) await cs.page.keyboard.press("Enter");
      const stopped = await waitFor(
        "run.json status stopped",
        () => {
          const m = JSON.parse(readFileSync(join(run.dir, "run.json"), "utf8")) as RunManifest;
          return m.status === "stopped" ? m : undefined;
        },
        90_000,
        500,
      );
      assert.equal(stopped.backend.name, "torch");
      const last = readdirSync(join(run.dir, "checkpoints")).sort().at(-1);
      assert.equal(last, `step-${String(stopped.step).padStart(8, "0")}.safetensors`, "a checkpoint at the stop");
      t.diagnostic(`curves growing ${liveMs} ms after the click; stopped at step ${stopped.step}`);
    } catch (e) {
      await cs.screenshot("torch-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
      ws.dispose();
    }
  });
});
