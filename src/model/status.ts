/**
 * The life of a pass. A retry returns a pass to `waiting` and keeps its history in `attempts`.
 * partFail: some subjobs failed; unsatisfied: a prerequisite failed. `new` is GASP's, never
 * gasp's: its client made a Ganga job for the pass and had not submitted it yet (see OLD_CLIENT_STATUSES).
 */
export const PASS_STATUSES = [
  'waiting',
  'new',
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

/**
 * Statuses only GASP's old client writes, with what each means: a database switching over still
 * holds them. gasp never claims such a pass; a shifter returns it to waiting once the old clients
 * are stopped (`gasp retry --status new`), or cancels it.
 */
export const OLD_CLIENT_STATUSES: Readonly<Partial<Record<PassStatus, string>>> = {
  new: "GASP's old client made a Ganga job for it and had not submitted it when it last wrote",
};

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
