import { z } from 'zod';
import { scrubValue } from '../scrub.js';

/**
 * Field types for ini files. Each knows what it expects, so every problem reads
 * `"htp:/x" is not a URL (expected http(s)://host:port)`.
 */

/** Thrown by a field parser: what is wrong with the text, without the value or the expectation. */
export class Invalid extends Error {}

export type FieldParser<T> = (text: string) => T;

/** A value as it appears in a message: quoted, with any URL password scrubbed. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(scrubValue(value));
  if (typeof value !== 'object' || value === null) return String(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parseField<T>(
  expected: string,
  parse: FieldParser<T>,
  raw: unknown,
  ctx: z.RefinementCtx,
): T | typeof z.NEVER {
  if (typeof raw === 'object' && raw !== null) {
    ctx.addIssue({ code: 'custom', message: `is a section, not a value (expected ${expected})` });
    return z.NEVER;
  }
  const text = String(raw).trim();
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    ctx.addIssue({ code: 'custom', message: `${show(text)} ${error.message} (expected ${expected})` });
    return z.NEVER;
  }
}

const isAbsent = (raw: unknown): boolean => raw === undefined || raw === '';

export function required<T>(expected: string, parse: FieldParser<T>): z.ZodType<T> {
  return z.unknown().transform((raw, ctx): T => {
    if (isAbsent(raw)) {
      ctx.addIssue({ code: 'custom', message: `is missing (expected ${expected})` });
      return z.NEVER;
    }
    return parseField(expected, parse, raw, ctx);
  });
}

export function withDefault<T>(expected: string, parse: FieldParser<T>, fallback: T): z.ZodType<T> {
  return z.unknown().transform((raw, ctx): T => (isAbsent(raw) ? fallback : parseField(expected, parse, raw, ctx)));
}

export function optional<T>(expected: string, parse: FieldParser<T>): z.ZodType<T | undefined> {
  return z
    .unknown()
    .transform((raw, ctx): T | undefined => (isAbsent(raw) ? undefined : parseField(expected, parse, raw, ctx)));
}

/**
 * Gives every known key a value (undefined when absent) so each field decides about absence itself:
 * zod would otherwise report an absent key before the field could apply its default.
 */
function withEveryKey(keys: readonly string[]) {
  return (raw: unknown): unknown => {
    if (raw === undefined) raw = {};
    if (typeof raw !== 'object' || raw === null) return raw;
    return { ...Object.fromEntries(keys.map((key) => [key, undefined])), ...raw };
  };
}

const sections = new WeakSet<z.ZodType>();

/** A section: unknown keys are reported one by one with the keys it does know. */
export function section<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  const schema = z.preprocess(
    withEveryKey(known),
    z.strictObject(shape, {
      error: (issue) => {
        if (issue.code === 'unrecognized_keys') return `unknown key (expected one of: ${known.join(', ')})`;
        if (issue.code === 'invalid_type')
          return `is a value, not a section (expected a [section] with ${known.join(', ')})`;
        return undefined;
      },
    }),
  );
  sections.add(schema);
  return schema;
}

/** Marks a hand-written section schema, so messages list it as `[name]`. */
export function asSection<T extends z.ZodType>(schema: T): T {
  sections.add(schema);
  return schema;
}

const fileSections = new WeakMap<z.ZodType, ReadonlySet<string>>();

/** The keys of a file schema that are sections, so messages can say `[rat]` even when it is absent. */
export function sectionsOf(schema: z.ZodType): ReadonlySet<string> {
  return fileSections.get(schema) ?? new Set();
}

/** The whole file: its sections and any keys outside a section. */
export function iniFile<S extends z.ZodRawShape>(shape: S) {
  const keys = Object.keys(shape);
  const sectionKeys = new Set(keys.filter((key) => sections.has(shape[key] as z.ZodType)));
  const known = keys.map((key) => (sectionKeys.has(key) ? `[${key}]` : key)).join(', ');
  const schema = z.preprocess(
    withEveryKey(keys),
    z.strictObject(shape, {
      error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown (expected one of: ${known})` : undefined),
    }),
  );
  fileSections.set(schema, sectionKeys);
  return schema;
}

// ---- parsers -------------------------------------------------------------------------------

export const text: FieldParser<string> = (value) => value;

export function oneOf<T extends string>(values: readonly T[]): FieldParser<T> {
  return (value) => {
    if ((values as readonly string[]).includes(value)) return value as T;
    throw new Invalid('is not allowed');
  };
}

export function listOf<T extends string>(values: readonly T[]): FieldParser<T[]> {
  const one = oneOf(values);
  return (value) => {
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    if (items.length === 0) throw new Invalid('is empty');
    for (const item of items) {
      if (!(values as readonly string[]).includes(item)) throw new Invalid(`has ${show(item)}, which is not allowed`);
      one(item);
    }
    return [...new Set(items)] as T[];
  };
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): FieldParser<number> {
  return (value) => {
    if (!/^-?\d+$/.test(value)) throw new Invalid('is not a whole number');
    const number = Number(value);
    if (number < min) throw new Invalid(`is less than ${min}`);
    if (number > max) throw new Invalid(`is more than ${max}`);
    return number;
  };
}

export function positiveNumber(max = Number.MAX_SAFE_INTEGER): FieldParser<number> {
  return (value) => {
    const number = Number(value);
    if (value === '' || !Number.isFinite(number)) throw new Invalid('is not a number');
    if (number <= 0) throw new Invalid('is not more than 0');
    if (number > max) throw new Invalid(`is more than ${max}`);
    return number;
  };
}

export const fraction: FieldParser<number> = (value) => {
  const number = Number(value);
  if (value === '' || !Number.isFinite(number)) throw new Invalid('is not a number');
  if (number < 0 || number > 1) throw new Invalid('is not from 0 to 1');
  return number;
};

export const yesNo: FieldParser<boolean> = (value) => {
  if (/^(yes|true|on|1)$/i.test(value)) return true;
  if (/^(no|false|off|0)$/i.test(value)) return false;
  throw new Invalid('is not yes or no');
};

export function matching(pattern: RegExp): FieldParser<string> {
  return (value) => {
    if (!pattern.test(value)) throw new Invalid('is not allowed');
    return value;
  };
}

/** A regular expression with these named groups, such as `(?<run>\\d+)`. */
export function patternWithGroups(groups: readonly string[]): FieldParser<RegExp> {
  return (value) => {
    let pattern: RegExp;
    try {
      pattern = new RegExp(value);
    } catch {
      throw new Invalid('is not a regular expression');
    }
    const missing = groups.filter((group) => !value.includes(`(?<${group}>`));
    if (missing.length > 0) throw new Invalid(`has no group ${missing.map((group) => `(?<${group}>…)`).join(', ')}`);
    return pattern;
  };
}

export const httpUrl: FieldParser<URL> = (value) => {
  if (!/^[a-z][a-z0-9+.-]*:\/\/./i.test(value)) throw new Invalid('is not a URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Invalid('is not an http(s) URL');
  if (url.hostname === '') throw new Invalid('has no host');
  return url;
};

/** `n/m` with n less than m ("more than n of the last m"), as policies and site health write it; undefined if it is not one. */
export function nOfM(text: string): { failed: number; of: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (match === null) return undefined;
  const [failed, of] = [Number(match[1]), Number(match[2])];
  return of >= 1 && failed < of ? { failed, of } : undefined;
}
