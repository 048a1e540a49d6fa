import type { Database } from '../db/database.js';
import { ConflictError } from '../db/errors.js';
import {
  EXIT_CLASSES,
  exitClass,
  isQuarantined,
  QUARANTINE_PREFIX,
  quarantineId,
  SITE_FAULTS,
  type ExitClass,
  type QuarantineDoc,
} from '../model/health.js';
import type { ClientContext } from './context.js';

/** A site's last ended attempts: how many failed, by exit-code class. */
export interface SiteHealth {
  site: string;
  ended: number;
  failed: number;
  byClass: Record<ExitClass, number>;
}

export const noHealth = (site: string): SiteHealth => ({
  site,
  ended: 0,
  failed: 0,
  byClass: Object.fromEntries(EXIT_CLASSES.map((name) => [name, 0])) as Record<ExitClass, number>,
});

/** A site's last `last` ended attempts (after `since`, if given). */
export async function siteHealth(db: Database, site: string, last: number, since = ''): Promise<SiteHealth> {
  const rows = await db.view<[string, string, string], [string, number | null]>('passes', 'ended', {
    startkey: ['site', site, {}],
    endkey: ['site', site, since],
    inclusive_end: false,
    descending: true,
    limit: last,
  });
  const { byClass } = noHealth(site);
  let failed = 0;
  for (const { value } of rows.rows) {
    if (value[0] === 'completed') continue;
    failed += 1;
    byClass[exitClass(value[1])] += 1;
  }
  return { site, ended: rows.rows.length, failed, byClass };
}

/** "3 of its last 10 ended passes failed (setup 2, staging 1)". */
export function describeHealth(health: SiteHealth): string {
  const classes = EXIT_CLASSES.filter((name) => health.byClass[name] > 0).map(
    (name) => `${name} ${health.byClass[name]}`,
  );
  return `${health.failed} of its last ${health.ended} ended attempts failed${classes.length > 0 ? ` (${classes.join(', ')})` : ''}`;
}

/** Every site quarantined now, by name. */
export async function readQuarantines(db: Database): Promise<Map<string, QuarantineDoc>> {
  const rows = await db.allDocs<QuarantineDoc>({
    startkey: QUARANTINE_PREFIX,
    endkey: `${QUARANTINE_PREFIX}\ufff0`,
    include_docs: true,
  });
  return new Map(
    rows.rows.flatMap((row) =>
      row.doc?.type === 'quarantine' && isQuarantined(row.doc) ? [[row.doc.site, row.doc] as const] : [],
    ),
  );
}

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
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
  ctx.log.error(
    { site: ctx.site.name },
    `site ${ctx.site.name} quarantined itself: ${doc.reason}; it claims nothing and keeps monitoring until gasp resume --site ${ctx.site.name}`,
  );
  return doc;
}
