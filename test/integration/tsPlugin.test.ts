// The TypeScript server plugin (src/tsPlugin) inside a real tsserver, loaded the way VS Code's
// TypeScript extension loads it (--globalPlugins NAME --pluginProbeLocations EXTENSION_DIR, the
// plugin under EXTENSION_DIR/node_modules/NAME, the declarations under EXTENSION_DIR/dist/types),
// on an experiment file in a folder with no node_modules and no tsconfig. The same file without
// the plugin is the control: "learning-mechanics" is then an unresolved module.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { repoRoot, tempDir } from "../support";
import { tasks } from "../../src/sdk/index";

const PLUGIN = "learning-mechanics-ts-plugin";

interface TsResponse {
  request_seq: number;
  success: boolean;
  message?: string;
  body?: unknown;
}

/** A tsserver child speaking its protocol: JSON requests on stdin, Content-Length framed messages on stdout. */
class TsServer {
  private seq = 0;
  private buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, (r: TsResponse) => void>();
  readonly log: string[] = [];

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (d: Buffer) => this.onData(d));
    child.stderr.on("data", (d: Buffer) => this.log.push(d.toString()));
  }

  static start(args: string[], logFile: string): TsServer {
    const tsserver = join(repoRoot(), "node_modules", "typescript", "lib", "tsserver.js");
    const child = spawn(
      process.execPath,
      [tsserver, "--disableAutomaticTypingAcquisition", "--logVerbosity", "normal", "--logFile", logFile, ...args],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    return new TsServer(child);
  }

  private onData(d: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, d]);
    for (;;) {
      const header = this.buffer.indexOf("\r\n\r\n");
      if (header < 0) return;
      const m = /Content-Length: (\d+)/.exec(this.buffer.subarray(0, header).toString());
      if (m === null) throw new Error(`tsserver sent an unframed message: ${this.buffer.toString().slice(0, 200)}`);
      const end = header + 4 + Number(m[1]);
      if (this.buffer.length < end) return;
      const message = JSON.parse(this.buffer.subarray(header + 4, end).toString()) as { type: string } & TsResponse;
      this.buffer = this.buffer.subarray(end);
      if (message.type === "response") {
        this.pending.get(message.request_seq)?.(message);
        this.pending.delete(message.request_seq);
      }
    }
  }

  /** Sends a request; resolves with its body (rejects with tsserver's message when it fails). */
  request(command: string, args: unknown): Promise<unknown> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tsserver: no answer to ${command} within 180 s`)), 180_000);
      this.pending.set(seq, (r) => {
        clearTimeout(timer);
        if (r.success) resolve(r.body);
        else reject(new Error(`tsserver ${command}: ${r.message ?? "failed"}`));
      });
      this.child.stdin.write(`${JSON.stringify({ seq, type: "request", command, arguments: args })}\n`);
    });
  }

  /** A request tsserver does not answer (open, configure). */
  notify(command: string, args: unknown): void {
    this.child.stdin.write(`${JSON.stringify({ seq: ++this.seq, type: "request", command, arguments: args })}\n`);
  }

  close(): void {
    this.child.kill("SIGKILL");
  }
}

interface Diagnostic {
  text: string;
  code: number;
  start: { line: number; offset: number };
}

/** The extension's layout, as packaged: the plugin package under node_modules, the declarations under dist/types. */
function stageExtension(dir: string): string {
  const dist = join(repoRoot(), "dist");
  cpSync(join(dist, "ts-plugin"), join(dir, "node_modules", PLUGIN), { recursive: true });
  cpSync(join(dist, "types"), join(dir, "dist", "types"), { recursive: true });
  return dir;
}

const CORRECT = `import { modelSystem, models, optimizers, tasks, tf } from "learning-mechanics";

export const nanda = modelSystem({
  task: tasks.modularArithmetic({ p: 113, trainFraction: 0.3 }),
  model: models.mlp({ hidden: [128] }),
  optimizer: optimizers.adamw({ lr: 1e-3, weightDecay: 1 }),
  steps: 2000,
});

