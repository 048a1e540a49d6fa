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

/** Splits the text into tokens; a newline token ends every physical line not continued by `\`. */
export function tokenize(text: string): { tokens: Token[]; problems: Problem[] } {
  const tokens: Token[] = [];
  const problems: Problem[] = [];
  let at = 0;
  let line = 1;
  let lineStart = 0;
  const column = (offset: number) => offset - lineStart + 1;
  const push = (kind: TokenKind, start: number, startLine: number, startColumn: number, value?: string | number) =>
    tokens.push({
      kind,
      text: text.slice(start, at),
      ...(value !== undefined && { value }),
      line: startLine,
      column: startColumn,
      endColumn: column(at),
    });

  const readString = (start: number, raw: boolean) => {
    const opener = text[at] ?? '';
    const startLine = line;
    const startColumn = column(start);
    const triple = (opener === '"' || opener === "'") && text.startsWith(opener.repeat(3), at);
    const family = DOUBLE.has(opener) ? DOUBLE : SINGLE;
    // a straight quote closes only at its like; a curly one at any quote of its family
    const closes = (char: string) => (opener === '"' || opener === "'" ? char === opener : family.has(char));
    at += triple ? 3 : 1;
    const bodyStart = at;
    for (;;) {
      const char = text[at];
      if (char === undefined || (char === '\n' && !triple)) {
        problems.push({
          line: startLine,
          column: startColumn,
          message: `a string with no closing quote (expected ${triple ? opener.repeat(3) : opener === '“' ? '”' : opener === '‘' ? '’' : opener} before the end of the ${triple ? 'file' : 'line'})`,
        });
        push('string', start, startLine, startColumn, text.slice(bodyStart, at));
        return;
      }
      if (char === '\\') {
        if (text[at + 1] === '\n') {
          line += 1;
          lineStart = at + 2;
        }
        at += 2;
        continue;
      }
      if (char === '\n') {
        line += 1;
        lineStart = at + 1;
      }
      if (triple ? text.startsWith(opener.repeat(3), at) : closes(char)) {
        const body = text.slice(bodyStart, at);
        at += triple ? 3 : 1;
        push('string', start, startLine, startColumn, raw ? body : unescape(body));
        return;
      }
      at += 1;
    }
  };

  while (at < text.length) {
    const char = text[at] ?? '';
    const start = at;
    if (char === '\n') {
      at += 1;
      push('newline', start, line, column(start));
      line += 1;
      lineStart = at;
    } else if (char === ' ' || char === '\t' || char === '\r' || char === '\f') {
      at += 1;
    } else if (char === '#') {
      while (at < text.length && text[at] !== '\n') at += 1;
    } else if (char === '\\' && (text[at + 1] === '\n' || (text[at + 1] === '\r' && text[at + 2] === '\n'))) {
      at += text[at + 1] === '\n' ? 2 : 3;
      line += 1;
      lineStart = at;
    } else if (DOUBLE.has(char) || SINGLE.has(char)) {
      readString(start, false);
    } else if (/\d/.test(char) || (char === '.' && /\d/.test(text[at + 1] ?? ''))) {
      NUMBER.lastIndex = at;
      const source = NUMBER.exec(text)?.[0] ?? char;
      at += source.length;
      const digits = source.replaceAll('_', '');
      if (/[jJ]$/.test(source))
        problems.push({
          line,
          column: column(start),
          message: `${source} is a complex number (expected a plain number)`,
        });
      const value = /^0[xob]/i.test(digits) ? Number(digits) : Number.parseFloat(digits);
      push('number', start, line, column(start), value);
    } else if (/[A-Za-z_]/.test(char)) {
      NAME.lastIndex = at;
      const name = NAME.exec(text)?.[0] ?? char;
      at += name.length;
      const quote = text[at] ?? '';
      if (/^[rRuUbBfF]{1,2}$/.test(name) && (DOUBLE.has(quote) || SINGLE.has(quote))) {
        if (/[bBfF]/.test(name))
          problems.push({
            line,
            column: column(start),
            message: `a ${name}-string (expected a plain string: f-strings are code, bytes are not text)`,
          });
        readString(start, /[rR]/.test(name));
      } else push('name', start, line, column(start));
    } else if (OPERATORS.has(char)) {
      at += 1;
      push('op', start, line, column(start));
    } else {
      at += 1;
      problems.push({
        line,
        column: column(start),
        message: `"${char}" is not part of a Python literal (expected strings, numbers, lists, dicts, sets and Name(key = value))`,
      });
    }
  }
  push('end', at, line, column(at));
  return { tokens, problems };
}
