// The influence panel's static markup inside the shared shell (../common/page.ts holds the CSP).
import { webviewPageHtml, type PageResources } from "../common/page";

const NUM = (id: string, label: string, title: string, step = "1"): string =>
  `<label title="${title}">${label} <input id="${id}" name="${id}" type="number" min="0" step="${step}"></label>`;

const BODY = `
<div class="toolbar" role="toolbar" aria-label="Influence options">
  <span id="runLabel" class="run-label"></span>
  <vscode-radio-group id="method" aria-label="method">
    <vscode-radio name="method" value="tracin" checked>TracIn</vscode-radio>
    <vscode-radio name="method" value="bif">BIF</vscode-radio>
  </vscode-radio-group>
  <label class="field">sort
    <select id="sort">
      <option value="index">example index</option>
      <option value="total">total influence</option>
      <option value="absTotal">|total influence|</option>
      <option value="signFlip">sign flips first</option>
    </select>
  </label>
  <vscode-checkbox id="groupByLabel">group by label</vscode-checkbox>
  <label class="field">rows
    <select id="rowPx">
      <option value="0">fit</option>
      <option value="1">1 px</option>
      <option value="4">4 px</option>
      <option value="12">12 px</option>
    </select>
  </label>
  <span class="spacer"></span>
  <span class="actions">
    <label class="field">examples
      <select id="interveneWhich" aria-label="examples to retrain without, upweight or move">
        <option value="selected">the clicked example</option>
        <option value="picked">the selected examples (Ctrl/Cmd-click or Shift-click rows)</option>
        <option value="proponents">top k proponents…</option>
        <option value="opponents">top k opponents…</option>
        <option value="label">all examples with the clicked example's label</option>
      </select>
    </label>
    <vscode-button id="intervene" title="Branch the run at a checkpoint at or before the selected step without these examples, or with them upweighted or moved (lm intervene), then compare the query loss with TracIn's prediction">Remove and retrain…</vscode-button>
    <vscode-button id="exportPng" secondary title="Save the heatmap as PNG">PNG</vscode-button>
    <vscode-button id="exportCsv" secondary title="Save the matrix (rows in the shown order) as CSV">CSV</vscode-button>
  </span>
</div>
<div class="legend-row" id="legend" aria-label="Colour scale">
  <span id="legendMin" class="legend-num"></span>
  <canvas id="legendBar" width="180" height="10" role="img" aria-label="diverging colour scale"></canvas>
  <span id="legendMax" class="legend-num"></span>
  <span id="legendNote" class="note"></span>
  <span class="flip-key"><span class="flip-swatch"></span>sign flips</span>
  <span id="query" class="note"></span>
  <span id="calibration" class="note" title="Linear datamodeling score: Spearman ρ of TracIn's predicted against the actual change of the query loss over random removals (lm calibrate)"></span>
  <vscode-button id="calibrate" secondary title="Retrain on many random subsets of the training examples removed (lm calibrate) and score how well TracIn ranked their effects">Calibrate…</vscode-button>
</div>
<p id="interveneStatus" class="note" role="status"></p>
<div class="influence-main">
  <div id="heatScroll" class="heat-scroll">
    <canvas id="heatmap" tabindex="0" aria-label="Influence of training examples over checkpoints (click a cell, or arrow keys to move; Ctrl/Cmd-click, Shift-click or Space selects rows, Escape clears them)" role="img"></canvas>
    <div id="heatSpacer"></div>
    <p id="empty" class="empty">Waiting for influence data…</p>
  </div>
  <aside class="side" aria-label="Selected example">
    <p id="sideEmpty" class="note">Click a cell to see its example and influence curve.</p>
    <section id="sideExample" hidden>
      <h3 id="exTitle"></h3>
      <dl id="exFacts" class="facts"></dl>
      <p id="exText" class="ex-text"></p>
      <div class="side-chart"><canvas id="curve"></canvas></div>
    </section>
    <section id="bifSection" hidden>
      <h3>BIF chains <select id="bifStep" aria-label="checkpoint"></select></h3>
      <p id="bifWarning" class="warning" role="alert" hidden></p>
      <p id="bifRhat" class="note"></p>
      <div class="side-chart"><canvas id="chains"></canvas></div>
    </section>
  </aside>
</div>
<details id="rerun" class="rerun">
  <summary>Rerun with other settings…</summary>
  <form id="rerunForm" novalidate>
    <fieldset><legend>TracIn</legend>
      ${NUM("tracin.every", "every", "Analyse every k-th checkpoint (1 = all)")}
      ${NUM("tracin.projectionDim", "projection dim", "Random projection dimension of per-example gradients")}
      ${NUM("tracin.trainExamples", "train examples", "Training examples scored (0 = all)")}
      <vscode-button class="rerun-btn" data-analysis="tracin">Rerun TracIn</vscode-button>
    </fieldset>
    <fieldset><legend>BIF (SGLD)</legend>
      ${NUM("bif.every", "every", "Analyse every k-th checkpoint")}
      ${NUM("bif.chains", "chains", "Independent SGLD chains")}
      ${NUM("bif.draws", "draws", "Draws per chain after burn-in")}
      ${NUM("bif.burnIn", "burn-in", "Steps discarded at the start of each chain")}
      ${NUM("bif.thin", "thin", "Keep every k-th draw")}
      ${NUM("bif.epsilon", "ε", "SGLD step size", "any")}
      ${NUM("bif.gamma", "γ", "Localization strength", "any")}
      ${NUM("bif.nBeta", "nβ", "Inverse temperature × n (0 = n / log n)", "any")}
      ${NUM("bif.batchSize", "batch", "SGLD minibatch size")}
      <vscode-button class="rerun-btn" data-analysis="bif">Rerun BIF</vscode-button>
    </fieldset>
    <fieldset><legend>Kernel</legend>
      ${NUM("kernel.every", "every", "Analyse every k-th checkpoint")}
      ${NUM("kernel.probeSize", "probe set", "Examples in the fixed probe set")}
      <vscode-button class="rerun-btn" data-analysis="kernel">Rerun kernel</vscode-button>
    </fieldset>
  </form>
  <p id="rerunStatus" class="note" role="status"></p>
</details>
`;

export function influenceHtml(r: PageResources): string {
  return webviewPageHtml("Influence over time", BODY, r);
}
