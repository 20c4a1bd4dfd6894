// The one event style of the extension, for logic and adapters alike. No `vscode` import, so the
// logic modules (supervisor, watcher, analyzers) can be tested with plain `node --test`; an
// `Event<T>` has the call shape of `vscode.Event<T>`, so adapters hand it straight to VS Code
// (`onDidChangeCodeLenses`, `TreeDataProvider.onDidChangeTreeData`).

export interface Disposable {
  dispose(): void;
}

/** Subscribes `listener`; the returned disposable unsubscribes it (it is also pushed onto `disposables`). */
export type Event<T> = (listener: (value: T) => unknown, thisArgs?: unknown, disposables?: Disposable[]) => Disposable;

/** The source of an `Event<T>`: `fire` calls every listener; a listener's exception never reaches the firer. */
export class Emitter<T> implements Disposable {
  private readonly listeners = new Set<(value: T) => unknown>();
  private disposed = false;

  readonly event: Event<T> = (listener, thisArgs, disposables) => {
    if (this.disposed) return { dispose: () => undefined };
    const bound = thisArgs === undefined ? listener : (value: T): unknown => listener.call(thisArgs, value);
    this.listeners.add(bound);
    const subscription = { dispose: () => void this.listeners.delete(bound) };
    disposables?.push(subscription);
    return subscription;
  };

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch {
        // A listener's bug must not break the stream it listens to (a trainer's events, the watcher).
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}
