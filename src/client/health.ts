import { ConflictError } from '../db/errors.js';
import { quarantineId, SITE_FAULTS, type QuarantineDoc } from '../model/health.js';
import { describeHealth, siteHealth } from '../passes/health.js';
import type { ClientContext } from './context.js';
import { quarantineEvent } from '../notify/events.js';

/**
 * After failures: a site whose own set-up or staging failed more than the site file allows among
 * its last ended passes quarantines itself, so it stops burning passes that would run elsewhere.
 * Returns the record written, or undefined while the site is healthy.
 */
export async function quarantineIfUnhealthy(
  ctx: ClientContext,
  earlier: QuarantineDoc | undefined,
): Promise<QuarantineDoc | undefined> {
  const rule = ctx.site.quarantineAfter;
  if (rule === null) return undefined;
  // after a resume, only what ended since counts
  const health = await siteHealth(ctx.db, ctx.site.name, rule.of, earlier?.resumed?.at);
  const faults = SITE_FAULTS.reduce((sum, name) => sum + health.byClass[name], 0);
  if (faults <= rule.failed) return undefined;
  const doc: QuarantineDoc = {
    _id: quarantineId(ctx.site.name),
    ...(earlier?._rev !== undefined && { _rev: earlier._rev }),
    type: 'quarantine',
    site: ctx.site.name,
    since: ctx.now().toISOString(),
    reason: describeHealth(health),
    by: `site ${ctx.site.name}`,
  };
  try {
    await ctx.db.put(doc);
    ctx.notifier?.notify(quarantineEvent(doc));
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
  ctx.log.error(
    { site: ctx.site.name },
    `site ${ctx.site.name} quarantined itself: ${doc.reason}; it claims nothing and keeps monitoring until gasp resume --site ${ctx.site.name}`,
  );
  return doc;
}
