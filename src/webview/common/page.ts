// The HTML shell every webview panel shares. Pure (no vscode import) so the extension builds it
// with `asWebviewUri` values and the browser tests serve the very same page.
//
// CSP: nothing but our nonce'd module script runs; styles only from our own files. No
// 'unsafe-inline' is needed: chart.js sizes its canvas through the CSSOM (element.style.x = ...),
// and vscode-elements' shadow DOM uses constructable style sheets (adoptedStyleSheets), neither of
// which CSP governs. The browser tests fail on any CSP violation.

export interface PageResources {
  /** URI of the panel's dist/webview/<name>.js as the webview sees it. */
  scriptUri: string;
  /** URIs of its style sheets (media/*.css) as the webview sees them, in cascade order. */
  styleUris: string[];
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce per render (crypto, not Math.random). */
  nonce: string;
}

/** Escapes text for an HTML attribute or text node. */
export function attr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A whole page: CSP, style sheets, `bodyHtml` (static markup written by us, never data), then the
 * module script. Data reaches the page only through messages.
 */
export function webviewPageHtml(
  title: string,
  bodyHtml: string,
  { scriptUri, styleUris, cspSource, nonce }: PageResources,
): string {
  if (!/^[A-Za-z0-9+/=_-]+$/.test(nonce)) throw new Error("nonce must be base64/hex characters");
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join("; ");
  const links = styleUris.map((u) => `<link rel="stylesheet" href="${attr(u)}">`).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
${links}
<title>${attr(title)}</title>
</head>
<body>
${bodyHtml.trim()}
<script type="module" nonce="${attr(nonce)}" src="${attr(scriptUri)}"></script>
</body>
</html>
`;
}
