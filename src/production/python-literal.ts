import { isCloser, isOp, shown, startsValue, tokenize, type Problem, type Token } from './python-tokens.js';

/**
 * A safe reader of the Python that SNO+ writes its information files in: `NAME = literal`
 * statements, imports (skipped) and comments. Literals are strings, numbers, True/False/None, lists,
 * tuples, dicts, sets (`{a, b}` and `set([...])`) and calls `Name(key = value, …)`, kept as data:
 * nothing is evaluated. It reads on past a problem where it can (a missing comma, a bracket never
 * closed), so one run names every problem with its line.
 */

export type { Problem };

interface At {
  line: number;
  column: number;
}

export type PyNode = At &
  (
    | { kind: 'string'; value: string }
    | { kind: 'number'; value: number }
    | { kind: 'constant'; value: boolean | null }
    | { kind: 'list' | 'tuple' | 'set'; items: PyNode[] }
    | { kind: 'dict'; entries: Array<{ key: PyNode; value: PyNode }> }
    | { kind: 'call'; name: string; args: Array<At & { name: string; value: PyNode }> }
    | { kind: 'invalid' }
  );

export interface Assignment extends At {
  name: string;
  value: PyNode;
}

const CLOSERS: Readonly<Record<string, string>> = { '(': ')', '[': ']', '{': '}' };
const CONSTANTS: Readonly<Record<string, boolean | null>> = { True: true, False: false, None: null };

class Parser {
  private index = 0;
  /** The brackets open now: inside them a line break is no token, as in Python. */
  private readonly open: Array<{ token: Token; call: boolean }> = [];
  private previous: Token | undefined;
  readonly assignments: Assignment[] = [];

  constructor(
    private readonly tokens: readonly Token[],
    readonly problems: Problem[],
  ) {}

  private at(index: number): Token {
    return this.tokens[Math.min(index, this.tokens.length - 1)] as Token;
  }

  /** The index of the token `offset` tokens ahead, skipping line breaks inside brackets. */
  private ahead(offset: number): number {
    let index = this.index;
    for (let seen = 0; ; index++) {
      if (this.at(index).kind === 'newline' && this.open.length > 0) continue;
      if (seen === offset || this.at(index).kind === 'end') return index;
      seen += 1;
    }
  }

  peek(offset = 0): Token {
    return this.at(this.ahead(offset));
  }

  next(): Token {
    const index = this.ahead(0);
    this.index = index + 1;
    this.previous = this.at(index);
    return this.previous;
  }

  problem(at: At, message: string): void {
    this.problems.push({ line: at.line, column: at.column, message });
  }

  /** A line that starts a new statement (`NAME =` or an import at column 1): a bracket left open before it was never closed. */
  private restartsAt(token: Token, offset: number): boolean {
    if (token.column !== 1 || token.kind !== 'name' || this.open.some((bracket) => bracket.call)) return false;
    return token.text === 'from' || token.text === 'import' || isOp(this.peek(offset + 1), '=');
  }

  statements(): void {
    for (let token = this.peek(); token.kind !== 'end'; token = this.peek()) {
      if (token.kind === 'newline' || isOp(token, ';')) this.next();
      else if (token.kind === 'name' && (token.text === 'from' || token.text === 'import')) this.skipStatement();
      else if (token.kind === 'name' && isOp(this.peek(1), '=')) {
        this.next();
        this.next();
        this.assignments.push({ name: token.text, value: this.value(), line: token.line, column: token.column });
        const after = this.peek();
        if (after.kind !== 'newline' && after.kind !== 'end' && !isOp(after, ';')) {
          this.problem(after, `"${shown(after)}" after the value (expected the end of the statement)`);
          this.skipStatement();
        }
      } else {
        this.problem(token, `"${shown(token)}" (expected NAME = value, an import or a comment)`);
        this.skipStatement();
      }
    }
  }

