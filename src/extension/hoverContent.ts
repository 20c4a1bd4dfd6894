// The text of the hovers, as Markdown strings (the adapter wraps them in a vscode.MarkdownString
// with `supportHtml` and `isTrusted` off). Pure functions, no `vscode`: tested with node:test.
//
// Everything that came from a file — system names, paths, error messages, tensor names, backend
// names — goes through `escapeMarkdown`, so a run.json or a checkpoint header cannot inject links,
// images, HTML or table cells into the hover.

import * as path from "node:path";
import {
  type MetricsRecord,
  OPTIMIZER_TENSOR_PREFIX,
  type RunManifest,
  parseCheckpointFileName,
} from "../shared/runFormat";
import type { SafetensorsHeader, TensorInfo } from "../shared/safetensors";

// ---------------------------------------------------------------------------------------------
// Formatting helpers

/**
 * Escapes text for Markdown: every ASCII punctuation character gets a backslash (CommonMark allows
 * escaping any of them, and this also defuses `$(icon)` theme-icon syntax, autolinks, tables and
 * HTML); line breaks and other control characters become spaces, so the text stays on its line.
 */
export function escapeMarkdown(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this replaces
  return text.replace(/[\u0000-\u001f\u007f]/g, " ").replace(/[!-/:-@[-`{-~]/g, "\\$&");
}

/** 1234567 → "1,234,567" (locale-independent). Non-integers keep their decimals. */
export function formatInteger(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? "-" : "";
  const [int, frac] = String(Math.abs(n)).split(".");
  return sign + (int ?? "").replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (frac === undefined ? "" : `.${frac}`);
}

/** A metric value: 4 significant digits, exponent for very small or large magnitudes; "—" for null/NaN. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2).replace("e+", "e");
  return String(Number(v.toPrecision(4)));
}

/** An accuracy in [0, 1] as a percentage: 0.9876 → "98.8%". */
export function formatPercent(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return `${(v * 100).toFixed(1)}%`;
}

/** Bytes in binary units: 1536 → "1.5 KB", 3_000_000 → "2.9 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "?";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u] as string}`;
}

/** A duration: 42 s → "42s", 125 s → "2m 05s", 3725 s → "1h 02m 05s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x: number): string => String(x).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

/**
 * The last value of every scalar over a run's records, so an evaluation metric logged every
 * `evalEvery` steps is not lost behind the training lines after it. `step` and `time` come from the
 * last record. Undefined for no records.
 */
export function latestValues(records: readonly MetricsRecord[]): MetricsRecord | undefined {
  const last = records[records.length - 1];
  if (last === undefined) return undefined;
  const out: MetricsRecord = { step: last.step, time: last.time };
  for (const r of records) for (const [k, v] of Object.entries(r)) if (k !== "step" && k !== "time") out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// System hover (the code lens / experiment file)

/** Seconds the run has taken: endedAt (or, while running, the later of updatedAt and the last metrics time) minus startedAt. */
function elapsedSeconds(run: RunManifest, latest?: MetricsRecord): number | undefined {
  const start = typeof run.startedAt === "string" ? Date.parse(run.startedAt) : Number.NaN;
  if (Number.isNaN(start)) return undefined;
  const endIso: unknown = run.endedAt ?? run.updatedAt;
  const end = typeof endIso === "string" ? Date.parse(endIso) : Number.NaN;
  let seconds = Number.isNaN(end) ? undefined : (end - start) / 1000;
  if (run.endedAt === undefined && latest !== undefined && Number.isFinite(latest.time)) {
    seconds = seconds === undefined ? latest.time : Math.max(seconds, latest.time);
  }
  return seconds;
}

const STATUS_TEXT: Record<RunManifest["status"], string> = {
  running: "$(sync~spin) running",
  finished: "$(pass) finished",
  failed: "$(error) failed",
  diverged: "$(warning) diverged",
  stopped: "$(debug-stop) stopped",
};

/**
 * The hover over a model system: the latest run's status, progress, losses and accuracies, backend,
 * speed and elapsed time; "no runs yet" when there is none. `latest` should hold the last value of
 * each metric (see `latestValues`). Uses `$(icon)` syntax: set `supportThemeIcons` on the MarkdownString.
 */
export function systemHover(
  system: string,
  run: RunManifest | undefined,
  latest: MetricsRecord | undefined,
  stepsPerSecond?: number,
): string {
  const lines: string[] = [`**${escapeMarkdown(system)}**`, ""];
  if (run === undefined) {
    lines.push("no runs yet — press ▶ Train");
    return lines.join("\n");
  }
  // Every field below came from a run.json, which any producer (or a cloned repository) wrote:
  // each is type-checked here, where it is used, and every text is escaped.
  const runStep = finiteOr(run.step, 0);
  const totalSteps = finiteOr(run.totalSteps, 0);
  const step = Math.max(runStep, latest?.step ?? -Infinity);
  const pct = totalSteps > 0 ? ` (${Math.floor((100 * step) / totalSteps)}%)` : "";
  const status = Object.hasOwn(STATUS_TEXT, run.status) ? STATUS_TEXT[run.status] : escapeMarkdown(String(run.status));
  lines.push(`${status} · step ${formatInteger(step)} / ${formatInteger(totalSteps)}${pct}`, "");
  const divergedAt: unknown = run.divergedAtStep;
  if (run.status === "diverged" && typeof divergedAt === "number" && Number.isFinite(divergedAt))
    lines.push(`Diverged at step ${formatInteger(divergedAt)}.`, "");
  const error = errorText(run.error);
  if (error !== undefined) lines.push(`Error: ${error}`, "");

  if (latest !== undefined) {
    const has = (k: string): boolean => latest[k] !== undefined;
    const rows: string[] = [];
    if (has("train_loss") || has("test_loss"))
      rows.push(`| loss | ${formatValue(latest["train_loss"])} | ${formatValue(latest["test_loss"])} |`);
    if (has("train_acc") || has("test_acc"))
      rows.push(`| accuracy | ${formatPercent(latest["train_acc"])} | ${formatPercent(latest["test_acc"])} |`);
    if (rows.length > 0) lines.push("| | train | test |", "|---|---:|---:|", ...rows, "");
  }

  const facts: string[] = [`backend ${escapeMarkdown(backendName(run.backend) ?? "?")}`];
  if (stepsPerSecond !== undefined && Number.isFinite(stepsPerSecond) && run.status === "running")
    facts.push(`${formatValue(stepsPerSecond)} steps/s`);
  const elapsed = elapsedSeconds(run, latest);
  if (elapsed !== undefined) facts.push(`${run.status === "running" ? "elapsed" : "took"} ${formatDuration(elapsed)}`);
  lines.push(facts.join(" · "), "", `Run ${escapeMarkdown(String(run.id))}`);
  return lines.join("\n");
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A run.json `backend.name`, when it is a string. */
export function backendName(backend: unknown): string | undefined {
  return isObject(backend) && typeof backend["name"] === "string" ? backend["name"] : undefined;
}

/** A run.json `error` as escaped Markdown ("message (file.ts:3:7)"); undefined when it has no string message. */
export function errorText(error: unknown): string | undefined {
  if (!isObject(error) || typeof error["message"] !== "string") return undefined;
  const loc = error["location"];
  let where = "";
  if (isObject(loc) && typeof loc["file"] === "string") {
    const num = (v: unknown): string => (typeof v === "number" && Number.isFinite(v) ? String(v) : "?");
    where = ` (${escapeMarkdown(path.basename(loc["file"]))}:${num(loc["line"])}:${num(loc["column"])})`;
  }
  return `${escapeMarkdown(error["message"])}${where}`;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint hover

/** Rows of the tensor table before "… and N more". */
const CHECKPOINT_TABLE_ROWS = 30;

interface TensorStat {
  norm: number | null;
  relChange: number | null;
}

/** Parses the `stats` metadata; undefined when absent, a string when present but unreadable. */
function parseStats(raw: string | undefined): Map<string, TensorStat> | string | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return "stats unreadable (not JSON)";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "stats unreadable (not an object)";
  const out = new Map<string, TensorStat>();
  for (const [name, s] of Object.entries(value as Record<string, unknown>)) {
    if (typeof s !== "object" || s === null) continue;
    const o = s as Record<string, unknown>;
    out.set(name, {
      norm: typeof o["norm"] === "number" ? o["norm"] : null,
      relChange: typeof o["relChange"] === "number" ? o["relChange"] : null,
    });
  }
  return out;
}

function parseParamOrder(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? "scalar" : shape.join(" × ");
}

/**
 * The hover over a checkpoint path: step, file size, model parameters (in model order when the
 * metadata lists them) with shape, dtype and — when the trainer recorded `stats` — norm and relative
 * change from step 0; optimizer state summarized as a count. At most CHECKPOINT_TABLE_ROWS rows.
 */
export function checkpointHover(filePath: string, header: SafetensorsHeader, fileBytes: number): string {
  const meta = header.metadata;
  // The file name is the documented source of the step (docs/run-format.md); the metadata's `step`
  // only fills in for a file whose name has none.
  const fromName = parseCheckpointFileName(path.basename(filePath));
  const metaStep =
    typeof meta["step"] === "string" && /^\d{1,15}$/.test(meta["step"]) ? Number(meta["step"]) : undefined;
  const step = fromName ?? metaStep;

  const optimizer: TensorInfo[] = [];
  const params: TensorInfo[] = [];
  for (const t of header.tensors) (t.name.startsWith(OPTIMIZER_TENSOR_PREFIX) ? optimizer : params).push(t);
  // Model order from the `params` metadata; tensors it does not list follow in file order.
  const order = parseParamOrder(meta["params"]);
  if (order !== undefined) {
    const rank = new Map(order.map((n, i) => [n, i]));
    params.sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity));
  }

  const lines: string[] = [];
  const title = step === undefined ? "**Checkpoint**" : `**Checkpoint · step ${formatInteger(step)}**`;
  lines.push(title, "", `${escapeMarkdown(path.basename(filePath))} · ${formatBytes(fileBytes)}`, "");
  const paramCount = params.reduce((a, t) => a + elements(t.shape), 0);
  lines.push(
    `${formatInteger(params.length)} parameter tensor${params.length === 1 ? "" : "s"}, ${formatInteger(paramCount)} values`,
    "",
  );

  const stats = parseStats(meta["stats"]);
  const withStats = stats instanceof Map;
  if (params.length > 0) {
    if (withStats) lines.push("| parameter | shape | dtype | ‖W‖ | ‖W−W₀‖/‖W₀‖ |", "|---|---|---|---:|---:|");
    else lines.push("| parameter | shape | dtype |", "|---|---|---|");
    for (const t of params.slice(0, CHECKPOINT_TABLE_ROWS)) {
      const cells = [escapeMarkdown(t.name), formatShape(t.shape), escapeMarkdown(t.dtype)];
      if (withStats) {
        const s = stats.get(t.name);
        cells.push(formatValue(s?.norm), formatValue(s?.relChange));
      }
      lines.push(`| ${cells.join(" | ")} |`);
    }
    if (params.length > CHECKPOINT_TABLE_ROWS)
      lines.push("", `… and ${formatInteger(params.length - CHECKPOINT_TABLE_ROWS)} more`);
    lines.push("");
  }
  if (!withStats) lines.push(typeof stats === "string" ? escapeMarkdown(stats) : "stats not recorded", "");

  if (optimizer.length > 0) {
    const slots = [
      ...new Set(optimizer.map((t) => t.name.slice(OPTIMIZER_TENSOR_PREFIX.length).split("/")[0] ?? "")),
    ].sort();
    const bytes = optimizer.reduce((a, t) => a + (t.end - t.begin), 0);
    lines.push(
      `optimizer state: ${formatInteger(optimizer.length)} tensor${optimizer.length === 1 ? "" : "s"} (${slots.map(escapeMarkdown).join(", ")}), ${formatBytes(bytes)}`,
      "",
    );
  }
  lines.push(escapeMarkdown(filePath));
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Finding checkpoint paths in text

interface PathMatch {
  /** 0-based offsets into the line: [start, end) of the path itself (quotes excluded). */
  start: number;
  end: number;
  path: string;
}

const QUOTED = /(["'`])([^"'`\r\n]*?\.safetensors)\1/g;
/** Bare: a run of characters that are not whitespace, quotes, brackets or separators, ending in .safetensors. */
const BARE = /[^\s"'`()<>[\]{},;=|*?]+\.safetensors(?![\w-]|\.\w)/g;

/**
 * Finds paths ending in `.safetensors` in a line of any file (code, logs, Markdown): quoted with
 * ' " or ` (spaces allowed inside), or bare. Offsets exclude the quotes; a `file://` prefix is
 * removed from `path` (not from the range). Sorted by start, non-overlapping.
 */
export function findCheckpointPaths(lineText: string): Array<{ start: number; end: number; path: string }> {
  const out: PathMatch[] = [];
  const taken: Array<[number, number]> = [];
  for (const m of lineText.matchAll(QUOTED)) {
    const inner = m[2] as string;
    const start = (m.index as number) + 1;
    if (inner.trim() === ".safetensors" || inner === "") continue;
    out.push({ start, end: start + inner.length, path: stripFileUri(inner) });
    taken.push([m.index as number, (m.index as number) + m[0].length]);
  }
  for (const m of lineText.matchAll(BARE)) {
    const start = m.index as number;
    const text = m[0];
    const end = start + text.length;
    if (text === ".safetensors" || taken.some(([a, b]) => start < b && end > a)) continue;
    out.push({ start, end, path: stripFileUri(text) });
  }
  return out.sort((a, b) => a.start - b.start);
}

function stripFileUri(p: string): string {
  if (!p.startsWith("file://")) return p;
  try {
    return decodeURIComponent(p.slice("file://".length));
  } catch {
    return p.slice("file://".length);
  }
}
