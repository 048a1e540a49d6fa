import { UnreachableError } from '../db/errors.js';
import { UnavailableError } from '../errors.js';
import { scrubCredentials } from '../scrub.js';
import { plural } from '../words.js';

/**
 * What one check of `gasp doctor` found: ✓ (ok), ✗ (a problem, with the fix to run), or skipped
 * (it could not be asked: the database it needs does not answer, or there is nothing to ask here).
 */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to run or change; every problem has one. */
  fix?: string;
  /** Not asked: neither ✓ nor a problem of its own. */
  skipped?: true;
  /** A problem the enqueue client waits out (a database that does not answer now) rather than one to refuse on. */
  transient?: true;
}

export const passed = (name: string, detail: string): Check => ({ name, ok: true, detail });

export const failed = (name: string, detail: string, fix: string): Check => ({ name, ok: false, detail, fix });

export const skipped = (name: string, detail: string): Check => ({ name, ok: false, skipped: true, detail });

export const isProblem = (check: Check): boolean => !check.ok && check.skipped !== true;

/** An error's message on one line, credentials scrubbed. */
export const oneLine = (error: unknown): string =>
  scrubCredentials(error instanceof Error ? error.message : String(error))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('; ');

/** Runs checks that may throw: a throw is a ✗ of `name` with its one-line message, never a crash. */
export async function guarded(name: string, fix: string, run: () => Promise<Check[]>): Promise<Check[]> {
  try {
    return await run();
  } catch (error) {
    return [{ ...failed(name, oneLine(error), fix), ...(isOutage(error) && { transient: true as const }) }];
  }
}

/** Something that did not answer (a database, a storage element), which may answer in a minute. */
export const isOutage = (error: unknown): boolean =>
  error instanceof UnavailableError || error instanceof UnreachableError;

/** `✓ name: detail`, or `✗ name: detail` and `  fix: …`, or `- name: detail` for one not asked. */
export function describeCheck(check: Check): string[] {
  if (check.ok) return [`✓ ${check.name}: ${check.detail}`];
  if (check.skipped === true) return [`- ${check.name}: ${check.detail}`];
  return [`✗ ${check.name}: ${check.detail}`, ...(check.fix === undefined ? [] : [`  fix: ${check.fix}`])];
}

/** The last line: `doctor: N checks, M problems`. */
export function describeTotals(checks: readonly Check[]): string {
  const problems = checks.filter(isProblem).length;
  return `doctor: ${plural(checks.length, 'check')}, ${plural(problems, 'problem')}`;
}
