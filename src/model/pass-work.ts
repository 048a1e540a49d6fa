import type { Pass } from './documents.js';

/**
 * Which work a pass does, for "the last pass of a job": a newer pass with the same key redoes an
 * older one and supersedes it; passes with different keys are different work that share a job.
 * A pass over another job's output (`gasp process --from-production`) is the work of its source
 * job, so reprocessing two source modules on one run gives two passes that both count.
 */
export function workOf(pass: Pass): string {
  const source = pass.prerequisites?.[0];
  if (pass.request?.startsWith('reprocess:') === true && source !== undefined)
    return `from:${source.module}:${source.run}`;
  return '';
}

/**
 * The pass numbers that are the newest of their work among these passes; a pass of late subfiles
 * counts while the pass it adds to does (a newer pass of the whole run hides both).
 */
export function lastOfEachWork(passes: readonly Pass[]): Set<number> {
  const newest = new Map<string, number>();
  for (const pass of passes) {
    if (pass.late_of !== undefined) continue;
    const key = workOf(pass);
    newest.set(key, Math.max(newest.get(key) ?? 0, pass.pass));
  }
  const last = new Set(newest.values());
  for (const pass of passes) if (pass.late_of !== undefined && last.has(pass.late_of)) last.add(pass.pass);
  return last;
}
