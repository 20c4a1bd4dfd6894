// The webview side of the VS Code API, typed by the panel's outgoing messages. acquireVsCodeApi
// may be called once per page: the panel's runtime (runtime.ts) calls this once.

export interface VsCodeApi<Out> {
  postMessage(msg: Out): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi<unknown>;

export function vscodeApi<Out>(): VsCodeApi<Out> {
  return acquireVsCodeApi() as VsCodeApi<Out>;
}

/** Saves `state` with setState at once and tells the host after a short pause (coalesces bursts). */
export function stateSaver<S>(api: VsCodeApi<unknown>, tell: (s: S) => void): (s: S) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (s) => {
    api.setState(s);
    clearTimeout(timer);
    timer = setTimeout(() => tell(structuredClone(s)), 100);
  };
}
