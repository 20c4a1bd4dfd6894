// JSON as other programs write it, for the run-folder readers (docs/run-format.md, "Limits").
//
// - Python's `json.dumps` writes the bare tokens `NaN`, `Infinity` and `-Infinity` for
//   non-finite floats (allow_nan=True is its default). They are not JSON, but a metrics line
//   holding one is a record with a non-finite value, not a broken line: `parseJsonTolerant` reads
//   them, outside strings only, as NaN / ±Infinity.
// - Errors never quote the text. V8's messages do ("Unexpected token 's', "secret..." is not
//   valid JSON"), and the text may be whatever a symlink pointed at; ours give a position only.
//
// Valid JSON goes through JSON.parse (fast); only text it rejects is parsed again here, so the
// slower parser below costs nothing on well-formed files.

/** Text that is not JSON (even with the non-finite tokens allowed). The message quotes none of it. */
export class JsonSyntaxError extends SyntaxError {
  override readonly name = "JsonSyntaxError";
  constructor(
    /** 0-based offset (in UTF-16 code units) of the problem. */
    readonly position: number,
    /** What is wrong, in words, with its line and column: "unexpected character at line 1, column 5". */
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** Deeper nesting than this is refused (the fallback parser is recursive; JSON.parse is not). */
const MAX_DEPTH = 512;

/** Parses JSON that may hold Python's NaN / Infinity / -Infinity tokens; throws JsonSyntaxError. */
export function parseJsonTolerant(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return new TolerantParser(text).document();
}

/** "at line L, column C" (1-based) of offset `position` in `text`. */
function where(text: string, position: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < position; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `at line ${line}, column ${position - lineStart + 1}`;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class TolerantParser {
  private i = 0;
  constructor(private readonly s: string) {}

  document(): unknown {
    this.space();
    if (this.i >= this.s.length) this.fail(this.s.length === 0 ? "empty text" : "no value (only white space)");
    const v = this.value(0);
    this.space();
    if (this.i < this.s.length) this.fail("unexpected text after the value");
    return v;
  }

  private fail(what: string, at = this.i): never {
    throw new JsonSyntaxError(at, `${what} ${where(this.s, at)}`);
  }

  private space(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else return;
    }
  }

  private word(w: string): boolean {
    if (!this.s.startsWith(w, this.i)) return false;
    this.i += w.length;
    return true;
  }

  private value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    if (this.i >= this.s.length) this.fail("unexpected end of the text (cut short?)");
    switch (this.s[this.i]) {
      case "{":
        return this.object(depth);
      case "[":
        return this.array(depth);
      case '"':
        return this.string();
      case "t":
        if (this.word("true")) return true;
        break;
      case "f":
        if (this.word("false")) return false;
        break;
      case "n":
        if (this.word("null")) return null;
        break;
      case "N":
        if (this.word("NaN")) return Number.NaN;
        break;
      case "I":
        if (this.word("Infinity")) return Number.POSITIVE_INFINITY;
        break;
      case "-":
        if (this.word("-Infinity")) return Number.NEGATIVE_INFINITY;
        return this.number();
      default:
        if (/[0-9]/.test(this.s[this.i] as string)) return this.number();
    }
    return this.fail("unexpected character");
  }

  private number(): number {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (m === null) return this.fail("invalid number");
    this.i += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    const s = this.s;
    const start = this.i;
    let j = start + 1;
    for (;;) {
      if (j >= s.length) return this.fail("unterminated string", start);
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      if (c === 0x5c) j += 2;
      else if (c < 0x20) return this.fail("control character in a string", j);
      else j++;
    }
    this.i = j + 1;
    try {
      // Escapes are JSON.parse's to check and decode: the slice is one complete string literal.
      return JSON.parse(s.slice(start, j + 1)) as string;
    } catch {
      return this.fail("invalid escape in a string", start);
    }
  }

  private array(depth: number): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.space();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      out.push(this.value(depth + 1));
      this.space();
      const c = this.s[this.i];
      this.i++;
      if (c === "]") return out;
      if (c !== ",")
        this.fail(c === undefined ? "unexpected end of the text (cut short?)" : "expected ',' or ']'", this.i - 1);
    }
  }

  private object(depth: number): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.space();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.s[this.i] !== '"')
        this.fail(
          this.i >= this.s.length
            ? "unexpected end of the text (cut short?)"
            : "expected a property name in double quotes",
        );
      const key = this.string();
      this.space();
      if (this.s[this.i] !== ":") this.fail("expected ':' after a property name");
      this.i++;
      this.space();
      const v = this.value(depth + 1);
      // defineProperty, like JSON.parse: a key "__proto__" is an ordinary own property.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.s[this.i];
      this.i++;
      if (c === "}") return out;
      if (c !== ",")
        this.fail(c === undefined ? "unexpected end of the text (cut short?)" : "expected ',' or '}'", this.i - 1);
    }
  }
}

/**
 * Parses JSON (tolerantly, as above) and returns the value or, instead of throwing, the problem in
 * words with its position and none of the text ("unexpected character at line 1, column 1").
 */
export function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: parseJsonTolerant(text) };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, problem: e.problem };
    if (e instanceof RangeError) return { ok: false, problem: "nested too deeply" };
    throw e;
  }
}
