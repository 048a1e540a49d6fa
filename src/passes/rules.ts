import type { Attempt, Pass, Subjob } from '../model/documents.js';
import { ACTIVE_STATUSES, PASS_STATUSES, type PassStatus } from '../model/status.js';

/** What must happen outside the document for a change to be complete. */
export interface Effects {
  /** Backend ids of jobs to stop before the pass is written. */
  cancel?: string[];
  /** Also stop jobs of this claim that reached the backend without their id recorded (found by name). */
  unrecorded?: boolean;
  /** Subjobs whose manifests are recorded as data documents before the pass is written completed. */
  outputs?: number[];
  /** The job logs go with the pass as attachments. */
  logs?: boolean;
}

/** What happened, for the cycle's counts and log lines. */
export type Event =
  | 'claimed'
  | 'submitted'
  | 'failed'
  | 'partFail'
  | 'completed'
  | 'running'
  | 'lost'
  | 'resubmitted'
  | 'canceled'
  | 'cancelAsked'
  | 'released'
  | 'renewed'
  | 'waiting'
  | 'deleted'
  | 'unsatisfied';

export type Outcome =
  { changed: true; pass: Pass; event: Event; effects: Effects; reason?: string } | { changed: false; reason: string };

export const unchanged = (reason: string): Outcome => ({ changed: false, reason });
export const changed = (pass: Pass, event: Event, effects: Effects = {}, reason?: string): Outcome => ({
  changed: true,
  pass,
  event,
  effects,
  ...(reason !== undefined && { reason }),
});

export const HELD: readonly PassStatus[] = ACTIVE_STATUSES;

export type Moves = Partial<Record<PassStatus, readonly PassStatus[]>>;

/** A held pass let go: back to waiting, or canceled when a shifter had asked (see `release`). */
const LET_GO = ['waiting', 'canceled'] as const;
const ENDS = ['completed', 'failed', 'partFail'] as const;

/**
 * The status table: for each transition, the statuses it may start from and, for each, the
 * statuses it may lead to. A status not listed is refused with the reason. `copy` makes a new pass
 * (waiting) and leaves its source as it is.
 */
export const TRANSITIONS = {
  claim: { waiting: ['submitted'] },
  recordSubmission: { submitted: ['submitted'] },
  failSubmission: { submitted: ['failed'] },
  renewLease: { submitted: ['submitted'], running: ['running'] },
  observe: { submitted: ['submitted', 'running', ...ENDS, ...LET_GO], running: ['running', ...ENDS, ...LET_GO] },
  finishCancel: { submitted: ['canceled'], running: ['canceled'] },
  lose: { submitted: LET_GO, running: LET_GO },
  returnExpired: { submitted: LET_GO, running: LET_GO },
  releaseUnsubmitted: { submitted: LET_GO },
  unlock: { submitted: LET_GO, running: LET_GO },
  // `new` is an old GASP client's: it comes back to waiting only by a shifter, once that client is stopped
  retry: Object.fromEntries(
    (['new', 'completed', 'failed', 'partFail', 'unsatisfied', 'canceled', 'deleted'] as const).map((status) => [
      status,
      ['waiting'],
    ]),
  ),
  cancel: {
    waiting: ['canceled'],
    new: ['canceled'],
    unsatisfied: ['canceled'],
    submitted: ['submitted'],
    running: ['running'],
  },
  delete: Object.fromEntries(
    (['waiting', 'new', 'completed', 'failed', 'partFail', 'unsatisfied', 'canceled'] as const).map((status) => [
      status,
      ['deleted'],
    ]),
  ),
  unsatisfy: { waiting: ['unsatisfied'] },
  copy: Object.fromEntries(PASS_STATUSES.map((status) => [status, [status]])),
} as const satisfies Record<string, Moves>;

export type TransitionName = keyof typeof TRANSITIONS;

