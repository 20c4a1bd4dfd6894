// The linear-mode-connectivity panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Mode connectivity options">
  <label class="field">show <select id="measure"><option value="error">error (1 − accuracy)</option><option value="loss">loss</option></select></label>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the charts as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the curves as CSV">CSV</vscode-button>
  </span>
</div>
<p id="empty" class="note">Waiting for data…</p>
<ul id="notes" class="note lmc-notes"></ul>
<table id="table" class="lmc-table" hidden>
  <thead><tr><th>interpolation</th><th>file</th><th id="barrierTrainHead">train barrier</th><th id="barrierTestHead">test barrier</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<p id="instabilityNote" class="note" hidden></p>
<p class="note">Solid: along θ(α) = (1 − α)θ_A + αθ_B; dashed, paler: the straight line between the ends. The barrier is the largest rise of the solid line above the dashed one (Frankle et al. 2020).</p>
<div id="charts" class="lr-grid lmc-charts"></div>
`;

export function lmcHtml(r: PageResources): string {
  return webviewPageHtml("Mode connectivity", BODY, r);
}
