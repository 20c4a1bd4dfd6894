// The sweep panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Sweep options">
  <label class="field">y <select id="y"></select></label>
  <label class="field">x <select id="x"></select></label>
  <label class="field">lines <select id="group"></select></label>
  <label class="field">spread <select id="spread">
    <option value="minmax">min–max</option>
    <option value="std">± std</option>
  </select></label>
  <vscode-checkbox id="logX">log x</vscode-checkbox>
  <vscode-checkbox id="logY">log y</vscode-checkbox>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the chart as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save every point's values as CSV">CSV</vscode-button>
  </span>
</div>
<div id="summary" class="regime" aria-live="polite"></div>
<p id="empty" class="note">Waiting for the sweep…</p>
<div id="legend" class="sweep-legend"></div>
<div id="chartBox" class="sweep-box"><canvas id="sweepChart" role="img" aria-label="A quantity against a swept field"></canvas></div>
<p id="note" class="note"></p>
<p id="fit" class="note" hidden></p>
`;

export function sweepHtml(r: PageResources): string {
  return webviewPageHtml("Sweep", BODY, r);
}
