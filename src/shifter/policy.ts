import type { Database } from '../db/database.js';
import { isQuarantined, quarantineId, type QuarantineDoc } from '../model/health.js';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_PAUSE_AFTER, policyId, type PolicyDoc } from '../model/policy.js';
import { writePolicies } from '../submit/submit.js';
import type { PolicySettings } from '../config/policy-settings.js';
import { whoAmI, writeAudit } from './tool.js';

/** A label's failure policy as `gasp policy` shows it: when it pauses, what it resubmits, whether it is paused. */
export function describePolicy(policy: PolicyDoc | undefined, label: string): string[] {
  const after = policy?.pause_after ?? DEFAULT_PAUSE_AFTER;
  const fallback = (given: unknown) => (given === undefined ? ' (the default)' : '');
  const lines = [
    `label ${label}: pauses when more than ${after.failed} of its last ${after.of} ended passes failed${fallback(policy?.pause_after)}`,
  ];
  const keywords = policy?.retry_on ?? [];
  lines.push(
    keywords.length === 0
      ? '  failed passes stay failed (no retry_on texts set)'
      : `  a failed pass whose log contains ${keywords.map((keyword) => JSON.stringify(keyword)).join(' or ')} is resubmitted, up to ${policy?.max_attempts ?? DEFAULT_MAX_ATTEMPTS} attempts${fallback(policy?.max_attempts)}`,
  );
  if ((policy?.retry_memory_mb ?? 0) > 0)
    lines.push(`  each retry after a failure asks for ${policy?.retry_memory_mb} MB more memory (Slurm, HTCondor)`);
  lines.push(
    policy?.paused === undefined
      ? '  not paused'
      : `  PAUSED since ${policy.paused.since} by ${policy.paused.by}: ${policy.paused.reason}; gasp resume --label ${label}`,
  );
  return lines;
}

/**
 * Sets a label's policy `fields` (checked, from `settings` as given) and, with `pause`, pauses it by
 * hand unless it is paused already; a change is audited. Returns the label's policy after.
 */
export async function setPolicy(
  db: Database,
  label: string,
  settings: PolicySettings,
  fields: Partial<PolicyDoc>,
  pause: boolean,
): Promise<PolicyDoc | undefined> {
  const paused = pause ? { paused: { since: new Date().toISOString(), reason: 'paused by hand', by: whoAmI() } } : {};
  const policy = await db.find<PolicyDoc>(policyId(label));
  if (Object.keys(fields).length === 0 && !(pause && policy?.paused === undefined)) return policy;
  const [written] = await writePolicies(db, new Set([label]), { ...fields, ...paused });
  const given = Object.fromEntries(
    Object.entries(settings).map(([key, value]) => [key, Array.isArray(value) ? value.join(' | ') : String(value)]),
  );
  const did = [...(Object.keys(fields).length > 0 ? ['policy set'] : []), ...(pause ? ['label paused'] : [])].join(
    ', ',
  );
  await writeAudit(db, 'policy', { label, ...given, ...(pause && { pause: true }) }, { did });
  return written;
}

/**
 * Lets a quarantined site claim again, audited. The quarantine is kept, marked resumed: the site's
 * health counts only what ends from now on. Returns the quarantine it was under, or undefined when
 * it was not quarantined.
 */
export async function resumeSite(db: Database, site: string): Promise<QuarantineDoc | undefined> {
  const quarantine = await db.find<QuarantineDoc>(quarantineId(site));
  if (!isQuarantined(quarantine)) return undefined;
  await db.put({ ...quarantine, resumed: { at: new Date().toISOString(), by: whoAmI() } });
  await writeAudit(
    db,
    'resume',
    { site },
    { did: `site resumed; it was quarantined since ${quarantine.since}: ${quarantine.reason}` },
  );
  return quarantine;
}

/** Lets sites claim a paused label's passes again, audited. Returns the pause it was under, or undefined when it was not paused. */
export async function resumeLabel(db: Database, label: string): Promise<PolicyDoc['paused']> {
  const policy = await db.find<PolicyDoc>(policyId(label));
  if (policy?.paused === undefined) return undefined;
  const { paused, ...rest } = policy;
  await db.put(rest);
  await writeAudit(
    db,
    'resume',
    { label },
    { did: `label resumed; it was paused since ${paused.since}: ${paused.reason}` },
  );
  return paused;
}
