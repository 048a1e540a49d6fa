import type { Database } from '../db/database.js';
import { ConflictError } from '../db/errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_PAUSE_AFTER, policyId, type PolicyDoc } from '../model/policy.js';
import type { Notifier } from '../notify/notifier.js';
import { pauseEvent } from '../notify/events.js';

/**
 * After failures: pauses each label whose last ended passes failed too often (default: more than
 * 10 of the last 20), naming the exit codes, so a broken macro or site does not burn a campaign.
 * Any site may pause a label; the revision check keeps one pause record, and the site that wrote it
 * notifies (once across all sites: the notifier's dedup document decides).
 */
export async function pauseFailingLabels(
  db: Database,
  log: Logger,
  labels: Iterable<string>,
  who: string,
  notifier?: Notifier,
): Promise<string[]> {
  const pausedLabels: string[] = [];
  for (const label of labels) {
    const policy = await db.find<PolicyDoc>(policyId(label));
    if (policy?.paused !== undefined) continue;
    const { failed: limit, of } = policy?.pause_after ?? DEFAULT_PAUSE_AFTER;
    const rows = await db.view<[string, string, string], [string, number | null]>('passes', 'ended', {
      startkey: ['label', label, {}],
      endkey: ['label', label],
      descending: true,
      limit: of,
    });
    const failures = rows.rows.filter((row) => row.value[0] !== 'completed');
    if (failures.length <= limit) continue;
    const codes = new Map<string, number>();
    for (const row of failures)
      codes.set(String(row.value[1] ?? 'none'), (codes.get(String(row.value[1] ?? 'none')) ?? 0) + 1);
    const reason = `${failures.length} of its last ${rows.rows.length} ended passes failed (exit codes: ${[...codes].map(([code, n]) => `${code} ×${n}`).join(', ')})`;
    const paused = { since: new Date().toISOString(), reason, by: who };
    const doc: PolicyDoc = { ...(policy ?? { _id: policyId(label), type: 'policy', label }), paused };
    try {
      await db.put(doc);
      pausedLabels.push(label);
      notifier?.notify(pauseEvent(label, paused));
      log.error({ label }, `paused label ${label}: ${reason}; gasp resume --label ${label} when it is fixed`);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  return pausedLabels;
}
