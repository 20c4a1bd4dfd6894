// `npm run package` builds one .vsix per target, each with its own platform's esbuild binary (the
// trainer bundles experiment files with it at run time). Packages three targets that are not this
// machine's (an ELF for arm64, a Mach-O for x64, a PE for x64: none of them is in node_modules), opens
// each .vsix (a zip) and reads the binary's header; every other target goes through the same code
// with its row of scripts/platforms.json, whose rows are checked against esbuild's own naming.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot, tempDir } from "../support";

interface Row {
  target: string;
  esbuild: string;
  binary: string;
  format: "elf" | "macho" | "pe";
  arch: "x64" | "arm64";
}

const table = (): Row[] =>
  (JSON.parse(readFileSync(join(repoRoot(), "scripts", "platforms.json"), "utf8")) as { targets: Row[] }).targets;

/** What an executable's header says: ELF e_machine, Mach-O cputype, PE machine. */
export function executableKind(b: Buffer): { format: string; arch: string } {
  if (b.length >= 20 && b.readUInt32BE(0) === 0x7f454c46) {
    const machine = b.readUInt16LE(18);
    return {
      format: "elf",
      arch: machine === 0x3e ? "x64" : machine === 0xb7 ? "arm64" : `e_machine 0x${machine.toString(16)}`,
    };
  }
  if (b.length >= 8 && b.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = b.readUInt32LE(4);
    return {
      format: "macho",
      arch: cpu === 0x01000007 ? "x64" : cpu === 0x0100000c ? "arm64" : `cputype 0x${cpu.toString(16)}`,
    };
  }
  if (b.length >= 0x40 && b.toString("latin1", 0, 2) === "MZ") {
    const pe = b.readUInt32LE(0x3c);
    if (b.toString("latin1", pe, pe + 4) === "PE\0\0") {
      const machine = b.readUInt16LE(pe + 4);
      return {
        format: "pe",
        arch: machine === 0x8664 ? "x64" : machine === 0xaa64 ? "arm64" : `machine 0x${machine.toString(16)}`,
      };
    }
  }
  return { format: `unknown (${b.subarray(0, 4).toString("hex")})`, arch: "unknown" };
}

const hasUnzip = spawnSync("unzip", ["-v"]).status === 0;

describe("platform packages", () => {
  test("the table: the targets VS Code users run on, each with esbuild's package and binary for it", () => {
    const rows = table();
    const targets = rows.map((r) => r.target);
    for (const required of ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64", "alpine-x64"])
      assert.ok(targets.includes(required), `${required} is packaged`);
    assert.equal(new Set(targets).size, targets.length, "no target twice");
    const lock = (
      JSON.parse(readFileSync(join(repoRoot(), "package-lock.json"), "utf8")) as {
        packages: Record<string, { integrity?: string; os?: string[]; cpu?: string[] }>;
      }
    ).packages;
    for (const r of rows) {
      const [os, cpu] = r.target.split("-") as [string, string];
      // esbuild's own naming (its lib/main.js): alpine runs the static linux binary.
      const esbuildOs = os === "alpine" ? "linux" : os;
      assert.equal(r.esbuild, `@esbuild/${esbuildOs}-${cpu}`, r.target);
      assert.equal(r.binary, os === "win32" ? "esbuild.exe" : "bin/esbuild", r.target);
      assert.deepEqual([r.format, r.arch], [os === "win32" ? "pe" : os === "darwin" ? "macho" : "elf", cpu], r.target);
      const locked = lock[`node_modules/${r.esbuild}`];
      assert.match(locked?.integrity ?? "", /^sha512-/, `${r.esbuild} has an integrity in package-lock.json`);
      assert.deepEqual([locked?.os, locked?.cpu], [[esbuildOs], [cpu]], r.esbuild);
    }
  });

  test("each .vsix carries its own platform's esbuild binary, the TypeScript plugin and the declarations", {
    skip: hasUnzip ? false : "no unzip on PATH",
    timeout: 240_000,
  }, (t) => {
    const out = tempDir(t);
    const chosen = ["linux-arm64", "darwin-x64", "win32-x64"];
    const t0 = performance.now();
    execFileSync(
      process.execPath,
      [join(repoRoot(), "scripts", "package.mjs"), "--targets", chosen.join(","), "--out", out],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    t.diagnostic(`packaged ${chosen.length} targets in ${Math.round(performance.now() - t0)} ms`);
    for (const row of table().filter((r) => chosen.includes(r.target))) {
      const vsix = join(out, `learning-mechanics-${row.target}.vsix`);
      const entries = execFileSync("unzip", ["-Z1", vsix], { encoding: "utf8" }).split("\n").filter(Boolean);
      const platformPackages = [
        ...new Set(
          entries
            .filter((e) => e.startsWith("extension/node_modules/@esbuild/"))
            .map((e) => e.split("/").slice(2, 4).join("/")),
        ),
      ];
      assert.deepEqual(platformPackages, [row.esbuild], `${row.target}: only its own esbuild package`);
      const binaryPath = `extension/node_modules/${row.esbuild}/${row.binary}`;
      assert.ok(entries.includes(binaryPath), `${row.target}: ${binaryPath} is in the .vsix`);
      const binary = execFileSync("unzip", ["-p", vsix, binaryPath], { maxBuffer: 64 * 1024 * 1024 });
      assert.deepEqual(
        executableKind(binary),
        { format: row.format, arch: row.arch },
        `${row.target}: the binary's header`,
      );
      if (row.format !== "pe") {
        const listing = execFileSync("unzip", ["-Z", vsix, binaryPath], { encoding: "utf8" });
        assert.match(listing, /^-rwx/, `${row.target}: the binary is executable once installed`);
      }
      const manifest = execFileSync("unzip", ["-p", vsix, "extension.vsixmanifest"], { encoding: "utf8" });
      assert.match(
        manifest,
        new RegExp(`TargetPlatform="${row.target}"`),
        `${row.target}: the manifest names the target`,
      );
      for (const needed of [
        "extension/node_modules/esbuild/lib/main.js",
        "extension/node_modules/learning-mechanics-ts-plugin/index.js",
        "extension/node_modules/learning-mechanics-ts-plugin/package.json",
        "extension/dist/types/sdk/index.d.ts",
        "extension/dist/types/node_modules/@tensorflow/tfjs-core/dist/index.d.ts",
        "extension/dist/extension/extension.js",
        "extension/dist/trainer/cli.js",
      ])
        assert.ok(entries.includes(needed), `${row.target}: ${needed} is in the .vsix`);
      assert.deepEqual(
        entries.filter((e) => e.endsWith(".map")),
        [],
        `${row.target}: no source maps`,
      );
    }
  });
});
