import { readFileSync } from 'node:fs';
import ini from 'ini';
import type { z } from 'zod';
import { InputError } from '../errors.js';

export type IniValues = Record<string, unknown>;

/** Reads and parses an ini file; an unreadable file is one input problem naming it. */
export function readIni(file: string): IniValues {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new InputError([`${file}: ${why} (expected an ini file)`]);
  }
  return ini.parse(source) as IniValues;
}

/** Where a problem is: `[section] key`, or `key` for a key outside any section. */
export function place(values: IniValues, path: readonly PropertyKey[]): string {
  const [first, second, ...rest] = path.map(String);
  if (first === undefined) return '';
  const firstIsSection = typeof values[first] === 'object' && values[first] !== null;
  if (second === undefined) return firstIsSection ? `[${first}]` : first;
  return [`[${first}] ${second}`, ...rest].join('.');
}

/**
 * Validates parsed ini values against a schema and reports every problem at once:
 * `file: [section] key: what is wrong (expected …)`.
 */
export function validateIni<S extends z.ZodType>(file: string, values: IniValues, schema: S): z.output<S> {
  const result = schema.safeParse(values);
  if (result.success) return result.data;
  throw new InputError(describeIssues(file, values, result.error.issues));
}

export function describeIssues(file: string, values: IniValues, issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const key of keys) {
      const path = key === undefined ? issue.path : [...issue.path, key];
      const where = place(values, path);
      lines.push(where === '' ? `${file}: ${issue.message}` : `${file}: ${where}: ${issue.message}`);
    }
  }
  return lines;
}
