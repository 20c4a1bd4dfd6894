// Helpers shared by tests (not a test file itself: only `*.test.ts` are entries).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repository root: the nearest folder above the (bundled) test whose package.json is ours. */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "learning-mechanics") return dir;
    if (dirname(dir) === dir) throw new Error(`no learning-mechanics package.json above ${__dirname}`);
  }
}
