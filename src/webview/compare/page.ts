// The intervention panels' static markup (a branch against its parent, or a calibration) inside the
// shared shell (../common/page.ts holds the CSP). No data here: everything arrives as text.
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Intervention options">
  <span id="title" class="run-label"></span>
  <vscode-checkbox id="logLoss">log loss</vscode-checkbox>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the charts as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the compared values as CSV">CSV</vscode-button>
  </span>
</div>
<p id="empty" class="note">Waiting for data…</p>
<p id="change" class="note"></p>
<ul id="sentences" class="cmp-sentences"></ul>
<ul id="notes" class="note cmp-notes"></ul>
<table id="subsetTable" class="cmp-table" hidden>
  <thead><tr><th>subset</th><th>size</th><th>actual</th><th>TracIn</th><th>BIF</th><th>branch</th></tr></thead>
  <tbody id="subsetRows"></tbody>
</table>
<div id="charts" class="lr-grid cmp-charts"></div>
`;

export function compareHtml(r: PageResources): string {
  return webviewPageHtml("Intervention", BODY, r);
}
