// Colours from VS Code's theme variables (the webview host sets them on <html> and updates them
// when the theme changes). A run's colour is the palette entry at its colorIndex, so it is stable.

const PALETTE: readonly (readonly [string, string])[] = [
  ["--vscode-charts-blue", "#3794ff"],
  ["--vscode-charts-red", "#f14c4c"],
  ["--vscode-charts-green", "#89d185"],
  ["--vscode-charts-yellow", "#cca700"],
  ["--vscode-charts-orange", "#d18616"],
  ["--vscode-charts-purple", "#b180d7"],
];

export interface Theme {
  palette: string[];
  foreground: string;
  background: string;
  fontFamily: string;
  fontSize: number;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v === "" ? fallback : v;
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.body);
  const size = parseFloat(cssVar(style, "--vscode-font-size", "13"));
  return {
    palette: PALETTE.map(([name, fallback]) => cssVar(style, name, fallback)),
    foreground: cssVar(style, "--vscode-foreground", "#cccccc"),
    background: cssVar(style, "--vscode-editor-background", "#1e1e1e"),
    fontFamily: cssVar(style, "--vscode-font-family", "system-ui, sans-serif"),
    fontSize: Number.isFinite(size) ? size : 13,
  };
}

export function runColor(theme: Theme, colorIndex: number): string {
  const n = theme.palette.length;
  return theme.palette[((Math.trunc(colorIndex) % n) + n) % n] as string;
}

let probe: CanvasRenderingContext2D | null = null;

/** `color` (any CSS colour the canvas understands) with its alpha multiplied by `alpha`. */
export function withAlpha(color: string, alpha: number): string {
  probe ??= document.createElement("canvas").getContext("2d");
  if (!probe) return color;
  probe.fillStyle = "#000000";
  probe.fillStyle = color; // the canvas normalises: "#rrggbb" or "rgba(r, g, b, a)"
  const c = String(probe.fillStyle);
  if (c.startsWith("#") && c.length === 7) {
    const r = parseInt(c.slice(1, 3), 16);
    const g = parseInt(c.slice(3, 5), 16);
    const b = parseInt(c.slice(5, 7), 16);
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const m = /^rgba?\(([^)]*)\)$/.exec(c);
  if (m) {
    const parts = (m[1] as string).split(",").map((s) => s.trim());
    const a = parts.length === 4 ? parseFloat(parts[3] as string) : 1;
    return `rgba(${parts[0]}, ${parts[1]}, ${parts[2]}, ${a * alpha})`;
  }
  return color;
}

/** `color` (any CSS colour the canvas understands) as 0–255 RGB; alpha is dropped. */
export function parseColor(color: string): [number, number, number] {
  probe ??= document.createElement("canvas").getContext("2d");
  if (!probe) return [128, 128, 128];
  probe.fillStyle = "#808080";
  probe.fillStyle = color;
  const c = String(probe.fillStyle);
  if (c.startsWith("#") && c.length === 7)
    return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
  const m = /^rgba?\(([^)]*)\)$/.exec(c);
  if (m) {
    const p = (m[1] as string).split(",").map((s) => parseFloat(s));
    return [p[0] ?? 128, p[1] ?? 128, p[2] ?? 128];
  }
  return [128, 128, 128];
}

/** Calls `onChange` whenever the theme changes: VS Code swaps the body class and the variables on <html>. */
export function onThemeChange(onChange: () => void): void {
  const observer = new MutationObserver(onChange);
  observer.observe(document.body, { attributes: true, attributeFilter: ["class"] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["style", "class"] });
}
