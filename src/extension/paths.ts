// One notion of "the same path" for the whole extension: the run index's keys, the supervisor's
// lookups, the Runs tree's ids and the code lens's locations all use `pathKey`/`samePath`, so a run
// cannot get two keys. macOS and Windows file systems ignore case by default, Linux's do not. The
// platform is a parameter so tests cover every one on any machine.
import * as path from "node:path";

/** Whether paths on `platform` compare without regard to case (the default file systems of macOS and Windows). */
function ignoresCase(platform: NodeJS.Platform = process.platform): boolean {
  return platform === "darwin" || platform === "win32";
}

/**
 * A path as a key: absolute, normalized (no `..`, no trailing separator; on Windows `/` becomes
 * `\`), and lower-cased where the file system ignores case.
 */
export function pathKey(p: string, platform: NodeJS.Platform = process.platform): string {
  const resolved = (platform === "win32" ? path.win32 : path.posix).resolve(p);
  return ignoresCase(platform) ? resolved.toLowerCase() : resolved;
}

/** Whether two paths name the same file on `platform` (by name; links are not followed). */
export function samePath(a: string, b: string, platform: NodeJS.Platform = process.platform): boolean {
  return pathKey(a, platform) === pathKey(b, platform);
}
