// Which Python files are experiments the extension can run (`▶ Run`): files that call the logger's
// `init(` through the package (`lm.init(`, `learning_mechanics.init(`, or the name of an
// `import learning_mechanics as NAME`), outside comments and strings. Linear in the file's length;
// cached per document version by ScanCache (experimentScanner.ts). No `vscode` here.

export interface PythonInitCall {
  /** 0-based line and column of the call's module name (`lm` in `lm.init(`). */
  line: number;
  column: number;
}

/**
 * Replaces the contents of comments and string literals (single, double, triple-quoted, with any
 * prefix) with spaces, keeping every newline, so lines and columns are unchanged and a regex over
 * the result only sees code. An f-string's `{…}` code is blanked too: a call in it is not the run.
 */
export function maskPythonNonCode(text: string): string {
  // Built from slices (code kept, the rest blanked), not character by character: a 1 MB file
  // split into a million one-character strings cost more in memory churn than the scan itself.
  const parts: string[] = [];
  let copied = 0;
  const n = text.length;
  const blank = (from: number, to: number): void => {
    const segment = text.slice(from, to);
    // Most segments are one line: spaces of its length; a multi-line one keeps its line breaks.
    const multiline = segment.includes("\n") || segment.includes("\r");
    parts.push(text.slice(copied, from), multiline ? segment.replace(/[^\r\n]/g, " ") : " ".repeat(segment.length));
    copied = to;
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 35 /* # */) {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === 34 /* " */ || c === 39 /* ' */) {
      const q = text[i] as string;
      const triple = text[i + 1] === q && text[i + 2] === q;
      const quote = triple ? q.repeat(3) : q;
      let j = i + quote.length;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 92 /* \ */) {
          j += 2;
          continue;
        }
        if (!triple && d === 10) break; // an unterminated one-line string ends at the line
        if (d === c && (!triple || text.startsWith(quote, j))) break;
        j++;
      }
      const end = Math.min(j, n);
      blank(i + quote.length, end);
      i = Math.min(end + (end < n && text.charCodeAt(end) !== 10 ? quote.length : 0), n);
      continue;
    }
    i++;
  }
  parts.push(text.slice(copied));
  return parts.join("");
}

const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
/** `import learning_mechanics as NAME` (also inside `import a, learning_mechanics as NAME`). */
const ALIAS = new RegExp(`\\blearning_mechanics\\s+as\\s+(${IDENT})`, "g");

/** Finds calls of the logger's `init(` in a Python file, in order. */
export function scanPythonInitCalls(text: string): PythonInitCall[] {
  const masked = maskPythonNonCode(text);
  const names = new Set(["lm", "learning_mechanics"]);
  for (const m of masked.matchAll(ALIAS)) if (m[1] !== undefined) names.add(m[1]);
  const call = new RegExp(`(?<![\\w.])(${[...names].join("|")})\\s*\\.\\s*init\\s*\\(`, "g");
  const out: PythonInitCall[] = [];
  let line = 0;
  let lineStart = 0;
  let scanned = 0;
  for (const m of masked.matchAll(call)) {
    const offset = m.index as number;
    // Lines counted incrementally between matches: one pass over the text in all.
    for (; scanned < offset; scanned++)
      if (masked.charCodeAt(scanned) === 10) {
        line++;
        lineStart = scanned + 1;
      }
    out.push({ line, column: offset - lineStart });
  }
  return out;
}
