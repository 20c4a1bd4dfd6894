// Which Python the torch backend uses, as the extension decides it (no `vscode` here, so it is
// testable; pythonExtension.ts is the adapter that asks VS Code): the `learningMechanics.pythonPath`
// setting, else the interpreter selected in the Python extension (ms-python.python), else none,
// and the trainer then runs `python3` from PATH.

/**
 * The path the Python extension's public API reports for `resource`
 * (`exports.environments.getActiveEnvironmentPath(resource).path`), or undefined when the API is
 * not there or answers anything else: an older or newer extension must not break training.
 */
export async function activeEnvironmentPath(api: unknown, resource: unknown): Promise<string | undefined> {
  const environments = field(api, "environments");
  const get = field(environments, "getActiveEnvironmentPath");
  if (typeof get !== "function") return undefined;
  // Called as a method: the extension's implementation may use `this`.
  const answer: unknown = await Promise.resolve(Reflect.apply(get, environments, [resource]));
  const path = field(answer, "path");
  return typeof path === "string" && path.trim() !== "" ? path : undefined;
}

function field(v: unknown, key: string): unknown {
  return typeof v === "object" && v !== null && key in v ? (v as Record<string, unknown>)[key] : undefined;
}

/** The interpreter to send with a training: the setting, else the Python extension's; undefined leaves the trainer's default. */
export function choosePython(setting: string, fromExtension: string | undefined): string | undefined {
  if (setting !== "") return setting;
  return fromExtension;
}

/** Whether a backend setting may run PyTorch (only then is the Python extension asked). */
export function mayUseTorch(backend: string): boolean {
  return backend === "torch" || backend === "auto";
}
