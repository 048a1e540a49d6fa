import { backToWaiting, updatePasses } from '../client/update.js';
import { ServerClock } from '../db/clock.js';
import { describeHolder } from '../coordination/heartbeat.js';
import { siteBeats } from '../coordination/sites.js';
import type { Database } from '../db/database.js';
import { GaspError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JobDoc } from '../model/documents.js';

export class SiteAliveError extends GaspError {
  override readonly code = 'E_SITE_ALIVE';
}

export interface UnlockResult {
  held: number;
  released: number;
}

/**
 * Releases what a dead site holds: every submitted or running pass of the site goes back to
 * waiting as a new attempt (the old one closed as lost, with the reason). Refuses while the site's
 * client is alive, unless forced: its jobs may still be running.
 */
export async function unlockSite(
  db: Database,
  log: Logger,
  site: string,
  options: { staleSeconds: number; force: boolean; apply: boolean; who: string },
): Promise<UnlockResult> {
  const clock = new ServerClock(db.couch);
  await clock.sync();
  const alive = (await siteBeats(db, clock, options.staleSeconds)).filter(
    (beat) => beat.doc.site === site && beat.state === 'active',
  );
  if (alive.length > 0 && !options.force) {
    const [beat] = alive;
    throw new SiteAliveError(
      `site ${site} is alive (${beat === undefined ? '' : `${describeHolder(beat.doc)}, last heartbeat ${Math.round(beat.age)} s ago`}): its jobs may be running; stop its client first, or add --force`,
    );
  }
  const rows = await db.view<[string, string, string, number, number]>('passes', 'locked_by_site', {
    startkey: [site],
    endkey: [site, {}],
  });
  if (!options.apply || rows.rows.length === 0) return { held: rows.rows.length, released: 0 };
  const now = clock.now().toISOString();
  const landed = await updatePasses(
    { db, log },
    rows.rows.flatMap((row) =>
      row.id === undefined
        ? []
        : [
            {
              id: row.id,
              pass: row.key[4],
              apply: (stored: JobDoc['passes'][number]) =>
                stored.site !== site || (stored.status !== 'submitted' && stored.status !== 'running')
                  ? undefined
                  : backToWaiting(stored, stored.claim?.token, now, `released by ${options.who} (gasp unlock ${site})`),
            },
          ],
    ),
  );
  return { held: rows.rows.length, released: landed.length };
}
