// e2e: the analyzer and the three analysis panels on a run the real CLI trainer writes while the
// workbench is open. Auto-analysis (learningMechanics.autoAnalyze = "runRoots", the default) must
// write analyses/{weights,kernel,fourier,tracin}.jsonl with one record per checkpoint; the Runs
// view's context menu opens the grokking panel (verdict and t_mem as the detector computes them
// from the run's metrics, and an independent closed form of t_mem), the lazy-vs-rich panel (the
// regime badge as lazyRichRun computes it from the same folder) and the influence panel (one row
// per scored training example, a clicked cell shows that example's text); the influence panel's
// rerun form archives the old TracIn file and writes one with the new projection dimension.
// In Restricted Mode only the weight-space analysis (which loads no experiment code) runs.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Frame } from "playwright-core";
import { grokkingReport, lazyRichRun, loadRunData } from "../../src/shared/analysisViews";
import type { RunManifest } from "../../src/shared/runFormat";
import type { CodeServer } from "./codeServer";
import { since, sleep, waitFor } from "./codeServer";
import {
  cliTrain,
  contextMenuAction,
  extensionNotReady,
  inkedPixels,
  openRunsView,
  RUNS_PANE,
  runsRow,
  startDevRig,
  waitForInk,
  waitForQuietDom,
  workspaceCopy,
} from "./helpers";

const notReady = extensionNotReady();
const live: CodeServer[] = [];
after(async () => {
  for (const cs of live.splice(0)) await cs.close();
});

/** tinyAdd (p = 11, evaluation every 5 steps, a checkpoint every 20) memorizes its 73 training pairs by step ~350. */
const STEPS = 400;
const MODEL_ANALYSES = ["weights", "kernel", "fourier", "tracin"] as const;

