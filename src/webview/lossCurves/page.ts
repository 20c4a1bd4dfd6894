// The loss-curves webview's HTML: its static markup inside the shared shell (../common/page.ts,
// which holds the CSP). Pure (no vscode import): the extension and the browser tests serve it alike.
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Loss curve options">
  <vscode-radio-group id="xAxis" aria-label="x axis">
    <vscode-radio name="xAxis" value="step" checked>step</vscode-radio>
    <vscode-radio name="xAxis" value="time">wall time</vscode-radio>
  </vscode-radio-group>
  <span class="group scales" role="group" aria-label="scales and metrics">
    <vscode-checkbox id="logX">log x</vscode-checkbox>
    <vscode-checkbox id="logY">log y</vscode-checkbox>
    <vscode-checkbox id="showAccuracy">accuracy</vscode-checkbox>
  </span>
  <label class="group smoothing" for="smoothing">smoothing
    <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6">
    <output id="smoothingValue" for="smoothing">0.60</output>
  </label>
  <span class="spacer"></span>
  <span class="group actions">
    <vscode-button id="resetZoom" secondary title="Show everything (or double-click the chart)">Reset zoom</vscode-button>
    <vscode-button id="exportPng" secondary title="Save the chart as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the data as CSV">CSV</vscode-button>
  </span>
</div>
<ul id="legend" class="legend" aria-label="Runs"></ul>
<div class="chart-wrap" id="chartWrap">
  <canvas id="chart" aria-label="Loss curves" role="img"></canvas>
  <div id="tooltip" class="tooltip" hidden></div>
  <p id="empty" class="empty">Waiting for runs…</p>
</div>
<p class="hint">Wheel: zoom x · drag: pan · double-click: reset · solid: train · dashed: test</p>
`;

export function lossCurvesHtml(r: PageResources): string {
  return webviewPageHtml("Loss curves", BODY, r);
}
