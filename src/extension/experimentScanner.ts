// Instant code-lens positions for the model systems of an experiment file, found in its text
// before the trainer has loaded it. The trainer's `list` reply is the source of truth (it runs the
// file, so it also knows systems built by helper functions); this scanner only makes the lenses
// appear at once and keeps them in place while the user types. No `vscode` here.
//
// It recognizes `export const NAME = modelSystem(` (`let`/`var`, a type annotation, a namespace
// prefix such as `lm.modelSystem(`, type arguments) and `export default modelSystem(` (name
// "default"), and ignores text inside comments, strings, template literals and regex literals.

import type { SystemSummary } from "../shared/trainerProtocol";
import { samePath } from "./paths";

export interface ScannedSystem {
  name: string;
  /** 0-based line and column of the name (of `default` for a default export). */
  line: number;
  column: number;
}

/** Keywords after which a `/` starts a regex literal rather than a division. */
const REGEX_AFTER_WORD = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "yield",
  "await",
  "instanceof",
]);

/**
 * Replaces the contents of comments, strings, template literals (their `${…}` code is kept) and
 * regex literals with spaces, keeping every newline, so offsets, lines and columns are unchanged
 * and a plain regex over the result only sees code.
 */
export function maskNonCode(text: string): string {
  const out = text.split("");
  const n = text.length;
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to && k < n; k++) if (out[k] !== "\n" && out[k] !== "\r") out[k] = " ";
  };
  // Stack of open template literals: each holds the brace depth of its current `${` expression.
  const templates: number[] = [];
  let braceDepth = 0;
  let lastSignificant = ""; // last code character that is not whitespace
  let lastWord = "";
  let i = 0;

  /** Scans template text from i (just after ` or }) to the closing ` or the next `${`. */
  const scanTemplateText = (): void => {
    const start = i;
    while (i < n) {
      const c = text[i];
      if (c === "\\") {
        i += 2;
        continue;
      }
      if (c === "`") {
        blank(start, i);
        templates.pop();
        i++;
        lastSignificant = "`";
        lastWord = "";
        return;
      }
      if (c === "$" && text[i + 1] === "{") {
        blank(start, i);
        i += 2;
        templates[templates.length - 1] = braceDepth;
        braceDepth++;
        lastSignificant = "{";
        lastWord = "";
        return;
      }
      i++;
    }
    blank(start, n);
  };

  while (i < n) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      blank(i + 1, Math.min(j, n));
      i = Math.min(j + 1, n);
      lastSignificant = c;
      lastWord = "";
      continue;
    }
    if (c === "`") {
      templates.push(-1);
      i++;
      scanTemplateText();
      continue;
    }
    if (c === "/") {
      const isDivision = /[\w$)\]}]/.test(lastSignificant) && !REGEX_AFTER_WORD.has(lastWord);
      if (!isDivision) {
        let j = i + 1;
        let inClass = false;
        while (j < n && text[j] !== "\n") {
          const d = text[j];
          if (d === "\\") {
            j += 2;
            continue;
          }
          if (d === "[") inClass = true;
          else if (d === "]") inClass = false;
          else if (d === "/" && !inClass) break;
          j++;
        }
        blank(i + 1, j);
        i = Math.min(j + 1, n);
        lastSignificant = ")"; // a regex is a value: a following `/` divides
        lastWord = "";
        continue;
      }
    }
    if (c === "{") braceDepth++;
    if (c === "}") {
      const top = templates[templates.length - 1];
      if (top !== undefined && top === braceDepth - 1) {
        // End of a template's `${…}`: back into its text.
        braceDepth--;
        templates[templates.length - 1] = -1;
        i++;
        scanTemplateText();
        continue;
      }
      braceDepth = Math.max(0, braceDepth - 1);
    }
    if (/[\w$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(text[j] as string)) j++;
      lastWord = text.slice(i, j);
      lastSignificant = c;
      i = j;
      continue;
    }
    if (!/\s/.test(c)) {
      lastSignificant = c;
      lastWord = "";
    }
    i++;
  }
  return out.join("");
}

const IDENT = "[A-Za-z_$][\\w$]*";
/**
 * A character of a type annotation or type arguments: not `=`/`;` (or `(`/`)` for type arguments),
 * and not the start of the next `export`. Stopping at the next `export` keeps the scan linear: each
 * declaration looks only as far as the next one, where it used to look to the end of the file for an
 * `=` (a file of `export const x: T` lines took seconds).
 */
