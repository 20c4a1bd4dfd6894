// The getting-started walkthrough in code-server: Welcome: Open Walkthrough… lists it, its four
// steps show, and the first step's button writes the example experiment (through the save dialog)
// and opens it. The screenshot (dist/test/e2e/walkthrough.png) is the one in docs/figures/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CodeServer, missingTools, ROOT, waitFor } from "./codeServer";

const TITLE = "Learning Mechanics";
const STEPS = ["Open or create an experiment", "Train it", "Open the panels", "Read a run written by PyTorch"];

describe("e2e: the walkthrough", () => {
  test("opens from Welcome, shows its steps, and its first button creates the example", {
    skip: missingTools() ?? false,
    timeout: 300_000,
  }, async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), "lm-e2e-walkthrough-"));
    const folder = join(tmp, "first-project");
    mkdirSync(folder);
    const cs = await CodeServer.start({ folder });
    try {
      const page = await cs.open({ extensionDevelopmentPath: ROOT });
      await cs.runCommand("Welcome: Open Walkthrough...");
      const pick = page.locator(".quick-input-widget .monaco-list-row", { hasText: TITLE }).first();
      await pick.waitFor({ state: "visible", timeout: 30_000 });
      await pick.click();
      const container = page.locator(".gettingStartedContainer");
      await container.locator(`text=${STEPS[0]}`).first().waitFor({ state: "visible", timeout: 30_000 });
      for (const step of STEPS)
        assert.ok(await container.locator(`text=${step}`).first().isVisible(), `step "${step}" is shown`);
      // The first step's media (markdown, rendered in a webview) has drawn.
      await cs.webviewFrame(undefined, 30_000).then((f) => f.locator("text=An experiment file").first().waitFor());
      const shot = await cs.screenshot("walkthrough");
      t.diagnostic(`screenshot ${shot}`);

      await container
        .locator(".button-link, a.monaco-button", { hasText: "Create Example Experiment" })
        .first()
        .click();
      // The save dialog (code-server's simple dialog) offers <folder>/grokking.experiment.ts.
      const input = page.locator(".quick-input-widget input");
      await input.waitFor({ state: "visible", timeout: 30_000 });
      await waitFor(
        "the dialog to offer first-project/grokking.experiment.ts",
        async () => (/first-project\/grokking\.experiment\.ts$/.test(await input.inputValue()) ? true : undefined),
        30_000,
      );
      await page.keyboard.press("Enter");
      const file = join(folder, "grokking.experiment.ts");
      await waitFor("the example on disk", () => (existsSync(file) ? true : undefined), 30_000);
      assert.match(readFileSync(file, "utf8"), /export const modAdd = modelSystem\(/);
      await page
        .locator('.tab.active[aria-label*="grokking.experiment.ts"]')
        .first()
        .waitFor({ state: "visible", timeout: 30_000 });
      await cs.waitForCodeLens("▶ Train modAdd", 90_000);
    } catch (e) {
      await cs.screenshot("walkthrough-failure").catch(() => undefined);
      throw new Error(`${(e as Error).message}\n${cs.diagnostics()}`, { cause: e });
    } finally {
      await cs.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