/** Checkpoint steps of a run folder, from the file names (docs/run-format.md). */
function checkpointSteps(runDir: string): number[] {
  return readdirSync(join(runDir, "checkpoints"))
    .map((f) => /^step-(\d+)\.safetensors$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

interface AnalysisLines {
  header: {
    analysis: string;
    settings: Record<string, unknown>;
    query?: string;
    examples?: { index: number; label?: unknown; text: string }[];
  };
  steps: number[];
}

/** An analysis file's header and record steps; undefined while it does not exist. Only whole lines count. */
function readLines(runDir: string, analysis: string): AnalysisLines | undefined {
  return readJsonl(join(runDir, "analyses", `${analysis}.jsonl`));
}

/**
 * A number as the influence page prints it (src/webview/common/chartAxes.ts formatNumber; that
 * module imports DOM-only theme code, which the Node side of the tests does not type-check).
 */
function formatNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Every line of an analysis file (header first). */
function readRecords(runDir: string, analysis: string): Record<string, unknown>[] {
  return readFileSync(join(runDir, "analyses", `${analysis}.jsonl`), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function readJsonl(path: string): AnalysisLines | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8");
  const lines = text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l !== "");
  if (lines.length === 0) return undefined;
  const [head, ...records] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { header: head as AnalysisLines["header"], steps: records.map((r) => r["step"] as number) };
}

/** Waits until every analysis in `names` has exactly one record per checkpoint step. */
async function waitForAnalyses(
  runDir: string,
  names: readonly string[],
  timeoutMs: number,
): Promise<Record<string, AnalysisLines>> {
  const want = checkpointSteps(runDir);
  // What was there when the wait gave up, for the message: which analyses lag, at which steps.
  const seen: Record<string, string> = {};
  try {
    return await waitFor(
      `analyses ${names.join(", ")} of ${runDir} at steps ${want.join(",")}`,
      () => {
        const out: Record<string, AnalysisLines> = {};
        let complete = true;
        for (const n of names) {
          const f = readLines(runDir, n);
          seen[n] = f === undefined ? "no file" : `steps ${f.steps.join(",")}`;
          if (f === undefined || JSON.stringify(f.steps) !== JSON.stringify(want)) complete = false;
          else out[n] = f;
        }
        return complete ? out : undefined;
      },
      timeoutMs,
      250,
    );
  } catch (e) {
    const lagging = Object.entries(seen).map(([n, s]) => `${n}: ${s}`);
    throw new Error(`${(e as Error).message}; last seen: ${lagging.join("; ")}`, { cause: e });
  }
}

/** t_mem by its definition (docs/analyses.md, Grokking): the first step of the first run of `hold` consecutive evaluations with train accuracy ≥ `threshold`. */
function firstHeld(
  metrics: readonly Record<string, unknown>[],
  key: string,
  threshold: number,
  hold: number,
): number | undefined {
  let start: number | undefined;
  let length = 0;
  for (const r of metrics) {
    const v = r[key];
    if (typeof v !== "number") continue;
    if (v >= threshold) {
      start = length === 0 ? (r["step"] as number) : start;
      length++;
      if (length >= hold) return start;
    } else length = 0;
  }
  return undefined;
}

/**
 * The content frame of the visible webview that has `selector` (each analysis page has its own
 * element: #cards, #regime, #heatmap). Webview iframes live in an overlay outside their editor
 * group, so this is how a test tells panels apart.
 */
async function frameWith(cs: CodeServer, selector: string, timeoutMs = 60_000): Promise<Frame> {
  return waitFor(
    `a webview with ${selector}`,
    async () => {
      for (const outer of await cs.page.locator("iframe.webview.ready").elementHandles()) {
        if (!(await outer.isVisible())) continue;
        const inner = await (await outer.contentFrame())?.$("iframe#active-frame");
        const frame = await inner?.contentFrame();
        if (frame && (await frame.$(selector)) !== null) return frame;
      }
      return undefined;
    },
    timeoutMs,
    300,
  );
}

/** Opens an analysis panel from the run's context menu; retries once if a tree redraw swallowed the click. */
async function openFromRunsView(cs: CodeServer, runId: string, action: string, selector: string): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    await openRunsView(cs);
    await waitForQuietDom(cs, `${RUNS_PANE} .monaco-list`, 800, 30_000);
    await contextMenuAction(cs, runsRow(cs, runId), action);
    try {
      return await frameWith(cs, selector, attempt === 1 ? 20_000 : 60_000);
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

describe("e2e: the analyzer and the analysis panels", () => {
  test("auto-analysis of a new run; grokking, lazy vs rich and influence panels; rerun TracIn with another projection", {
    skip: notReady ?? false,
    timeout: 240_000,
  }, async (t) => {
    const timings: Record<string, number> = {};
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const runs = join(ws.dir, "runs");
    mkdirSync(runs);
    const runId = "grok";
    const runDir = join(runs, runId);
    let cs: CodeServer | undefined;
    try {
      let t0 = performance.now();
      cs = await startDevRig(ws.dir);
      live.push(cs);
      timings["server + workbench"] = since(t0);
      // The extension is active (and its run-root watcher up) once the Runs view is there.
      await openRunsView(cs);
      await sleep(1_500);

      // 1. A run written after the window opened is analysed on its own.
      t0 = performance.now();
      timings["CLI run"] = await cliTrain(ws.dir, join(ws.dir, "tiny.experiment.ts"), "tinyAdd", runDir, STEPS);
      const steps = checkpointSteps(runDir);
      assert.deepEqual(
        steps,
        Array.from({ length: STEPS / 20 + 1 }, (_, i) => i * 20),
        "a checkpoint every 20 steps, the first at 0 and the last at the end",
      );
      const files = await waitForAnalyses(runDir, MODEL_ANALYSES, 90_000);
      timings["run start → analyses complete"] = since(t0);
      // The run's final run.json (written a few ms after its last checkpoint's) reached the view.
      const row = runsRow(cs, runId);
      await waitFor(
        `the ${runId} row to say finished`,
        async () =>
          (await row.innerText().catch(() => "")).replace(/\s+/g, " ").includes(`finished · step ${STEPS}/${STEPS}`)
            ? true
            : undefined,
        15_000,
        250,
      );
      for (const n of MODEL_ANALYSES) assert.equal(files[n]!.header.analysis, n, `header of ${n}.jsonl`);
      const examples = files["tracin"]!.header.examples ?? [];
      assert.ok(examples.length > 0, "tracin.jsonl's header lists the scored examples");

      // What the panels must show, computed here from the same folder.
      const manifest = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as RunManifest;
      const data = loadRunData(runDir, manifest);
      const report = grokkingReport(data);
      const tMemByDefinition = firstHeld(data.metrics, "train_acc", 0.99, 3);
      assert.ok(
        tMemByDefinition !== undefined,
        `tinyAdd memorized within ${STEPS} steps (last train_acc ${String(data.metrics.at(-1)?.["train_acc"])})`,
      );
      assert.equal(
        report.tMem,
        tMemByDefinition,
        "the detector's t_mem is the first step of 3 evaluations held at ≥ 0.99",
      );
      const lazyRich = lazyRichRun({ runId: runDir, label: runId, colorIndex: 0 }, data);
      assert.ok(lazyRich.regime !== null, "the lazy-vs-rich regime is classified from the analyses");

      // 2. Grokking panel: the summary card and the charts.
      t0 = performance.now();
      const grok = await openFromRunsView(cs, runId, "Open Grokking Panel…", "#cards");
      const card = grok.locator(`#cards .card`).first();
      await card.locator(".v-tmem").waitFor({ state: "visible", timeout: 30_000 });
      assert.equal((await card.locator(".card-label").innerText()).trim(), runId);
      const badgeClass = (await card.locator(".badge").getAttribute("class")) ?? "";
      assert.ok(
        badgeClass.split(/\s+/).includes(`badge-${report.verdict.kind}`),
        `verdict badge ${badgeClass} for ${report.verdict.kind}`,
      );
      assert.equal((await card.locator(".v-tmem").innerText()).trim(), String(tMemByDefinition));
      assert.equal(
        (await card.locator(".v-tgen").innerText()).trim(),
        report.tGen === undefined ? "—" : String(report.tGen),
      );
      const grokInk = await waitForInk(grok, 2_000);
      assert.ok((await grok.evaluate<number>(inkedPixels("#mainChart"))) > 2_000, "the main chart drew");
      const grokCanvases = await grok.locator("canvas").count();
      assert.ok(grokCanvases >= 2, `main chart and indicator charts: ${grokCanvases} canvases`);
      timings["Grokking panel"] = since(t0);
      await cs.screenshot("analysis-grokking");

      // 3. Lazy vs rich: the badge, and a per-layer chart of relative weight change.
      t0 = performance.now();
      const lr = await openFromRunsView(cs, runId, "Open Lazy vs Rich Panel…", "#regime");
      const badge = lr.locator("#regime .badge").first();
      await badge.waitFor({ state: "visible", timeout: 30_000 });
      assert.equal((await badge.innerText()).trim(), lazyRich.regime!.badge);
      assert.ok(["lazy", "transitioning", "rich"].includes((await badge.innerText()).trim()));
      const rwc = lr.locator('#runView .lr-cell[data-metric="relativeWeightChange"]');
      assert.equal(await rwc.count(), 1, "a relative-weight-change cell");
      assert.equal(
        await rwc.evaluate((e) => e.classList.contains("missing")),
        false,
        "relative weight change is not missing",
      );
      assert.equal(await rwc.locator("canvas").count(), 1, "relative weight change has its chart");
      for (const m of ["kernelDistance", "cka"]) {
        assert.equal(
          await lr.locator(`#runView .lr-cell.missing[data-metric="${m}"]`).count(),
          0,
          `${m} is not missing in a trusted workspace`,
        );
      }
      const lrInk = await waitForInk(lr, 2_000);
      timings["Lazy vs rich panel"] = since(t0);
      await cs.screenshot("analysis-lazy-rich");

      // 4. Influence: one heatmap row per scored example; a clicked cell shows its example.
      t0 = performance.now();
      const inf = await openFromRunsView(cs, runId, "Open Influence Panel…", "#heatmap");
      // Third of three panels side by side: the heatmap keeps a usable width (its side view used to
      // take all of it), and it draws there.
      const narrow = await waitFor(
        "the heatmap's width",
        async () => {
          const w = await inf.locator("#heatScroll").evaluate((e) => e.clientWidth);
          return w > 0 ? w : undefined;
        },
        15_000,
        200,
      );
      assert.ok(narrow >= 150, `heatmap ${narrow} px wide beside two other panels`);
      await cs.screenshot("analysis-three-panels");
      // Then alone in the editor area, for clicks on rows of a usable height.
      await cs.runCommand("View: Close Editors in Other Groups");
      await waitFor(
        "the other panels to close",
        async () => ((await cs!.page.locator(".tabs-container .tab").count()) === 1 ? true : undefined),
        15_000,
        200,
      );
      await waitFor(
        "the influence panel to take the editor area",
        async () => ((await inf.locator("#heatScroll").evaluate((e) => e.clientWidth)) > 600 ? true : undefined),
        15_000,
        200,
      );
      await waitFor(
        "the heatmap to draw",
        async () => ((await inf.locator("#empty").isHidden()) ? true : undefined),
        30_000,
        200,
      );
      const heatInk = await waitFor(
        "heatmap cells",
        async () => {
          const ink = await inf.evaluate<number>(inkedPixels("#heatmap"));
          return ink > 5_000 ? ink : undefined;
        },
        30_000,
        250,
      );
      assert.equal((await inf.locator("#runLabel").innerText()).trim(), runId);
      const query = files["tracin"]!.header.query ?? "";
      assert.match(query, /^\d+ test examples$/, "tracin.jsonl's header names its query set");
      assert.equal(
        (await inf.locator("#query").innerText()).trim(),
        `influence on: η ∇ℓ(z)·∇ℓ(query), positive: a step on z lowers the loss of ${query}`,
      );
      // Fit mode: plot rows [4, cssH − 22) CSS px of the canvas (MARGIN in influence/main.ts), n rows
      // of equal height, sorted by example index. A click in row k's middle must show example k.
      const box = (await inf.locator("#heatmap").boundingBox())!;
      const plot = { top: 4, height: box.height - 4 - 22, left: 64, width: box.width - 64 - 4 - 6 - 4 };
      const n = examples.length;
      const clickRow = async (k: number, col: number): Promise<{ title: string; text: string }> => {
        const x = box.x + plot.left + ((col + 0.5) * plot.width) / steps.length;
        const y = box.y + plot.top + ((k + 0.5) * plot.height) / n;
        await inf.page().mouse.click(x, y);
        await inf.locator("#sideExample").waitFor({ state: "visible", timeout: 10_000 });
        await sleep(150);
        return {
          title: (await inf.locator("#exTitle").innerText()).trim(),
          text: (await inf.locator("#exText").innerText()).trim(),
        };
      };
      let lastClicked: readonly [number, number] = [0, 0];
      for (const [k, col] of [
        [0, 0],
        [Math.floor(n / 2), steps.length - 1],
        [n - 1, 1],
      ] as const) {
        lastClicked = [k, col];
        const ex = examples[k]!;
        const shown = await clickRow(k, col);
        const dataIndex = (ex as { dataIndex?: number }).dataIndex;
        assert.equal(typeof dataIndex, "number", "a built-in task's rows name their data.json index");
        assert.equal(
          shown.title,
          `Example ${ex.index} (data.json #${dataIndex}) · label ${String(ex.label)}`,
          `row ${k} of ${n}`,
        );
        assert.equal(shown.text, ex.text, `row ${k}: the example's text from tracin.jsonl's header`);
        assert.match(shown.text, /^\d+ \+ \d+ = \d+ \(mod 11\)$/);
        const facts = await inf.locator("#exFacts").innerText();
        assert.match(facts, new RegExp(`step ${steps[col]}\\b`), `the clicked checkpoint: ${facts}`);
      }
      // Rows of height plot/n: with n ± 1 rows the middle of row n − 1 would pick another example.
      assert.equal(n, new Set(examples.map((e) => e.index)).size, "distinct scored examples");
      await cs.screenshot("analysis-influence");
      timings["Influence panel"] = since(t0);

      // 5. Rerun TracIn with another projection dimension from the form. The default (64) is at
      // least every layer's width here, so LoGra's projection is exact; 4 is not, so the scores change.
      t0 = performance.now();
      const before = files["tracin"]!.header.settings["projectionDim"];
      const projectionDim = 4;
      assert.notEqual(before, projectionDim);
      const oldRecords = readRecords(runDir, "tracin");
      await inf.locator("#rerun > summary").click();
      const input = inf.locator('input[name="tracin.projectionDim"]');
      assert.equal(
        await input.inputValue(),
        String(before),
        "the form is prefilled with the settings the analysis ran with",
      );
      await input.fill(String(projectionDim));
      await inf.locator('.rerun-btn[data-analysis="tracin"]').click();
      await waitFor(
        "the rerun status",
        async () =>
          (await inf.locator("#rerunStatus").innerText()).includes("Asked to rerun tracin") ? true : undefined,
        10_000,
        200,
      );
      const archiveDir = join(runDir, "analyses", "archive");
      const archived = await waitFor(
        "the old tracin.jsonl in analyses/archive/",
        () => {
          const got = existsSync(archiveDir) ? readdirSync(archiveDir).filter((f) => /^tracin-.*\.jsonl$/.test(f)) : [];
          return got.length > 0 ? got : undefined;
        },
        60_000,
        250,
      );
      assert.equal(archived.length, 1, `one archived tracin file: ${archived.join(", ")}`);
      const old = readJsonl(join(archiveDir, archived[0]!));
      assert.equal(old?.header.settings["projectionDim"], before, "the archived file is the old one");
      assert.deepEqual(old?.steps, steps, "the archived file kept all its records");
      const rerun = await waitFor(
        "a new tracin.jsonl with the new projection",
        () => {
          const f = readLines(runDir, "tracin");
          return f &&
            f.header.settings["projectionDim"] === projectionDim &&
            JSON.stringify(f.steps) === JSON.stringify(steps)
            ? f
            : undefined;
        },
        90_000,
        250,
      );
      assert.deepEqual(rerun.header.examples, examples, "the same examples are scored");
      assert.deepEqual(
        readdirSync(archiveDir).filter((f) => !f.startsWith("tracin-")),
        [],
        "no other analysis is re-run",
      );
      // The panel reloads: the selected cell's TracIn is the new file's value.
      const newRecords = readRecords(runDir, "tracin");
      const [selRow, selCol] = lastClicked;
      const shownValue = (recs: Record<string, unknown>[]): string =>
        formatNumber((recs[selCol + 1]!["values"] as number[])[selRow]!);
      assert.notEqual(shownValue(newRecords), shownValue(oldRecords), "a 4-dimensional projection changes the scores");
      const facts = await waitFor(
        "the side view to show the new score",
        async () => {
          const text = await inf.locator("#exFacts").innerText();
          return text.includes(shownValue(newRecords)) ? text : undefined;
        },
        30_000,
        250,
      );
      assert.ok(!facts.includes(shownValue(oldRecords)), `the old score is gone: ${facts}`);
      timings["rerun TracIn"] = since(t0);
      await cs.screenshot("analysis-influence-rerun");
      t.diagnostic(
        `timings ms: ${JSON.stringify(timings)}; server start ${cs.timings.serverStart}, workbench load ${cs.timings.workbenchLoad}; ink grokking ${grokInk}, lazy-rich ${lrInk}, heatmap ${heatInk}; ${n} examples × ${steps.length} checkpoints; verdict ${report.verdict.kind}, t_mem ${tMemByDefinition}, regime ${lazyRich.regime!.badge}`,
      );
    } catch (e) {
      await cs?.screenshot("analysis-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      await cs?.close();
      ws.dispose();
    }
  });

  test("Restricted Mode: auto-analysis writes the weight-space analysis only", {
    skip: notReady ?? false,
    timeout: 120_000,
  }, async (t) => {
    const ws = workspaceCopy(["tiny.experiment.ts"]);
    const runs = join(ws.dir, "runs");
    mkdirSync(runs);
    const runDir = join(runs, "restricted");
    let cs: CodeServer | undefined;
    try {
      let t0 = performance.now();
      cs = await startDevRig(ws.dir, {
        workspaceTrust: true,
        settings: { "security.workspace.trust.startupPrompt": "never" },
      });
      live.push(cs);
      await waitFor(
        "Restricted Mode in the status bar",
        async () => ((await cs!.statusBarText()).includes("Restricted Mode") ? true : undefined),
        30_000,
      );
      await openRunsView(cs);
      await sleep(1_500);
      const serverMs = since(t0);
      t0 = performance.now();
      await cliTrain(ws.dir, join(ws.dir, "tiny.experiment.ts"), "tinyAdd", runDir, 60);
      await waitForAnalyses(runDir, ["weights", "conservation"], 60_000);
      const analysedMs = since(t0);
      // Give a (wrong) model analysis time to show up before concluding it does not.
      await sleep(3_000);
      const written = readdirSync(join(runDir, "analyses")).sort();
      assert.deepEqual(
        written,
        ["conservation.jsonl", "weights.jsonl"],
        `only the checkpoint analyses (weights, conservation) in Restricted Mode: ${written.join(", ")}`,
      );
      t.diagnostic(`timings ms: server + workbench ${serverMs}, run start → weights.jsonl complete ${analysedMs}`);
    } catch (e) {
      await cs?.screenshot("analysis-restricted-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs?.diagnostics() ?? ""}`, { cause: e });
    } finally {
      await cs?.close();
      ws.dispose();
    }
  });
});
