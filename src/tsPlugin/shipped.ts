// Which module names the plugin answers, and with which shipped declaration file. No TypeScript
// import: the table is plain paths, so it is tested without a language service.
import { isAbsolute, join, relative } from "node:path";

/** The name experiment files import the SDK by. */
export const SDK_MODULE = "learning-mechanics";
/** The tensor library the SDK's declarations name (`tf`, custom models' tensors). */
export const TENSOR_MODULE = "@tensorflow/tfjs-core";

/**
 * Where the declarations are, relative to the plugin's own folder. Packaged, the plugin is
 * `<extension>/node_modules/learning-mechanics-ts-plugin/index.js` (tsserver finds plugins only
 * under a probe location's node_modules) and the declarations `<extension>/dist/types`; built,
 * it is `dist/ts-plugin/index.js` beside `dist/types`: two levels up in both cases.
 */
export function typesRootFrom(pluginDir: string): string {
  return join(pluginDir, "..", "..", "dist", "types");
}

/** Experiment files (the extension's default `learningMechanics.experimentGlob`). */
const EXPERIMENT_FILE = /\.experiment\.(ts|js|mjs)$/;

/**
 * The shipped declaration file for `name` imported by `containingFile`, or undefined when the
 * plugin leaves it alone. `learning-mechanics` → `sdk/index.d.ts`, from any file (the name is the
 * SDK's; an experiment's helper modules import it too). `@tensorflow/tfjs-core` and its `dist/…`
 * subpaths (the library's declarations import themselves that way) → the copy under
 * `node_modules/`, only from experiment files and the shipped declarations: in any other project a
 * missing tfjs dependency must stay an error. The caller asks only for names the project could not
 * resolve, so a project's own mapping wins.
 */
export function shippedDeclaration(
  name: string,
  containingFile: string,
  typesRoot: string,
  fileExists: (path: string) => boolean,
): string | undefined {
  if (name === SDK_MODULE) return existing([join(typesRoot, "sdk", "index.d.ts")], fileExists);
  const fromOurs = EXPERIMENT_FILE.test(containingFile) || isInside(containingFile, typesRoot);
  if (!fromOurs) return undefined;
  if (name === TENSOR_MODULE)
    return existing([join(typesRoot, "node_modules", "@tensorflow", "tfjs-core", "dist", "index.d.ts")], fileExists);
  if (name.startsWith(`${TENSOR_MODULE}/`)) {
    const sub = name.slice(TENSOR_MODULE.length + 1);
    // Only plain subpaths: never `..` out of the shipped package.
    if (sub.split("/").some((part) => part === "" || part === "." || part === "..")) return undefined;
    const base = join(typesRoot, "node_modules", "@tensorflow", "tfjs-core", sub);
    return existing([`${base}.d.ts`, join(base, "index.d.ts")], fileExists);
  }
  return undefined;
}

function isInside(file: string, dir: string): boolean {
  const rel = relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function existing(candidates: readonly string[], fileExists: (path: string) => boolean): string | undefined {
  return candidates.find((p) => fileExists(p));
}
