// e2e: what the extension adds to editors. A checkpoint path in any file gets a hover with the
// checkpoint's step, size and tensor table (checked against the file itself, decoded here), and
// Train on a broken experiment puts the trainer's error into Problems at the right line.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { OPTIMIZER_TENSOR_PREFIX } from "../../src/shared/runFormat";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import type { CodeServer } from "./codeServer";
import { since, waitFor } from "./codeServer";
import {
  cliTrain,
  extensionNotReady,
  FIXTURES,
  hoverText,
  notifications,
  problems,
  type ProblemRow,
  startDevRig,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: CodeServer[] = [];
after(async () => {
  for (const cs of live.splice(0)) await cs.close();
});

/** ‖w‖ and ‖w − w0‖ / ‖w0‖ over a tensor's values, in float64. */
function stats(w: ArrayLike<number>, w0: ArrayLike<number>): { norm: number; relChange: number } {
  let sq = 0;
  let sq0 = 0;
  let diff = 0;
  for (let i = 0; i < w.length; i++) {
    const a = w[i] as number;
    const b = w0[i] as number;
    sq += a * a;
    sq0 += b * b;
    diff += (a - b) * (a - b);
  }
  // A tensor initialized to zero (a bias) has no relative change: the hover shows "—".
  return { norm: Math.sqrt(sq), relChange: sq0 > 0 ? Math.sqrt(diff / sq0) : Number.NaN };
}

/** A number as the hover prints it ("1.234", "5.6e-4", "1,234") → number. */
function parseShown(s: string): number {
  return Number(s.replace(/,/g, "").replace("−", "-"));
}

describe("e2e: editor features", () => {
  test("hovering a checkpoint path in notes.md shows its step, size and tensors", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async (t) => {
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const runDir = join(ws.dir, "runs", "ckpt");
    mkdirSync(join(ws.dir, "runs"));
    let t0 = performance.now();
    const steps = 10;
    const cliMs = await cliTrain(ws.dir, join(ws.dir, "tiny.experiment.ts"), "tinyAdd", runDir, steps);
    const rel = `runs/ckpt/checkpoints/step-${String(steps).padStart(8, "0")}.safetensors`;
    writeFileSync(join(ws.dir, "notes.md"), `# Notes\n\nThe checkpoint after ${steps} steps is ${rel} (tinyAdd).\n`);
    let cs: CodeServer | undefined;
    try {
      cs = await startDevRig(ws.dir);
      live.push(cs);
      const startMs = since(t0);
      t0 = performance.now();
      await cs.openFile("notes.md");
      const hover = await hoverText(cs, `step-${String(steps).padStart(8, "0")}`);
      // The provider answers after reading the header: wait for the table, not the first paint.
      await hover.locator("table").first().waitFor({ state: "visible", timeout: 30_000 });
      const text = (await hover.innerText()).replace(/\s+/g, " ");
      const table = await hover
        .locator("table tr")
        .evaluateAll((trs) =>
          trs.map((tr) => [...tr.querySelectorAll("th, td")].map((c) => (c.textContent ?? "").trim())),
        );
      const hoverMs = since(t0);
      await cs.screenshot("checkpoint-hover");

      // What the file holds, read here independently of the extension.
      const file = join(ws.dir, rel);
      const ckpt = readSafetensorsSync(file);
      const init = readSafetensorsSync(join(runDir, "checkpoints", "step-00000000.safetensors"));
      const params = ckpt.tensors.filter((x) => !x.name.startsWith(OPTIMIZER_TENSOR_PREFIX));
      assert.ok(
        params.length >= 2,
        `the checkpoint holds model parameters: ${ckpt.tensors.map((x) => x.name).join(", ")}`,
      );

      assert.match(text, new RegExp(`Checkpoint · step ${steps}\\b`), `hover: ${text}`);
      // Size: "12.3 KB" is the file's size in KiB to one decimal.
      const size = /(\d+(?:\.\d+)?) (B|KB|MB)\b/.exec(text);
      assert.ok(size, `a file size in the hover: ${text}`);
      const unit = { B: 1, KB: 1024, MB: 1024 * 1024 }[size[2] as "B" | "KB" | "MB"];
      const bytes = statSync(file).size;
      assert.ok(Math.abs(Number(size[1]) * unit - bytes) <= 0.05 * unit + 0.5, `shown ${size[0]} vs ${bytes} bytes`);
      assert.match(
        text,
        new RegExp(
          `${params.length} parameter tensors?, ${params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0).toLocaleString("en-US")} values`,
        ),
      );

      const [head, ...body] = table;
      assert.deepEqual(head, ["parameter", "shape", "dtype", "‖W‖", "‖W−W₀‖/‖W₀‖"]);
      assert.equal(body.length, params.length, `one row per parameter tensor: ${JSON.stringify(body)}`);
      const zeroInit: string[] = [];
      for (const p of params) {
        const row = body.find((r) => r[0] === p.name);
        assert.ok(row, `a row for ${p.name}: ${JSON.stringify(body)}`);
        assert.equal(row[1], p.shape.length === 0 ? "scalar" : p.shape.join(" × "), `${p.name} shape`);
        assert.equal(row[2], p.dtype, `${p.name} dtype`);
        const w0 = init.byName.get(p.name);
        assert.ok(w0, `${p.name} in the step-0 checkpoint`);
        const want = stats(p.data, w0.data);
        // Shown to 4 significant digits.
        const norm = parseShown(row[3] ?? "");
        const relChange = parseShown(row[4] ?? "");
        assert.ok(
          Math.abs(norm - want.norm) <= 1e-3 * want.norm,
          `${p.name} ‖W‖ shown ${row[3]}, computed ${want.norm}`,
        );
        if (Number.isNaN(want.relChange)) {
          assert.equal(row[4], "—", `${p.name} starts at zero: no relative change`);
          zeroInit.push(p.name);
        } else {
          assert.ok(want.relChange > 0, `${p.name} moved in ${steps} steps`);
          assert.ok(
            Math.abs(relChange - want.relChange) <= 1e-3 * want.relChange,
            `${p.name} relative change shown ${row[4]}, computed ${want.relChange}`,
          );
        }
      }
      assert.ok(zeroInit.length < params.length, "some weights have a relative change to check");
      const optimizerTensors = ckpt.tensors.length - params.length;
      if (optimizerTensors > 0) assert.match(text, new RegExp(`optimizer state: ${optimizerTensors} tensors?`));
      t.diagnostic(
        `timings ms: CLI run ${cliMs}, CLI + server + workbench ${startMs}, open notes.md + hover with table ${hoverMs}; ${params.length} parameter rows checked (zero-initialized, relative change "—": ${zeroInit.join(", ") || "none"})`,
      );
    } catch (e) {
      await cs?.screenshot("checkpoint-hover-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      await cs?.close();
      ws.dispose();
    }
  });

  test("Train on an invalid config and on a syntax error: Problems shows each at its line", {
    skip: notReady ?? false,
    timeout: 180_000,
  }, async (t) => {
    const ws = workspaceCopy(["invalid-config.experiment.ts", "syntax-error.experiment.ts"]);
    // Where each error belongs, from the fixtures' text: config problems at the modelSystem( call
    // of the system (the SDK cannot point into an object literal), the syntax error at the stray ")".
    const invalidLines = readFileSync(join(FIXTURES, "invalid-config.experiment.ts"), "utf8").split("\n");
    const configIdx = invalidLines.findIndex((l) => /export const invalid = modelSystem\(/.test(l));
    const configAt = { line: configIdx + 1, column: (invalidLines[configIdx] ?? "").indexOf("modelSystem(") + 1 };
    const syntaxLines = readFileSync(join(FIXTURES, "syntax-error.experiment.ts"), "utf8").split("\n");
    const syntaxIdx = syntaxLines.findIndex((l) => l.includes("p: 7 )"));
    const syntaxAt = {
      line: syntaxIdx + 1,
      column: (syntaxLines[syntaxIdx] ?? "").indexOf("p: 7 )") + "p: 7 ".length + 1,
    };
    assert.ok(configIdx >= 0 && syntaxIdx >= 0, "fixtures as expected");
    let cs: CodeServer | undefined;
    const ours = (rows: ProblemRow[]): ProblemRow[] => rows.filter((r) => r.text.includes("learning-mechanics"));
    try {
      let t0 = performance.now();
      cs = await startDevRig(ws.dir);
      live.push(cs);
      const startMs = since(t0);

      t0 = performance.now();
      await cs.openFile("invalid-config.experiment.ts");
      await cs.clickCodeLens("▶ Train invalid", 90_000);
      const config = await waitFor(
        "the config problems in Problems",
        async () => {
          const rows = ours(await problems(cs!));
          return rows.length >= 2 ? rows : undefined;
        },
        60_000,
        500,
      );
      const configMs = since(t0);
      const trainFraction = config.find((r) => r.text.includes("task.trainFraction: must be in (0, 1]"));
      const hidden = config.find((r) => r.text.includes("model.hidden[1]: must be a positive integer"));
      assert.ok(trainFraction && hidden, `rows ${JSON.stringify(config)}`);
      for (const r of [trainFraction, hidden]) {
        assert.equal(r.file, "invalid-config.experiment.ts", `under its file: ${JSON.stringify(r)}`);
        assert.deepEqual(
          { line: r.line, column: r.column },
          configAt,
          `at the modelSystem( call: ${JSON.stringify(r)}`,
        );
      }
      // And the error is said out loud, not only in Problems. (The problems may come first: the
      // extension lists an experiment file when it is opened, before Train's run reports.)
      let toasts: Awaited<ReturnType<typeof notifications>> = [];
      const said = await waitFor(
        "the error notification",
        async () => {
          toasts = await notifications(cs!);
          return toasts.some((n) => n.severity === "error" && /trainFraction/.test(n.text)) ? true : undefined;
        },
        30_000,
        1_000,
      ).catch(() => false);
      assert.ok(said, `error notification: ${JSON.stringify(toasts)}`);
      await cs.screenshot("problems-config");

      t0 = performance.now();
      await cs.openFile("syntax-error.experiment.ts");
      await cs.clickCodeLens("▶ Train broken", 90_000);
      const syntax = await waitFor(
        "the syntax error in Problems",
        async () => {
          const rows = ours(await problems(cs!)).filter((r) => r.file === "syntax-error.experiment.ts");
          return rows.length > 0 ? rows : undefined;
        },
        60_000,
        500,
      );
      const syntaxMs = since(t0);
      assert.equal(syntax.length, 1, `one trainer problem for the syntax error: ${JSON.stringify(syntax)}`);
      // The message itself, not the path and position again (Problems shows those beside it).
      assert.match(syntax[0]!.text, /^Expected "\}" but found "\)"/);
      assert.deepEqual({ line: syntax[0]!.line, column: syntax[0]!.column }, syntaxAt);
      // The config problems of the other file stay where they were.
      assert.equal(
        ours(await problems(cs)).filter((r) => r.file === "invalid-config.experiment.ts").length,
        config.length,
      );
      await cs.screenshot("problems-syntax");
      t.diagnostic(
        `timings ms: server + workbench ${startMs}, open + Train → config problems ${configMs}, open + Train → syntax problem ${syntaxMs}; rows ${JSON.stringify([...config, ...syntax].map((r) => r.text))}`,
      );
    } catch (e) {
      await cs?.screenshot("problems-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      await cs?.close();
      ws.dispose();
    }
  });
});