/** Why a transition does not apply to a pass in this status, or undefined when it may. */
export function refusal(name: TransitionName, pass: Pass): string | undefined {
  const moves: Moves = TRANSITIONS[name];
  if (moves[pass.status] !== undefined) return undefined;
  const from = Object.keys(moves);
  // a shifter's tool on a held pass: only the site that holds it changes it, once asked to cancel
  if (HELD.includes(pass.status) && (name === 'retry' || name === 'delete'))
    return `it is ${pass.status} at site ${pass.site ?? '?'} (cancel it first)`;
  return `it is ${pass.status} (${name} applies to ${from.join(', ')} passes)`;
}

/**
 * A pass GASP's client submitted: held, with no gasp claim (gasp writes one before any backend call).
 * Only that client follows its jobs; gasp never submits, releases or finishes it.
 */
export const heldByOldClient = (pass: Pass): boolean => HELD.includes(pass.status) && pass.claim === undefined;

export const OLD_CLIENT_HOLDS = "GASP's client holds it (no gasp claim)";

/** A held pass still under this claim: the token the caller saw is the stored one. */
export function claimRefusal(name: TransitionName, pass: Pass, token: string | undefined): string | undefined {
  return (
    refusal(name, pass) ??
    (heldByOldClient(pass) ? OLD_CLIENT_HOLDS : undefined) ??
    (pass.claim?.token !== token ? 'its claim changed meanwhile' : undefined)
  );
}

/** A subjob as it was before any attempt: its index and what it reads or makes, nothing of a run. */
export function freshSubjob({ index, events, file, checksum }: Subjob): Subjob {
  return {
    index,
    ...(events !== undefined && { events }),
    ...(file !== undefined && { file }),
    ...(checksum !== undefined && { checksum }),
  };
}

/** The subjobs of a pass: those it lists, or one for the whole job. */
export const subjobsOf = (pass: Pass): Subjob[] => pass.subjobs ?? [{ index: 0 }];

/** Subjob states that are final: the backend is not asked about them again. */
export const ENDED: ReadonlyArray<Subjob['state']> = ['completed', 'failed'];

/** Backend ids of a pass's jobs that may still run (submitted, not recorded as ended). */
export const activeJobs = (subjobs: readonly Subjob[]): string[] =>
  subjobs.flatMap((subjob) =>
    subjob.backend_id === undefined || ENDED.includes(subjob.state) ? [] : [subjob.backend_id],
  );

/** The attempt under `token` closed: how it ended, when and why. */
export function closeAttempt(
  attempts: readonly Attempt[],
  token: string | undefined,
  end: Pick<Attempt, 'status' | 'reason' | 'exit_code'> & { finished: string },
): Attempt[] {
  return attempts.map((attempt) =>
    attempt.token === token && token !== undefined
      ? {
          ...attempt,
          status: end.status,
          finished: end.finished,
          ...(end.reason !== undefined && { reason: end.reason }),
          ...(end.exit_code !== undefined && { exit_code: end.exit_code }),
        }
      : attempt,
  );
}

/** The pass without its site's hold: no site, no claim, no pending cancel request. */
export function unheld(pass: Pass): Pass {
  const { site: _site, claim: _claim, cancel_requested: _asked, ...rest } = pass;
  return rest;
}

/**
 * The one way a held pass goes back to waiting, for any site, as a new attempt: the attempt that
 * held it closed (lost, or failed when its policy resubmits it) with why; its history stays. A
 * pass a shifter asked to cancel is canceled instead of waiting to be claimed again.
 */
export function release(
  pass: Pass,
  end: { reason: string; status?: Attempt['status']; exit_code?: number },
  now: Date,
  event: Event,
  effects: Effects = {},
): Outcome {
  const attempts = closeAttempt(pass.attempts, pass.claim?.token, {
    status: end.status ?? 'lost',
    finished: now.toISOString(),
    reason: end.reason,
    ...(end.exit_code !== undefined && { exit_code: end.exit_code }),
  });
  const asked = pass.cancel_requested !== undefined;
  return changed(
    {
      ...unheld(pass),
      status: asked ? 'canceled' : 'waiting',
      ...(pass.subjobs !== undefined && { subjobs: pass.subjobs.map(freshSubjob) }),
      attempts,
    },
    asked ? 'canceled' : event,
    effects,
    end.reason,
  );
}
