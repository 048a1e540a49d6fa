import type { Database } from '../db/database.js';
import { EXIT_CLASSES, exitClass, type ExitClass } from '../model/health.js';

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
