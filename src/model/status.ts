/**
 * The life of a pass. A retry returns a pass to `waiting` and keeps its history in `attempts`.
 * partFail: some subjobs failed; unsatisfied: a prerequisite failed.
 */
export const PASS_STATUSES = [
  'waiting',
  'submitted',
  'running',
  'completed',
  'failed',
  'partFail',
  'unsatisfied',
  'canceled',
  'deleted',
] as const;
export type PassStatus = (typeof PASS_STATUSES)[number];

/** Statuses in which a site holds the pass and a backend may be running it. */
export const ACTIVE_STATUSES: readonly PassStatus[] = ['submitted', 'running'];

/** Statuses a pass does not leave without a person (retry, cancel, delete). */
export const FINAL_STATUSES: readonly PassStatus[] = [
  'completed',
  'failed',
  'partFail',
  'unsatisfied',
  'canceled',
  'deleted',
];
