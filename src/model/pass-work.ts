import type { Pass } from './documents.js';

/**
 * Which work a pass does, for "the last pass of a job": a newer pass with the same key redoes an
 * older one and supersedes it; passes with different keys are different work that share a job.
 * A pass over another pass's output (`gasp process --from-production`) is the work of its source,
 * and a pass of raw subfiles that came late (`late_of`) is work of its own: neither hides the others.
 */
export function workOf(pass: Pass): string {
  if (pass.late_of !== undefined) return `late:${pass.pass}`;
  const source = pass.prerequisites?.[0];
  if (pass.request?.startsWith('reprocess:') === true && source !== undefined)
    return `from:${source.module}:${source.run}:${source.pass}`;
  return '';
}

/** The pass numbers that are the newest of their work among these passes. */
export function lastOfEachWork(passes: readonly Pass[]): Set<number> {
  const newest = new Map<string, number>();
  for (const pass of passes) {
    const key = workOf(pass);
    newest.set(key, Math.max(newest.get(key) ?? 0, pass.pass));
  }
  return new Set(newest.values());
}
