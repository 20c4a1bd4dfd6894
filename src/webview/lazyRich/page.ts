// The lazy-vs-rich panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Lazy vs rich options">
  <label class="field" id="runPick">run <select id="run"></select></label>
  <vscode-checkbox id="logY">log y</vscode-checkbox>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the view as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the measures as CSV">CSV</vscode-button>
  </span>
</div>
<div id="regime" class="regime" aria-live="polite"></div>
<div id="sweeps" class="note" hidden></div>
<p id="empty" class="note">Waiting for runs…</p>
<div id="runView" class="lr-grid"></div>
`;

export function lazyRichHtml(r: PageResources): string {
  return webviewPageHtml("Lazy vs rich", BODY, r);
}
