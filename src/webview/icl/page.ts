// The in-context learning panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="In-context learning options">
  <label class="field">run <select id="run"></select></label>
  <vscode-checkbox id="logY">log y</vscode-checkbox>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the charts as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the losses as CSV">CSV</vscode-button>
  </span>
</div>
<p id="empty" class="note">Waiting for runs…</p>
<p id="summary" class="note"></p>
<ul id="notes" class="note"></ul>
<div id="charts" class="lr-grid icl-grid">
  <section class="lr-cell" data-chart="positions">
    <h4 class="chart-title">test loss at context position k (prediction of y_k from k − 1 pairs)</h4>
    <div class="chart-box"><canvas id="positionsChart" role="img" aria-label="in-context loss against context position"></canvas></div>
  </section>
  <section class="lr-cell" data-chart="steps">
    <h4 class="chart-title">test loss at positions over training</h4>
    <div class="chart-box"><canvas id="stepsChart" role="img" aria-label="in-context loss at a few positions against step"></canvas></div>
  </section>
</div>
<p class="note">Solid: the model at checkpoints from early (pale) to late (dark); dashed: least squares on the pairs before k (grey) and Bayes-optimal ridge (λ = σ²·dim).</p>
`;

export function iclHtml(r: PageResources): string {
  return webviewPageHtml("In-context learning", BODY, r);
}