const TYPE_CHAR = "(?:(?!export\\b)[^=;])";
const TYPE_ARG_CHAR = "(?:(?!export\\b)[^;()])";
// `export (const|let|var) NAME (: Type)? = (ns.)?modelSystem(<T>)?(` or `export default (ns.)?modelSystem(`.
const DECL = new RegExp(
  `(?<![\\w$.])export\\s+(?:(?:const|let|var)\\s+(${IDENT})\\s*(?::${TYPE_CHAR}*?)?=\\s*|(default)\\s+)(?:${IDENT}\\s*\\.\\s*)?modelSystem\\s*(?:<${TYPE_ARG_CHAR}*?>\\s*)?\\(`,
  "g",
);

/** Finds `export const NAME = modelSystem(` declarations (and `export default modelSystem(`) outside comments and strings. */
export function scanModelSystems(text: string): ScannedSystem[] {
  const masked = maskNonCode(text);
  // Line starts, to turn offsets into line/column.
  const lineStarts = [0];
  for (let k = 0; k < masked.length; k++) if (masked.charCodeAt(k) === 10) lineStarts.push(k + 1);
  const position = (offset: number): { line: number; column: number } => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, column: offset - (lineStarts[lo] as number) };
  };
  const out: ScannedSystem[] = [];
  for (const m of masked.matchAll(DECL)) {
    const name = m[1] ?? "default";
    const word = m[1] !== undefined ? m[1] : "default";
    // The name's offset within the match (after `export` and the keyword).
    const offset = (m.index as number) + m[0].indexOf(word, "export".length);
    out.push({ name, ...position(offset) });
  }
  return out;
}

/**
 * The scan of each open document, by version: code lenses, hovers and commands ask for the same
 * document many times between edits (each refresh, each hover), and a large file costs a scan.
 * Only the latest version of each document is kept. Any scan: `ScanCache` is the one of model
 * systems, pythonCodeLens.ts keeps one of `lm.init(` calls.
 */
export class VersionCache<T> {
  private readonly byDocument = new Map<string, { version: number; result: T }>();
  /** Scans done (not served from the cache). */
  scans = 0;

  constructor(private readonly scan: (text: string) => T) {}

  /** The scan of `document` at `version`; `text` is called only when that version was not scanned. */
  get(document: string, version: number, text: () => string): T {
    const hit = this.byDocument.get(document);
    if (hit !== undefined && hit.version === version) return hit.result;
    this.scans++;
    const result = this.scan(text());
    this.byDocument.set(document, { version, result });
    return result;
  }

  forget(document: string): void {
    this.byDocument.delete(document);
  }
}

/** The model systems of each open document, by version. */
export class ScanCache extends VersionCache<ScannedSystem[]> {
  constructor(scan: (text: string) => ScannedSystem[] = scanModelSystems) {
    super(scan);
  }
}

export interface SystemPosition {
  name: string;
  /** 0-based. */
  line: number;
  column: number;
  /** Where the position came from: the trainer's `list` (location in this file), the scan, or neither (line 0). */
  source: "trainer" | "scanner" | "none";
  /** The trainer's summary, when the system is listed. */
  summary?: SystemSummary;
}

/**
 * Combines the scan with the trainer's `list` reply. When `listed` is undefined (the trainer has not
 * answered yet, or failed), the scan is the answer. Otherwise the listed systems are the answer — the
 * trainer ran the file — each at the trainer's location when it points into `file` (1-based there,
 * converted to 0-based), else at the scanned position, else at line 0. Sorted by position, then name.
 */
export function mergeWithTrainerList(
  scanned: readonly ScannedSystem[],
  listed: readonly SystemSummary[] | undefined,
  file?: string,
): SystemPosition[] {
  if (listed === undefined) return scanned.map((s) => ({ ...s, source: "scanner" as const }));
  const byName = new Map(scanned.map((s) => [s.name, s]));
  const out: SystemPosition[] = listed.map((summary) => {
    const loc = summary.location;
    if (loc !== undefined && (file === undefined || samePath(loc.file, file)) && loc.line >= 1) {
      return {
        name: summary.name,
        line: loc.line - 1,
        column: Math.max(0, loc.column - 1),
        source: "trainer",
        summary,
      };
    }
    const s = byName.get(summary.name);
    if (s !== undefined) return { name: summary.name, line: s.line, column: s.column, source: "scanner", summary };
    return { name: summary.name, line: 0, column: 0, source: "none", summary };
  });
  return out.sort((a, b) => a.line - b.line || a.column - b.column || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
