// `npm run package`: one .vsix per VS Code target (scripts/platforms.json), each carrying the
// esbuild binary of its platform (the trainer bundles experiment files with esbuild at run time;
// the binary is native, so a .vsix built with the build machine's node_modules ran nowhere else).
//
//   node scripts/package.mjs [--targets linux-x64,darwin-arm64] [--out DIR]
//
// For each target: a staging folder with the built extension (dist/, media/, python/, README,
// LICENSE), esbuild's JS API from node_modules, the target's `@esbuild/<os>-<cpu>` package fetched
// from the npm registry with `npm pack` (checked against package-lock.json's integrity), and the
// TypeScript server plugin as node_modules/learning-mechanics-ts-plugin (tsserver loads plugins by
// package name from an extension's node_modules); then `vsce package --target` there. The staged
// package.json lists only those packages as dependencies: vsce includes node_modules folders only
// through `npm list`, and everything else is bundled into dist/. `npm run package` builds first.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PLUGIN = "learning-mechanics-ts-plugin";
const BASE_URL = "https://github.com/learning-mechanics/learning-mechanics/blob/main";

function option(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const table = JSON.parse(readFileSync(join(root, "scripts", "platforms.json"), "utf8")).targets;
const wanted = option("--targets")?.split(",") ?? table.map((t) => t.target);
for (const w of wanted)
  if (!table.some((t) => t.target === w))
    throw new Error(`unknown target "${w}" (scripts/platforms.json has ${table.map((t) => t.target).join(", ")})`);
const out = option("--out") ?? root;
// Staging folders (removed at the end): beside the packages, or in dist/ for the repository's own.
const work = out === root ? join(root, "dist", ".package") : join(out, ".package");

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const esbuildVersion = JSON.parse(readFileSync(join(root, "node_modules", "esbuild", "package.json"), "utf8")).version;
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages ?? {};
for (const needed of ["dist/extension/extension.js", "dist/ts-plugin/index.js", "dist/types/sdk/index.d.ts"])
  if (!existsSync(join(root, needed))) throw new Error(`${needed} is missing: run \`npm run build\` first`);

/** The platform package's tarball from the registry, once per package, its integrity checked. */
function fetchEsbuild(name) {
  const dir = join(work, "npm");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name.slice(1).replace("/", "-")}-${esbuildVersion}.tgz`);
  if (!existsSync(file))
    execFileSync("npm", ["pack", `${name}@${esbuildVersion}`, "--silent", "--pack-destination", dir], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
    });
  const expected = lock[`node_modules/${name}`]?.integrity;
  const actual = `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
  if (expected !== undefined && expected !== actual)
    throw new Error(
      `${name}@${esbuildVersion}: the registry's tarball has ${actual}, package-lock.json says ${expected}`,
    );
  return file;
}

function stage(t) {
  const dir = join(work, t.target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const copy = (rel, to = rel) => cpSync(join(root, rel), join(dir, to), { recursive: true });
  for (const rel of [
    "README.md",
    "LICENSE",
    ".vscodeignore",
    "media",
    "dist/extension",
    "dist/trainer",
    "dist/webview",
    "dist/wasm",
    "dist/types",
  ])
    copy(rel);
  mkdirSync(join(dir, "python"), { recursive: true });
  copy("python/learning_mechanics");
  mkdirSync(join(dir, "node_modules", "esbuild"), { recursive: true });
  copy("node_modules/esbuild/package.json");
  copy("node_modules/esbuild/lib");
  copy("dist/ts-plugin", `node_modules/${PLUGIN}`);
  const platformDir = join(dir, "node_modules", ...t.esbuild.split("/"));
  mkdirSync(platformDir, { recursive: true });
  // npm tarballs hold one folder, package/; tar keeps the binary's executable bit.
  execFileSync("tar", ["-xzf", fetchEsbuild(t.esbuild), "-C", platformDir, "--strip-components=1"]);
  const { devDependencies: _dev, scripts: _scripts, ...manifest } = pkg;
  manifest.dependencies = { esbuild: esbuildVersion, [t.esbuild]: esbuildVersion, [PLUGIN]: pkg.version };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

mkdirSync(out, { recursive: true });
for (const t of table.filter((t) => wanted.includes(t.target))) {
  const dir = stage(t);
  const vsix = join(out, `learning-mechanics-${t.target}.vsix`);
  execFileSync(
    join(root, "node_modules", ".bin", "vsce"),
    ["package", "--target", t.target, "--allow-missing-repository", "--baseContentUrl", BASE_URL, "--out", vsix],
    { cwd: dir, stdio: ["ignore", "ignore", "inherit"] },
  );
  console.log(`${vsix.startsWith(root) ? vsix.slice(root.length + 1) : vsix} (${t.esbuild})`);
}
rmSync(work, { recursive: true, force: true });
