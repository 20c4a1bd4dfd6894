// DOM helpers shared by the panels. Text from files (run labels, layer names, example text) only
// ever enters the page through `textContent` (here: `el`'s text argument), never as HTML.

export function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`webview: #${id} missing from the page`);
  return e as T;
}

/** A new element with a class and text (as text, never parsed as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export type Checkbox = HTMLElement & { checked: boolean };
