import ini from 'ini';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { readUserFile } from '../files.js';
import { sectionsOf } from './fields.js';

export type IniValues = Record<string, unknown>;

/** Reads and parses an ini file; an unreadable file is one input problem naming it. */
export function readIni(file: string): IniValues {
  return ini.parse(readUserFile(file, 'an ini file')) as IniValues;
}

const isSection = (value: unknown): value is IniValues => typeof value === 'object' && value !== null;

/**
 * Where a problem is: `[section] key`, `key` for a key outside any section, and
 * `[section.sub] key` for a key of a nested section such as [production.modes].
 */
export function place(
  values: IniValues,
  path: readonly PropertyKey[],
  sectionNames: ReadonlySet<string> = new Set(),
): string {
  const names = path.map(String);
  let value: unknown = values;
  let depth = 0;
  while (depth < names.length - 1 && isSection(value) && isSection(value[names[depth] ?? ''])) {
    value = value[names[depth] ?? ''];
    depth += 1;
  }
  // a key below a section the file does not have yet
  if (depth === 0 && names.length >= 2) depth = 1;
  const section = names.slice(0, depth).join('.');
  const key = names.slice(depth).join('.');
  if (section === '') return isSection(values[key]) || sectionNames.has(key) ? `[${key}]` : key;
  return key === '' ? `[${section}]` : `[${section}] ${key}`;
}

/**
 * Validates parsed ini values against a schema and reports every problem at once:
 * `file: [section] key: what is wrong (expected …)`.
 */
export function validateIni<S extends z.ZodType>(file: string, values: IniValues, schema: S): z.output<S> {
  const result = schema.safeParse(values);
  if (result.success) return result.data;
  throw new InputError(describeIssues(file, values, result.error.issues, sectionsOf(schema)));
}

export function describeIssues(
  file: string,
  values: IniValues,
  issues: readonly z.core.$ZodIssue[],
  sectionNames: ReadonlySet<string> = new Set(),
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const key of keys) {
      const path = key === undefined ? issue.path : [...issue.path, key];
      const where = place(values, path, sectionNames);
      lines.push(where === '' ? `${file}: ${issue.message}` : `${file}: ${where}: ${issue.message}`);
    }
  }
  return lines;
}
