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
    <vscode-checkbox id="showAccuracy" title="Show the right axis and its metrics">accuracy</vscode-checkbox>
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
<div class="legend-row">
  <details id="metricPicker" class="picker">
    <summary id="pickerSummary" title="Choose the metrics to plot and their axis">metrics</summary>
    <div id="pickerPanel" class="picker-panel" role="group" aria-label="Metrics to plot"></div>
  </details>
  <select id="xOther" class="x-other" aria-label="another logged value as x" title="Another logged value as x (any key whose values never decrease)" hidden></select>
  <ul id="legend" class="legend" aria-label="Runs"></ul>
</div>
<div class="chart-wrap" id="chartWrap">
  <canvas id="chart" aria-label="Loss curves" role="img"></canvas>
  <div id="tooltip" class="tooltip" hidden></div>
  <p id="empty" class="empty">Waiting for runs…</p>
</div>
<p class="hint">Wheel: zoom x · drag: pan · double-click: reset<span id="styleHint"> · solid: train · dashed: test</span></p>
`;

export function lossCurvesHtml(r: PageResources): string {
  return webviewPageHtml("Loss curves", BODY, r);
}
