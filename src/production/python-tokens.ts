/**
 * The tokens of the Python literal subset that SNO+'s hand-written information files use
 * (processing_information_x_y_z.py): names, strings, numbers, brackets and a few operators, with
 * line and column. Nothing is executed. Curly quotes (“ ” ‘ ’), as web pages and word processors
 * render straight ones, count as straight quotes.
 */

export interface Problem {
  line: number;
  column: number;
  /** `what is wrong (expected …)`. */
  message: string;
}

export type TokenKind = 'name' | 'string' | 'number' | 'op' | 'newline' | 'end';

export interface Token {
  kind: TokenKind;
  /** The name, the operator, or the source text of a string or number. */
  text: string;
  /** A string's characters (escapes applied) or a number's value. */
  value?: string | number;
  line: number;
  column: number;
  /** The column just after the token, for "a comma is missing after …". */
  endColumn: number;
}

const DOUBLE = new Set(['"', '“', '”']);
const SINGLE = new Set(["'", '‘', '’']);
const OPERATORS = new Set(['(', ')', '[', ']', '{', '}', ',', ':', '=', '.', '-', '+', '*', ';']);
const NUMBER =
  /(?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)[jJ]?/y;
const NAME = /[A-Za-z_]\w*/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

/** Python's escapes in a string's body (a raw string keeps them as written); an unknown one keeps its backslash, as Python does. */
function unescape(body: string): string {
  return body.replace(/\\(x[\da-fA-F]{2}|u[\da-fA-F]{4}|U[\da-fA-F]{8}|\n|[\s\S])/g, (whole, code: string) => {
    if (code === '\n') return '';
    if (code.length > 1) return String.fromCodePoint(parseInt(code.slice(1), 16));
    return ESCAPES[code] ?? whole;
  });
}

const CLOSING: Readonly<Record<string, string>> = { '“': '”', '‘': '’' };

/** Reads tokens from the text one at a time, keeping the line and column. */
class Tokenizer {
  readonly tokens: Token[] = [];
  readonly problems: Problem[] = [];
  private at = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  private column(offset: number): number {
    return offset - this.lineStart + 1;
  }

  private newLine(start: number): void {
    this.line += 1;
    this.lineStart = start;
  }

  private push(kind: TokenKind, start: number, line: number, column: number, value?: string | number): void {
    this.tokens.push({
      kind,
      text: this.text.slice(start, this.at),
      ...(value !== undefined && { value }),
      line,
      column,
      endColumn: this.column(this.at),
    });
  }

  private problem(line: number, column: number, message: string): void {
    this.problems.push({ line, column, message });
  }

  /** A string from its opening quote (after any prefix, which starts at `start`). */
  private string(start: number, raw: boolean): void {
    const { text } = this;
    const opener = text[this.at] ?? '';
    const [line, column] = [this.line, this.column(start)];
    const straight = opener === '"' || opener === "'";
    const triple = straight && text.startsWith(opener.repeat(3), this.at);
    const family = DOUBLE.has(opener) ? DOUBLE : SINGLE;
    // a straight quote closes only at its like; a curly one at any quote of its family
    const closes = (char: string) => (straight ? char === opener : family.has(char));
    this.at += triple ? 3 : 1;
    const bodyStart = this.at;
    for (;;) {
      const char = text[this.at];
      if (char === undefined || (char === '\n' && !triple)) {
        const closer = triple ? opener.repeat(3) : (CLOSING[opener] ?? opener);
        this.problem(
          line,
          column,
          `a string with no closing quote (expected ${closer} before the end of the ${triple ? 'file' : 'line'})`,
        );
        this.push('string', start, line, column, text.slice(bodyStart, this.at));
        return;
      }
      if (char === '\\') {
        if (text[this.at + 1] === '\n') this.newLine(this.at + 2);
        this.at += 2;
        continue;
      }
      if (char === '\n') this.newLine(this.at + 1);
      if (triple ? text.startsWith(opener.repeat(3), this.at) : closes(char)) {
        const body = text.slice(bodyStart, this.at);
        this.at += triple ? 3 : 1;
        this.push('string', start, line, column, raw ? body : unescape(body));
        return;
      }
      this.at += 1;
    }
  }

