// Thin adapter: the interpreter selected in the Python extension (ms-python.python), through its
// public API; undefined when the extension is not installed, fails to activate, or answers
// nothing usable (pythonChoice.ts reads the answer).
import * as vscode from "vscode";
import { activeEnvironmentPath } from "./pythonChoice";

const PYTHON_EXTENSION = "ms-python.python";

export async function pythonFromExtension(file: string): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension(PYTHON_EXTENSION);
  if (!ext) return undefined;
  try {
    const api: unknown = ext.isActive ? ext.exports : await ext.activate();
    return await activeEnvironmentPath(api, vscode.Uri.file(file));
  } catch {
    return undefined; // the trainer falls back to python3 and, if that fails, says which interpreter it tried
  }
}
