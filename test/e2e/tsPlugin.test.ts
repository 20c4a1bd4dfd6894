// IntelliSense for an experiment file in a new folder outside the repository (no node_modules, no
// tsconfig), from the extension as shipped: the linux-x64 .vsix built by scripts/package.mjs,
// unpacked and loaded in development mode so that the extension-host suite
// (test/e2e/extensionHost/tsPlugin.ts) can read diagnostics, completions and hovers through the
// `vscode` API. VS Code's built-in TypeScript extension serves them, with the shipped server plugin.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CodeServer, missingTools, ROOT, since } from "./codeServer";

const HOST_SUITE = join(ROOT, "dist", "e2e-host", "tsPlugin.js");
const ACTIVATION_SUITE = join(ROOT, "dist", "e2e-host", "activation.js");

const CORRECT = `import { modelSystem, models, optimizers, tasks } from "learning-mechanics";

export const mine = modelSystem({
  task: tasks.modularArithmetic({ p: 23, trainFraction: 0.5 }),
  model: models.mlp({ hidden: [64] }),
  optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1 }),
  steps: 500,
});
`;

function notReady(): string | undefined {
  const missing = missingTools();
  if (missing !== undefined) return missing;
  if (process.platform !== "linux" || process.arch !== "x64") return "packages and runs the linux-x64 .vsix";
  if (!existsSync(HOST_SUITE)) return `${HOST_SUITE} is not built (node scripts/build.mjs)`;
  return undefined;
}

describe("e2e: IntelliSense for experiment files in any folder", () => {
  test("a new folder: no error on a correct file, one on a type error, completions after `tasks.`, hover docs", {
    skip: notReady() ?? false,
    timeout: 420_000,
  }, async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), "lm-e2e-tsplugin-"));
    let cs: CodeServer | undefined;
    try {
      const t0 = performance.now();
      execFileSync(process.execPath, [join(ROOT, "scripts", "package.mjs"), "--targets", "linux-x64", "--out", tmp], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      const unpacked = join(tmp, "unpacked");
      execFileSync("unzip", ["-q", join(tmp, "learning-mechanics-linux-x64.vsix"), "-d", unpacked]);
      const packagedMs = since(t0);

      const folder = join(tmp, "my-experiments");
      mkdirSync(folder);
      writeFileSync(join(folder, "mine.experiment.ts"), CORRECT);
      writeFileSync(join(folder, "broken.experiment.ts"), CORRECT.replace("steps: 500", 'steps: "500"'));

      cs = await CodeServer.start({ folder });
      await cs.open({ extensionDevelopmentPath: join(unpacked, "extension"), extensionTestsPath: HOST_SUITE });
      const code = await cs.exitCode(300_000);
      const lines = cs.console.filter((l) => l.includes("[lm-e2e]"));
      t.diagnostic(lines.join("\n"));
      assert.equal(code, 0, `extension host suite failed\n${cs.diagnostics()}`);
      assert.ok(
        lines.some((l) => l.includes("ok mine.experiment.ts has no diagnostics")),
        lines.join("\n"),
      );
      t.diagnostic(`package + unzip ${packagedMs} ms, workbench load ${cs.timings.workbenchLoad} ms`);
    } finally {
      await cs?.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("a folder with only a TypeScript file: the extension stays inactive until one of its commands runs", {
    skip: missingTools() ?? (existsSync(ACTIVATION_SUITE) ? false : `${ACTIVATION_SUITE} is not built`),
    timeout: 300_000,
  }, async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), "lm-e2e-activation-"));
    let cs: CodeServer | undefined;
    try {
      const folder = join(tmp, "plain-project");
      mkdirSync(folder);
      writeFileSync(join(folder, "util.ts"), "export const n: number = 'not a number';\n");
      cs = await CodeServer.start({ folder });
      await cs.open({ extensionDevelopmentPath: ROOT, extensionTestsPath: ACTIVATION_SUITE });
      const code = await cs.exitCode(240_000);
      const lines = cs.console.filter((l) => l.includes("[lm-e2e]"));
      t.diagnostic(lines.join("\n"));
      assert.equal(code, 0, `extension host suite failed\n${cs.diagnostics()}`);
      assert.ok(
        lines.some((l) => l.includes("ok a TypeScript file alone does not activate")),
        lines.join("\n"),
      );
    } finally {
      await cs?.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