export const ones = (n: number): tf.Tensor => tf.ones([n]);
`;

/** VS Code's options for a file outside any tsconfig (typescript-language-features, TS ≥ 5.4). */
const INFERRED = { module: "Preserve", moduleResolution: "Bundler", target: "ES2022", strict: true, allowJs: true };

async function openAndCheck(
  t: { after: (fn: () => void) => void },
  pluginArgs: string[],
  text: string,
  name = "mine.experiment.ts",
) {
  const work = tempDir(t);
  const folder = join(work, "my-experiments");
  mkdirSync(folder);
  const file = join(folder, name);
  writeFileSync(file, text);
  const server = TsServer.start(pluginArgs, join(work, "tsserver.log"));
  t.after(() => server.close());
  await server.request("compilerOptionsForInferredProjects", { options: INFERRED });
  server.notify("open", { file, fileContent: text, scriptKindName: "TS", projectRootPath: folder });
  const diagnostics = (await server.request("semanticDiagnosticsSync", { file })) as Diagnostic[];
  const log = (): string => readFileSync(join(work, "tsserver.log"), "utf8");
  return { server, file, diagnostics, log };
}

/** 1-based line and offset of the end of the first `needle` in `text` (tsserver's positions). */
function endOf(text: string, needle: string): { line: number; offset: number } {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `"${needle}" is in the file`);
  const before = text.slice(0, i + needle.length).split("\n");
  return { line: before.length, offset: (before.at(-1)?.length ?? 0) + 1 };
}

describe("TypeScript server plugin (real tsserver, a folder without node_modules)", () => {
  test("package.json contributes the plugin by the name of the package the build writes", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as {
      contributes: {
        typescriptServerPlugins?: Array<{ name: string; enableForWorkspaceTypeScriptVersions?: boolean }>;
      };
    };
    assert.deepEqual(pkg.contributes.typescriptServerPlugins, [
      { name: PLUGIN, enableForWorkspaceTypeScriptVersions: true },
    ]);
    const built = JSON.parse(readFileSync(join(repoRoot(), "dist", "ts-plugin", "package.json"), "utf8")) as {
      name: string;
      main: string;
    };
    assert.deepEqual([built.name, built.main], [PLUGIN, "index.js"]);
  });

  const ext = stageExtension(tempDir({ after }));
  const withPlugin = ["--globalPlugins", PLUGIN, "--pluginProbeLocations", ext];

  test("control: without the plugin, the import is an unresolved module", async (t) => {
    const { diagnostics } = await openAndCheck(t, [], CORRECT);
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      [2307],
      JSON.stringify(diagnostics),
    );
    assert.match(diagnostics[0]?.text ?? "", /Cannot find module 'learning-mechanics'/);
  });

  test("with the plugin: a correct file has no errors; a wrong field type is one error on that field", async (t) => {
    const ok = await openAndCheck(t, withPlugin, CORRECT);
    assert.match(ok.log(), /Plugin validation succeeded|learning-mechanics-ts-plugin: "learning-mechanics" resolves/);
    assert.deepEqual(ok.diagnostics, [], JSON.stringify(ok.diagnostics));

    const wrong = CORRECT.replace("steps: 2000", 'steps: "many"');
    const bad = await openAndCheck(t, withPlugin, wrong);
    assert.equal(bad.diagnostics.length, 1, JSON.stringify(bad.diagnostics));
    assert.equal(bad.diagnostics[0]?.code, 2322);
    assert.match(bad.diagnostics[0]?.text ?? "", /Type 'string' is not assignable to type 'number'/);
    assert.deepEqual(bad.diagnostics[0]?.start, { line: 7, offset: 3 });
  });

  test("with the plugin: tfjs-core resolves in experiment files only (another project's missing dependency stays an error)", async (t) => {
    const text = `import * as tf from "@tensorflow/tfjs-core";\nexport const z: tf.Tensor = tf.zeros([2]);\n`;
    const experiment = await openAndCheck(t, withPlugin, text, "tensors.experiment.ts");
    assert.deepEqual(experiment.diagnostics, [], JSON.stringify(experiment.diagnostics));
    const other = await openAndCheck(t, withPlugin, text, "model.ts");
    assert.deepEqual(
      other.diagnostics.map((d) => d.code),
      [2307],
      JSON.stringify(other.diagnostics),
    );
  });

  test("with the plugin: completions after `tasks.`, hover docs with defaults and units", async (t) => {
    const text = `${CORRECT}\nexport const other = tasks.`;
    const { server, file } = await openAndCheck(t, withPlugin, text);
    const completions = (await server.request("completionInfo", { file, ...endOf(text, "= tasks.") })) as {
      entries: Array<{ name: string }>;
    };
    const names = completions.entries.map((e) => e.name).sort();
    // Exactly the SDK's tasks (six when this was written, seven with inContextRegression).
    assert.deepEqual(names, Object.keys(tasks).sort());
    assert.ok(names.includes("modularArithmetic") && names.length >= 6, names.join());

    const quickInfo = async (needle: string): Promise<string> => {
      const at = endOf(text, needle);
      const body = (await server.request("quickinfo", { file, line: at.line, offset: at.offset - 1 })) as {
        displayString: string;
        documentation: string;
      };
      return `${body.displayString}\n${body.documentation}`;
    };
    // The builder: its defaults.
    assert.match(await quickInfo("tasks.modularArithmetic"), /Defaults: `p` 97, `op` "add", `trainFraction` 0.3/);
    // A field: its meaning, default and unit.
    const p = await quickInfo("{ p");
    assert.match(p, /\(property\) p\?: number/);
    assert.match(p, /Modulus/);
    assert.match(p, /Default: 97/);
    const steps = await quickInfo("steps");
    assert.match(steps, /Default: 10000/);
    assert.match(steps, /optimizer updates/);
    const lr = await quickInfo("{ lr");
    assert.match(lr, /Default: 1e-3/);
  });
});
