import { beforeEach } from 'vitest';

/**
 * Skips every test of the enclosing `describe` (or file) unless `condition`, giving `reason`: the
 * run ends with a list of each skipped test and its reason (test/support/skipped-reporter.ts).
 * A test skips itself the same way with `({ skip }) => skip(!condition, reason)`.
 */
export function skipUnless(condition: boolean, reason: string): void {
  beforeEach(({ skip }) => skip(!condition, reason));
}
