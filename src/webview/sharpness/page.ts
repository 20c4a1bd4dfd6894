// The Sharpness panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Sharpness options">
  <label class="field" id="runPick">run <select id="run"></select></label>
  <vscode-checkbox id="logLoss" checked>log loss</vscode-checkbox>
  <span class="spacer"></span>
  <span class="actions">
    <vscode-button id="exportPng" secondary title="Save the charts as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save sharpness, threshold and LLC as CSV">CSV</vscode-button>
  </span>
</div>
<div id="summary" class="regime" aria-live="polite"></div>
<p id="empty" class="note">Waiting for runs…</p>
<div id="stack" class="eos-stack">
  <section class="eos-cell" id="sharpnessCell">
    <h4 class="chart-title">sharpness λ_max(H) and the stability threshold</h4>
    <div class="chart-box"><canvas id="sharpnessChart" role="img" aria-label="Sharpness against step"></canvas></div>
    <p id="sharpnessNote" class="note" hidden></p>
  </section>
  <section class="eos-cell" id="lossCell">
    <h4 class="chart-title">training loss (logged)</h4>
    <div class="chart-box"><canvas id="lossChart" role="img" aria-label="Training loss against step"></canvas></div>
  </section>
  <section class="eos-cell" id="llcCell">
    <h4 class="chart-title">local learning coefficient λ̂ ± standard error</h4>
    <div class="chart-box"><canvas id="llcChart" role="img" aria-label="LLC against step"></canvas></div>
    <p id="llcNote" class="note" hidden></p>
  </section>
  <div id="events" class="eos-events"></div>
</div>
`;

export function sharpnessHtml(r: PageResources): string {
  return webviewPageHtml("Sharpness", BODY, r);
}
