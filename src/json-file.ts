import { parse, printParseErrorCode, visit, type ParseError } from 'jsonc-parser';
import type { z } from 'zod';
import { show } from './config/fields.js';
import { InputError } from './errors.js';
import { readUserFile } from './files.js';

/** Syntax errors as someone editing JSON by hand would say them. */
const SYNTAX: Readonly<Record<string, string>> = {
  InvalidSymbol: 'a character JSON does not allow',
  InvalidNumberFormat: 'a number JSON does not allow',
  PropertyNameExpected: 'a "name" was expected (a trailing comma?)',
  ValueExpected: 'a value was expected (a trailing comma?)',
  ColonExpected: 'a colon is missing',
  CommaExpected: 'a comma is missing',
  CloseBraceExpected: 'a } is missing',
  CloseBracketExpected: 'a ] is missing',
  EndOfFileExpected: 'text after the end of the JSON',
  InvalidCommentToken: 'a comment (JSON has none)',
  UnexpectedEndOfComment: 'an unfinished comment',
  UnexpectedEndOfString: 'a string with no closing quote',
  UnexpectedEndOfNumber: 'an unfinished number',
  InvalidUnicode: 'a bad \\u escape',
  InvalidEscapeCharacter: 'a bad \\ escape',
  InvalidCharacter: 'a character strings may not hold',
};

/** `line:column` of a character offset, both from 1. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

/**
 * Reads a JSON file a person wrote. A syntax error (a missing or trailing comma) is one line with
 * the line and column: `jobs.json:12:5: Expected ',' or '}' after property value`.
 */
export function readJsonFile(file: string, expected: string): unknown {
  // `-` is standard input, so another program can pipe documents in
  const text = readUserFile(file, expected);
  if (text.trim() === '') throw new InputError([`${file}: is empty (expected ${expected})`]);
  // jsonc-parser gives the place of every syntax error (JSON.parse does not always)
  const errors: ParseError[] = [];
  const parsed = parse(text, errors, {
    allowTrailingComma: false,
    disallowComments: true,
    allowEmptyContent: false,
  }) as unknown;
  const first = errors[0];
  if (first !== undefined) {
    const why = SYNTAX[printParseErrorCode(first.error)] ?? printParseErrorCode(first.error);
    throw new InputError([`${file}:${lineAndColumn(text, first.offset)}: ${why} (expected ${expected})`]);
  }
  const duplicates = duplicateKeys(text).map(
    ({ key, line, column }) =>
      `${file}:${line}:${column}: "${key}" appears twice in one object (expected each key once)`,
  );
  if (duplicates.length > 0) throw new InputError(duplicates);
  return parsed;
}

/** Keys given twice in one object: JSON.parse would keep the last and lose the first without a word. */
function duplicateKeys(text: string): Array<{ key: string; line: number; column: number }> {
  const found: Array<{ key: string; line: number; column: number }> = [];
  const open: Array<Set<string>> = [];
  visit(text, {
    onObjectBegin: () => {
      open.push(new Set());
    },
    onObjectEnd: () => {
      open.pop();
    },
    onObjectProperty: (key, _offset, _length, line, character) => {
      const keys = open.at(-1);
      if (keys?.has(key)) found.push({ key, line: line + 1, column: character + 1 });
      keys?.add(key);
    },
  });
  return found;
}

/** A zod error message that says what was expected, whether the value was missing or wrong. */
export const expecting =
  (what: string) =>
  (issue: { input: unknown }): string =>
    issue.input === undefined
      ? `is missing (expected ${what})`
      : `${show(issue.input)} is not allowed (expected ${what})`;

/** `modules[3].template.radius`: a JSON path as people read it. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) =>
      typeof part === 'number' ? `${text}[${part}]` : text === '' ? String(part) : `${text}.${String(part)}`,
    '',
  );
}

/** One line per zod issue: `file: path: message`, unknown keys one by one. */
export function describeJsonIssues(
  file: string,
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): string[] {
  return issues.flatMap((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys.map((key) => {
      const path = jsonPath([...prefix, ...issue.path, ...(key === undefined ? [] : [key])]);
      return `${file}: ${path === '' ? '' : `${path}: `}${issue.message}`;
    });
  });
}
