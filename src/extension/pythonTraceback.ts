// The Python traceback at the end of a script's stderr, read for the Problems panel: the exception
// that ended the script, and the innermost frame in the user's own files (not in torch, the
// standard library or our logger). Python prints it whether the error came before `lm.init` or
// inside the run, so this one reading serves both. No `vscode` here.
//
// Shapes handled (CPython 3.8–3.13): "Traceback (most recent call last):" blocks, chained with
// "The above exception was the direct cause…" / "During handling of the above exception…" (the
// last block is the one that ended the script); the 3.11+ `~~~^^^` marker lines; "[Previous line
// repeated N more times]"; a SyntaxError with or without a traceback above it, its `File "…",
// line N` frame without `, in`, and its caret line.

import type { Location } from "../shared/trainerProtocol";

export interface PythonFrame {
  file: string;
  /** 1-based. */
  line: number;
  /** The function (`<module>` at top level); absent for a SyntaxError's frame. */
  name?: string;
}

export interface PythonError {
  /** The exception's type as printed, e.g. "RuntimeError", "torch.OutOfMemoryError". */
  type: string;
  /** "RuntimeError: mat1 and mat2 shapes cannot be multiplied" (every line of the message). */
  message: string;
  /** Innermost first is not Python's order: these are as printed, outermost first. */
  frames: PythonFrame[];
  /** The innermost frame in the user's files (1-based line and column), if any. */
  location?: Location;
}

const HEADER = "Traceback (most recent call last):";
const FRAME = /^ {2}File "(.+)", line (\d+)(?:, in (.+))?$/;
/** The exception line: a dotted type name, then ": message" or nothing. */
const EXCEPTION = /^([A-Za-z_][\w.]*)(?::\s?(.*))?$/;

/** Where Python's own and installed code lives: any file elsewhere is the user's. */
export function isLibraryFile(file: string, packageRoot?: string): boolean {
  if (file.startsWith("<")) return true; // <frozen importlib._bootstrap>, <string>, <stdin>
  const f = file.replace(/\\/g, "/");
  if (/\/(site|dist)-packages\//.test(f)) return true;
  if (/\/lib\/python\d+(\.\d+)?t?\//i.test(f) || /\/Lib\//.test(f)) return true; // the standard library
  if (packageRoot !== undefined) {
    const root = packageRoot.replace(/\\/g, "/").replace(/\/$/, "");
    if (f.startsWith(`${root}/`)) return true; // our logger: an error it raises is about the user's call
  }
  return false;
}

export interface ParseOptions {
  /** Which files are the user's; default: not a library file (isLibraryFile). */
  isUserFile?: (file: string) => boolean;
  /** The text of a line of a file (1-based), to place a SyntaxError's caret at the right column. */
  lineText?: (file: string, line: number) => string | undefined;
}

/**
 * The error that ended a script, from its stderr (or its tail), or undefined when stderr ends with
 * no traceback. A KeyboardInterrupt (Ctrl-C, or Stop) is returned too: callers decide.
 */
export function parsePythonTraceback(stderr: string, options: ParseOptions = {}): PythonError | undefined {
  const lines = stderr.replace(/\r\n?/g, "\n").split("\n");
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === "") lines.pop();
  // The exception line is the last line that does not start with a space, read upward past a
  // message of several lines: the block starts at the last header, or at the last frame line.
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i] === HEADER) {
      start = i + 1;
      break;
    }
  }
  if (start === -1) {
    // No header: a SyntaxError in the script itself starts directly with its `File` line.
    for (let i = lines.length - 1; i >= 0; i--)
      if (FRAME.test(lines[i] as string)) {
        start = i;
        break;
      }
    if (start === -1) return undefined;
  }
  const frames: PythonFrame[] = [];
  /** Per frame, the 0-based column in its shown (unindented) code of the caret or `~^` markers. */
  const marks = new Map<number, number>();
  let i = start;
  for (; i < lines.length; i++) {
    const text = lines[i] as string;
    const m = FRAME.exec(text);
    if (m) {
      frames.push({ file: m[1] as string, line: Number(m[2]), ...(m[3] !== undefined ? { name: m[3] } : {}) });
      continue;
    }
    if (text.startsWith("    ")) {
      // The frame's code, or under it a marker line (`~~^^`), or a SyntaxError's caret line.
      const body = text.slice(4);
      if (/^\s*[~^]+[\s~^]*$/.test(body) && frames.length > 0 && !marks.has(frames.length - 1))
        marks.set(frames.length - 1, body.search(/[~^]/));
      continue;
    }
    if (text.startsWith("  ") || text.startsWith("[Previous line repeated")) continue;
    break;
  }
  if (frames.length === 0 || i >= lines.length) return undefined;
  const head = EXCEPTION.exec(lines[i] as string);
  if (!head) return undefined;
  const message = lines.slice(i).join("\n");
  const isUser = options.isUserFile ?? ((f: string) => !isLibraryFile(f));
  let innermost: number | undefined;
  for (let k = frames.length - 1; k >= 0; k--)
    if (isUser((frames[k] as PythonFrame).file)) {
      innermost = k;
      break;
    }
  const error: PythonError = { type: head[1] as string, message, frames };
  if (innermost !== undefined) {
    const f = frames[innermost] as PythonFrame;
    let column = 1;
    const mark = marks.get(innermost);
    if (mark !== undefined) {
      // Python shows the line without its indentation: add it back from the file when we can.
      const source = options.lineText?.(f.file, f.line);
      const indent = source === undefined ? 0 : (/^\s*/.exec(source)?.[0].length ?? 0);
      column = indent + mark + 1;
    }
    error.location = { file: f.file, line: f.line, column };
  }
  return error;
}
