import type { Pass } from './documents.js';

/**
 * A label's failure policy (from its request, or `gasp policy`), and whether it is paused. One
 * document per label; every field is optional and falls back to the defaults below.
 */
export interface PolicyDoc {
  _id: string;
  _rev?: string;
  type: 'policy';
  label: string;
  /** Pause the label when more than `failed` of its last `of` ended passes failed. */
  pause_after?: { failed: number; of: number };
  /** Automatic resubmission stops once a pass has made this many attempts (`gasp retry` by hand is not limited). */
  max_attempts?: number;
  /** Megabytes of memory a batch job asks for beyond the site's, per failed attempt before it (Slurm, HTCondor). */
  retry_memory_mb?: number;
  /** A failed pass whose log tails or failure reason contain one of these is resubmitted automatically (transient errors). */
  retry_on?: string[];
  /** Set when paused (by the client's auto-pause or a person); no site claims the label's passes. */
  paused?: { since: string; reason: string; by: string };
}

export const POLICY_PREFIX = 'policy:';
export const policyId = (label: string) => `${POLICY_PREFIX}${label}`;
export const DEFAULT_PAUSE_AFTER = { failed: 10, of: 20 } as const;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Attempts the pass has made, the dropped old ones included. */
export const attemptsMade = (pass: Pick<Pass, 'attempts' | 'attempts_dropped'>) =>
  pass.attempts.length + (pass.attempts_dropped ?? 0);

/** Failed attempts before the current one: each adds the policy's retry memory. */
export const failedBefore = (pass: Pick<Pass, 'attempts'>) =>
  pass.attempts.slice(0, -1).filter((attempt) => attempt.status === 'failed' || attempt.status === 'partFail').length;

/** The keyword of the policy found in these texts, if any. */
export const matchingKeyword = (policy: PolicyDoc | undefined, texts: readonly string[]) =>
  policy?.retry_on?.find((keyword) => texts.some((text) => text.includes(keyword)));
