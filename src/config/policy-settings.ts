import { nOfM } from './fields.js';
import { megabytes } from '../memory.js';
import type { PolicyDoc } from '../model/policy.js';

/** A label's failure policy as a person writes it: in a jobs.json `policy` block, or as `gasp policy` options. */
export interface PolicySettings {
  /** `n/m`: pause when more than n of the last m ended passes failed. */
  pause_after?: unknown;
  max_attempts?: unknown;
  /** Extra memory per failed attempt, as a size such as 2G. */
  retry_memory?: unknown;
  /** Texts of transient errors: a failed pass whose logs contain one is resubmitted. */
  retry_on?: unknown;
}

export const POLICY_KEYS = ['pause_after', 'max_attempts', 'retry_memory', 'retry_on'] as const;

/**
 * The policy fields these settings give, each checked; every problem is added to `problems` as
 * `<where(key)>: "<value>" is … (expected …)`.
 */
export function policyFields(
  settings: PolicySettings,
  where: (key: string) => string,
  problems: string[],
): Partial<PolicyDoc> {
  const fields: Partial<PolicyDoc> = {};
  const bad = (key: string, value: unknown, expected: string) =>
    problems.push(`${where(key)}: ${JSON.stringify(value)} is not ${expected}`);
  for (const key of Object.keys(settings)) {
    if (!(POLICY_KEYS as readonly string[]).includes(key))
      problems.push(`${where(key)}: unknown key (expected ${POLICY_KEYS.join(', ')})`);
  }
  const { pause_after: pauseAfter, max_attempts: maxAttempts, retry_memory: retryMemory, retry_on: retryOn } = settings;
  if (pauseAfter !== undefined) {
    const rule = typeof pauseAfter === 'string' ? nOfM(pauseAfter) : undefined;
    if (rule === undefined) bad('pause_after', pauseAfter, 'n/m with n less than m (expected such as 10/20)');
    else fields.pause_after = rule;
  }
  if (maxAttempts !== undefined) {
    const number = typeof maxAttempts === 'string' && /^\d+$/.test(maxAttempts) ? Number(maxAttempts) : maxAttempts;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 20)
      bad('max_attempts', maxAttempts, 'a whole number from 1 to 20');
    else fields.max_attempts = number;
  }
  if (retryMemory !== undefined) {
    const mb = typeof retryMemory === 'string' ? megabytes(retryMemory) : undefined;
    if (mb === undefined) bad('retry_memory', retryMemory, 'a memory size (expected such as 2G or 512M)');
    else fields.retry_memory_mb = mb;
  }
  if (retryOn !== undefined) {
    const keywords = Array.isArray(retryOn) ? retryOn : undefined;
    if (
      keywords === undefined ||
      keywords.some((keyword) => typeof keyword !== 'string' || keyword.trim() === '' || /[\r\n]/.test(keyword))
    ) {
      bad('retry_on', retryOn, 'a list of texts, each one line (expected such as ["Connection timed out"])');
    } else {
      fields.retry_on = keywords as string[];
    }
  }
  return fields;
}
