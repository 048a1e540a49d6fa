import type { Pass } from '../model/documents.js';
import { withAttempt } from '../model/documents.js';
import { leaseEnd, leaseExpired } from '../model/lease.js';
import {
  activeJobs,
  changed,
  claimRefusal,
  closeAttempt,
  freshSubjob,
  HELD,
  heldByOldClient,
  OLD_CLIENT_HOLDS,
  refusal,
  release,
  subjobsOf,
  unchanged,
  unheld,
  type Outcome,
} from './rules.js';

/**
 * Every change of a pass, one pure function each, from (pass, facts, now) to the new pass and what
 * must happen outside (jobs to stop, outputs to record), or to "unchanged" with the reason. The
 * store applies a transition to the stored pass, so a conflict round re-applies the same rule to
 * what another writer left. Which statuses each may start from and lead to is data (`TRANSITIONS`),
 * tested as a table and drawn as the README's status diagram.
 */

export {
  activeJobs,
  heldByOldClient,
  ENDED,
  freshSubjob,
  refusal,
  subjobsOf,
  TRANSITIONS,
  unchanged,
  type Effects,
  type Event,
  type Outcome,
  type TransitionName,
} from './rules.js';

// ---- claiming and submitting -------------------------------------------------------------------

export function claim(pass: Pass, facts: { site: string; token: string; leaseSeconds: number }, now: Date): Outcome {
  const refused = refusal('claim', pass) ?? (pass.site === undefined ? undefined : `site ${pass.site} holds it`);
  if (refused !== undefined) return unchanged(refused);
  const at = now.toISOString();
  return changed(
    {
      ...pass,
      status: 'submitted',
      site: facts.site,
      claim: { token: facts.token, at, lease_until: leaseEnd(now, facts.leaseSeconds) },
      ...withAttempt(pass, { site: facts.site, status: 'submitted', started: at, token: facts.token }),
      ...(pass.subjobs !== undefined && { subjobs: pass.subjobs.map(freshSubjob) }),
    },
    'claimed',
  );
}

/** Backend ids given to a claimed pass's jobs, by subjob index. */
export function recordSubmission(
  pass: Pass,
  facts: { token: string | undefined; backendIds: ReadonlyMap<number, string> },
  now: Date,
): Outcome {
  const refused = claimRefusal('recordSubmission', pass, facts.token);
  if (refused !== undefined) return unchanged(refused);
  const subjobs = subjobsOf(pass).map((subjob) => {
    const id = facts.backendIds.get(subjob.index);
    return id === undefined
      ? subjob
      : { ...subjob, backend_id: id, state: 'submitted' as const, started: now.toISOString() };
  });
  return changed({ ...pass, subjobs }, 'submitted');
}

/** The site cannot run the pass (no information for its module, a job the backend refused): failed, with why. */
export function failSubmission(
  pass: Pass,
  facts: { token: string | undefined; reason: string; backendIds: ReadonlyMap<number, string> },
  now: Date,
): Outcome {
  const refused = claimRefusal('failSubmission', pass, facts.token);
  if (refused !== undefined) return unchanged(refused);
  const at = now.toISOString();
  // the jobs it did submit are recorded as failed (they are stopped), so the pass says what ran
  const subjobs = subjobsOf(pass).map((subjob) => {
    const id = facts.backendIds.get(subjob.index);
    return id === undefined
      ? subjob
      : { ...subjob, backend_id: id, state: 'failed' as const, started: at, finished: at };
  });
  return changed(
    {
      ...pass,
      status: 'failed',
      ...(facts.backendIds.size > 0 && { subjobs }),
      attempts: closeAttempt(pass.attempts, facts.token, { status: 'failed', finished: at, reason: facts.reason }),
    },
    'failed',
    { cancel: [...facts.backendIds.values()], unrecorded: true },
    facts.reason,
  );
}

export function renewLease(pass: Pass, facts: { token: string | undefined; leaseSeconds: number }, now: Date): Outcome {
  const refused = claimRefusal('renewLease', pass, facts.token);
  if (refused !== undefined || pass.claim === undefined) return unchanged(refused ?? 'it has no claim');
  return changed({ ...pass, claim: { ...pass.claim, lease_until: leaseEnd(now, facts.leaseSeconds) } }, 'renewed');
}

// ---- a held pass let go -------------------------------------------------------------------------

/** A job of the pass is lost (the backend forgot it, no manifest): its siblings are stopped and the whole pass runs again. */
export function lose(
  pass: Pass,
  facts: { token: string | undefined; reason: string; cancel?: string[] },
  now: Date,
): Outcome {
  const refused = claimRefusal('lose', pass, facts.token);
  if (refused !== undefined) return unchanged(refused);
  return release(pass, { reason: facts.reason }, now, 'lost', {
    cancel: facts.cancel ?? activeJobs(subjobsOf(pass)),
    unrecorded: true,
  });
}