  /** Past the rest of a statement: to the end of its line, brackets included, or the next line that starts one. */
  private skipStatement(): void {
    let depth = 0;
    for (let token = this.at(this.index); token.kind !== 'end'; token = this.at(this.index)) {
      this.index += 1;
      if (token.kind === 'op' && CLOSERS[token.text] !== undefined) depth += 1;
      else if (isCloser(token)) depth = Math.max(0, depth - 1);
      else if (token.kind === 'newline') {
        const following = this.at(this.index);
        if (depth === 0) return;
        if (following.column === 1 && following.kind === 'name') {
          const then = this.at(this.index + 1);
          if (following.text === 'from' || following.text === 'import' || isOp(then, '=')) return;
        }
      }
    }
  }

  value(): PyNode {
    const token = this.peek();
    const at = { line: token.line, column: token.column };
    if (token.kind === 'string') {
      let value = '';
      while (this.peek().kind === 'string') value += String(this.next().value ?? '');
      return { kind: 'string', value, ...at };
    }
    if (token.kind === 'number') return { kind: 'number', value: Number(this.next().value), ...at };
    if (token.kind === 'name') {
      if (Object.hasOwn(CONSTANTS, token.text)) {
        this.next();
        return { kind: 'constant', value: CONSTANTS[token.text] ?? null, ...at };
      }
      if (isOp(this.peek(1), '(')) return this.call();
      this.next();
      this.problem(token, `${token.text} is a name, not a value (expected a literal: gasp runs no Python)`);
      return { kind: 'invalid', ...at };
    }
    if (isOp(token, '-') || isOp(token, '+')) {
      this.next();
      const number = this.peek();
      if (number.kind === 'number') {
        this.next();
        return { kind: 'number', value: (token.text === '-' ? -1 : 1) * Number(number.value), ...at };
      }
      this.problem(number, `"${shown(number)}" after ${token.text} (expected a number)`);
      return { kind: 'invalid', ...at };
    }
    if (isOp(token, '[')) {
      const items: PyNode[] = [];
      this.items(this.next(), false, () => items.push(this.value()));
      return { kind: 'list', items, ...at };
    }
    if (isOp(token, '(')) return this.parenthesised();
    if (isOp(token, '{')) return this.braces();
    // a separator or closer is left for the bracket around it, which reads on from there
    if (token.kind === 'op' && !isCloser(token) && !isOp(token, ',')) this.next();
    this.problem(
      token,
      `"${shown(token)}" where a value belongs (expected a string, number, list, dict, set, True, False, None or Name(key = value))`,
    );
    return { kind: 'invalid', ...at };
  }

  /**
   * The items of a bracket up to its closer, `item` reading each; returns the commas read. A missing
   * comma or closer is named and read past, as if it were there.
   */
  private items(opener: Token, call: boolean, item: () => void): number {
    const close = CLOSERS[opener.text] ?? '';
    const unclosed = () => this.problem(opener, `this ${opener.text} is never closed (expected ${close})`);
    let commas = 0;
    this.open.push({ token: opener, call });
    try {
      for (;;) {
        const token = this.peek();
        if (isOp(token, close)) {
          this.next();
          return commas;
        }
        const outer = this.open.slice(0, -1).some((bracket) => CLOSERS[bracket.token.text] === token.text);
        if (token.kind === 'end' || this.restartsAt(token, 0) || (isCloser(token) && outer)) {
          unclosed();
          return commas;
        }
        if (isCloser(token)) {
          this.next();
          this.problem(
            token,
            `${token.text} does not close the ${opener.text} of line ${opener.line} (expected ${close})`,
          );
          return commas;
        }
        item();
        const after = this.peek();
        if (isOp(after, ',')) {
          this.next();
          commas += 1;
        } else if (isOp(after, close) || isCloser(after) || after.kind === 'end' || this.restartsAt(after, 0)) {
          continue;
        } else if (startsValue(after)) {
          const before = this.previous ?? after;
          this.problem(
            { line: before.line, column: before.endColumn },
            `a comma is missing (expected , between items)`,
          );
        } else {
          this.next();
          this.problem(after, `"${shown(after)}" (expected , or ${close})`);
        }
      }
    } finally {
      this.open.pop();
    }
  }

