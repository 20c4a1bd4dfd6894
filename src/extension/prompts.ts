// Small vscode prompts the commands share: an input box checked as it is typed, and a cancellable
// progress notification around a child process.
import * as vscode from "vscode";

/** An input box whose value `parse` checks as it is typed (its message shown under the box); undefined when dismissed. */
export async function askValue<T>(
  title: string,
  prompt: string,
  value: string,
  parse: (text: string) => T | string,
): Promise<T | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt,
    value,
    validateInput: (t) => {
      const r = parse(t);
      return typeof r === "string" ? r : undefined;
    },
  });
  if (text === undefined) return undefined;
  const r = parse(text);
  return typeof r === "string" ? undefined : r;
}

/** A notification with Cancel around `fn`; Cancel aborts `fn`'s signal (runLm then stops its child). */
export async function withCancellableProgress<T>(title: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (_progress, token) => {
      const controller = new AbortController();
      const sub = token.onCancellationRequested(() => controller.abort());
      try {
        return await fn(controller.signal);
      } finally {
        sub.dispose();
      }
    },
  );
}
