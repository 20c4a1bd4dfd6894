// The conservation-laws panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Conservation laws options">
  <label class="field">run <select id="run"></select></label>
  <vscode-checkbox id="logY">log y</vscode-checkbox>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the charts as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the drifts as CSV">CSV</vscode-button>
  </span>
</div>
<p id="empty" class="note">Waiting for runs…</p>
<p id="law" class="note cons-law"></p>
<table id="table" class="cons-table" hidden>
  <thead><tr><th>kind</th><th>layer</th><th>conserved quantities</th><th>max relative drift</th><th>predicted at the end</th><th>prediction</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<ul id="notes" class="note cons-notes"></ul>
<p class="note">Solid: measured drift; dashed, paler: the drift the law predicts. Layer names in the table are in their lines' colours.</p>
<div id="charts" class="lr-grid cons-charts"></div>
`;

export function conservationHtml(r: PageResources): string {
  return webviewPageHtml("Conservation laws", BODY, r);
}