  private number(start: number): void {
    NUMBER.lastIndex = this.at;
    const source = NUMBER.exec(this.text)?.[0] ?? this.text[this.at] ?? '';
    this.at += source.length;
    const digits = source.replaceAll('_', '');
    if (/[jJ]$/.test(source))
      this.problem(this.line, this.column(start), `${source} is a complex number (expected a plain number)`);
    const value = /^0[xob]/i.test(digits) ? Number(digits) : Number.parseFloat(digits);
    this.push('number', start, this.line, this.column(start), value);
  }

  /** A name, or a string's prefix (r, u; b and f are refused) when a quote follows. */
  private name(start: number): void {
    NAME.lastIndex = this.at;
    const name = NAME.exec(this.text)?.[0] ?? '';
    this.at += name.length;
    const quote = this.text[this.at] ?? '';
    if (!/^[rRuUbBfF]{1,2}$/.test(name) || !(DOUBLE.has(quote) || SINGLE.has(quote))) {
      this.push('name', start, this.line, this.column(start));
      return;
    }
    if (/[bBfF]/.test(name))
      this.problem(
        this.line,
        this.column(start),
        `a ${name}-string (expected a plain string: f-strings are code, bytes are not text)`,
      );
    this.string(start, /[rR]/.test(name));
  }

  /** Reads one token (or skips a space, a comment or a `\` line continuation). */
  step(): void {
    const { text } = this;
    const char = text[this.at] ?? '';
    const start = this.at;
    const next = text[this.at + 1] ?? '';
    if (char === '\n') {
      this.at += 1;
      this.push('newline', start, this.line, this.column(start));
      this.newLine(this.at);
    } else if (char === ' ' || char === '\t' || char === '\r' || char === '\f') this.at += 1;
    else if (char === '#') while (this.at < text.length && text[this.at] !== '\n') this.at += 1;
    else if (char === '\\' && (next === '\n' || (next === '\r' && text[this.at + 2] === '\n'))) {
      this.at += next === '\n' ? 2 : 3;
      this.newLine(this.at);
    } else if (DOUBLE.has(char) || SINGLE.has(char)) this.string(start, false);
    else if (/\d/.test(char) || (char === '.' && /\d/.test(next))) this.number(start);
    else if (/[A-Za-z_]/.test(char)) this.name(start);
    else {
      this.at += 1;
      if (OPERATORS.has(char)) this.push('op', start, this.line, this.column(start));
      else
        this.problem(
          this.line,
          this.column(start),
          `"${char}" is not part of a Python literal (expected strings, numbers, lists, dicts, sets and Name(key = value))`,
        );
    }
  }

  run(): { tokens: Token[]; problems: Problem[] } {
    while (this.at < this.text.length) this.step();
    this.push('end', this.at, this.line, this.column(this.at));
    return { tokens: this.tokens, problems: this.problems };
  }
}

/** Splits the text into tokens; a newline token ends every physical line not continued by `\`. */
export function tokenize(text: string): { tokens: Token[]; problems: Problem[] } {
  return new Tokenizer(text).run();
}

export const isOp = (token: Token, text: string) => token.kind === 'op' && token.text === text;
export const isCloser = (token: Token) => token.kind === 'op' && [')', ']', '}'].includes(token.text);
export const startsValue = (token: Token) =>
  token.kind === 'string' ||
  token.kind === 'number' ||
  token.kind === 'name' ||
  (token.kind === 'op' && ['(', '[', '{', '-', '+'].includes(token.text));

/** A token as a message names it. */
export function shown(token: Token): string {
  if (token.kind === 'newline') return 'the end of the line';
  if (token.kind === 'end') return 'the end of the file';
  return token.text.length > 30 ? `${token.text.slice(0, 27)}…` : token.text;
}