  private parenthesised(): PyNode {
    const opener = this.next();
    const items: PyNode[] = [];
    const commas = this.items(opener, false, () => items.push(this.value()));
    const [only] = items;
    if (only !== undefined && items.length === 1 && commas === 0) return only;
    return { kind: 'tuple', items, line: opener.line, column: opener.column };
  }

  /** `{}` and `{k: v, …}` are dicts, `{a, b}` a set: the first item decides. */
  private braces(): PyNode {
    const opener = this.next();
    const at = { line: opener.line, column: opener.column };
    const items: PyNode[] = [];
    const entries: Array<{ key: PyNode; value: PyNode }> = [];
    let kind: 'dict' | 'set' | undefined;
    this.items(opener, false, () => {
      const key = this.value();
      // a value straight after the first key: a dict missing its colon, the likelier slip
      kind ??= isOp(this.peek(), ':') || startsValue(this.peek()) ? 'dict' : 'set';
      if (kind === 'set') {
        items.push(key);
        return;
      }
      if (isOp(this.peek(), ':')) this.next();
      else {
        const before = this.previous ?? opener;
        this.problem({ line: before.line, column: before.endColumn }, 'a colon is missing (expected key: value)');
        if (!startsValue(this.peek())) return void entries.push({ key, value: { kind: 'invalid', ...at } });
      }
      entries.push({ key, value: this.value() });
    });
    if (kind === 'set') return { kind: 'set', items, ...at };
    this.checkKeys(entries);
    return { kind: 'dict', entries, ...at };
  }

  private checkKeys(entries: ReadonlyArray<{ key: PyNode }>): void {
    const seen = new Set<string>();
    for (const { key } of entries) {
      if (key.kind === 'list' || key.kind === 'dict' || key.kind === 'set') {
        this.problem(key, `a ${key.kind} cannot be a dict key (expected a string)`);
        continue;
      }
      if (key.kind !== 'string' && key.kind !== 'number' && key.kind !== 'constant') continue;
      const name = `${key.kind}:${String(key.value)}`;
      if (seen.has(name))
        this.problem(key, `${JSON.stringify(key.value)} appears twice in one dict (expected each key once)`);
      seen.add(name);
    }
  }

  /** `Name(key = value, …)`; `set([...])` and `set()` are sets. */
  private call(): PyNode {
    const name = this.next();
    const opener = this.next();
    const at = { line: name.line, column: name.column };
    const args: Array<At & { name: string; value: PyNode }> = [];
    const positional: PyNode[] = [];
    this.items(opener, true, () => {
      const token = this.peek();
      if (token.kind === 'name' && isOp(this.peek(1), '=')) {
        this.next();
        this.next();
        if (args.some((arg) => arg.name === token.text))
          this.problem(token, `${token.text} is given twice (expected each argument once)`);
        args.push({ name: token.text, value: this.value(), line: token.line, column: token.column });
      } else positional.push(this.value());
    });
    if (name.text === 'set') {
      const [only] = positional;
      if (args.length === 0 && positional.length === 0) return { kind: 'set', items: [], ...at };
      if (args.length === 0 && positional.length === 1 && only !== undefined && 'items' in only)
        return { kind: 'set', items: only.items, ...at };
      this.problem(name, 'set(…) of something other than one list (expected set([a, b, …]))');
      return { kind: 'invalid', ...at };
    }
    for (const value of positional)
      this.problem(value, `an argument without a name in ${name.text}(…) (expected key = value)`);
    return { kind: 'call', name: name.text, args, ...at };
  }
}

/** Reads the statements of a Python file of literals; every problem found, by line and column. */
export function parsePythonLiterals(text: string): { assignments: Assignment[]; problems: Problem[] } {
  const { tokens, problems } = tokenize(text);
  const parser = new Parser(tokens, problems);
  parser.statements();
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { assignments: parser.assignments, problems };
}