/** Another site's lease ran out and no client of that site is alive: the pass is taken back. */
export function returnExpired(pass: Pass, facts: { aliveSites: ReadonlySet<string> }, now: Date): Outcome {
  const refused = refusal('returnExpired', pass);
  if (refused !== undefined) return unchanged(refused);
  if (pass.claim === undefined) return unchanged('it has no claim');
  if (!leaseExpired(pass.claim.lease_until, now)) return unchanged(`its lease runs until ${pass.claim.lease_until}`);
  if (pass.site !== undefined && facts.aliveSites.has(pass.site))
    return unchanged(`site ${pass.site} is alive: only it can ask its backend what it ran`);
  return release(
    pass,
    { reason: `lease of site ${pass.site ?? '?'} expired and no client of it is alive` },
    now,
    'lost',
  );
}

/** Claimed, but none of its jobs reached the backend (the client stopped first): free for any site. */
export function releaseUnsubmitted(
  pass: Pass,
  facts: { token: string | undefined; reason: string },
  now: Date,
): Outcome {
  const refused = claimRefusal('releaseUnsubmitted', pass, facts.token);
  if (refused !== undefined) return unchanged(refused);
  if (subjobsOf(pass).some((subjob) => subjob.backend_id !== undefined)) return unchanged('a job of it was submitted');
  return release(pass, { reason: facts.reason }, now, 'released');
}

/** A shifter releases a dead site's pass (`gasp unlock`). */
export function unlock(pass: Pass, facts: { site: string; reason: string }, now: Date): Outcome {
  const refused =
    refusal('unlock', pass) ??
    (heldByOldClient(pass) ? OLD_CLIENT_HOLDS : undefined) ??
    (pass.site === facts.site ? undefined : `site ${facts.site} does not hold it`);
  if (refused !== undefined) return unchanged(refused);
  return release(pass, { reason: facts.reason }, now, 'released');
}

/** A held pass a shifter asked to cancel: its jobs stopped, the pass and its attempt canceled. */
export function finishCancel(pass: Pass, facts: { token: string | undefined }, now: Date): Outcome {
  const refused =
    claimRefusal('finishCancel', pass, facts.token) ??
    (pass.cancel_requested === undefined ? 'no cancel was asked' : undefined);
  if (refused !== undefined) return unchanged(refused);
  const attempts = closeAttempt(pass.attempts, facts.token, {
    status: 'canceled',
    finished: now.toISOString(),
    reason: 'canceled by a shifter',
  });
  return changed({ ...unheld(pass), status: 'canceled', attempts }, 'canceled', {
    cancel: activeJobs(subjobsOf(pass)),
    unrecorded: true,
  });
}

export { exitCodeOf, observe, resubmission, type ObserveFacts, type SubjobFact } from './observe.js';

// ---- a shifter's tools --------------------------------------------------------------------------

/** Back to waiting as a new attempt; its history stays. */
export function retry(pass: Pass): Outcome {
  const refused = pass.status === 'waiting' ? 'it is waiting already' : refusal('retry', pass);
  if (refused !== undefined) return unchanged(refused);
  return changed(
    {
      ...unheld(pass),
      status: 'waiting',
      ...(pass.subjobs !== undefined && { subjobs: pass.subjobs.map(freshSubjob) }),
    },
    'waiting',
  );
}

/** Waiting passes are canceled at once; a held one is asked of the site that holds it. */
export function cancel(pass: Pass, now: Date): Outcome {
  const refused = refusal('cancel', pass);
  if (refused !== undefined) return unchanged(refused);
  if (!HELD.includes(pass.status)) return changed({ ...pass, status: 'canceled' }, 'canceled');
  if (pass.cancel_requested !== undefined) return unchanged(`a cancel was asked at ${pass.cancel_requested}`);
  return changed({ ...pass, cancel_requested: now.toISOString() }, 'cancelAsked');
}

/** Marked deleted (its data documents are removed by the caller); a held pass is canceled first. */
export function deletePass(pass: Pass): Outcome {
  const refused = pass.status === 'deleted' ? 'it is deleted already' : refusal('delete', pass);
  if (refused !== undefined) return unchanged(refused);
  return changed({ ...pass, status: 'deleted' }, 'deleted');
}

/** A prerequisite of a waiting pass failed: it can never run. */
export function unsatisfy(pass: Pass, facts: { because: string }): Outcome {
  const refused = refusal('unsatisfy', pass) ?? (pass.site === undefined ? undefined : `site ${pass.site} holds it`);
  if (refused !== undefined) return unchanged(refused);
  return changed({ ...pass, status: 'unsatisfied' }, 'unsatisfied', {}, facts.because);
}

/**
 * The pass, to run again exactly, as a new pass of the same job: the same RAT version, macro,
 * template values, ratdb tag, event mode, amount, label and priority. What a run left (site,
 * attempts, outputs) and where a request put it are not copied.
 */
export function copy(source: Pass, facts: { number: number; token: string }, now: Date): Pass {
  const {
    pass: _pass,
    status: _status,
    site: _site,
    claim: _claim,
    attempts: _attempts,
    attempts_dropped: _dropped,
    cancel_requested: _cancel,
    subjobs,
    request: _request,
    request_generation: _generation,
    request_entry: _entry,
    request_index: _index,
    like: _like,
    ...definition
  } = source;
  return {
    ...definition,
    pass: facts.number,
    status: 'waiting',
    created: now.toISOString(),
    attempts: [],
    like: { pass: source.pass, token: facts.token },
    ...(subjobs !== undefined && { subjobs: subjobs.map(freshSubjob) }),
  };
}
