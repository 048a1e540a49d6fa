import { ServerClock } from '../db/clock.js';
import { describeHolder } from '../coordination/heartbeat.js';
import { siteBeats } from '../coordination/sites.js';
import type { Database } from '../db/database.js';
import { GaspError } from '../errors.js';
import type { Logger } from '../log.js';
import { readHeld, transitionChange, updatePasses } from '../passes/store.js';
import { unlock } from '../passes/transitions.js';

export class SiteAliveError extends GaspError {
  override readonly code = 'E_SITE_ALIVE';
}

export interface UnlockResult {
  held: number;
  released: number;
  /** Passes GASP's client holds under a site of this name (no gasp claim): left to it. */
  oldClient: number;
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
  const all = await readHeld(db, site);
  // gasp writes a claim token before any backend call: a pass without one is GASP's client's
  const rows = all.filter((row) => row.token !== null);
  const oldClient = all.length - rows.length;
  if (!options.apply || rows.length === 0) return { held: rows.length, released: 0, oldClient };
  const now = clock.now();
  const reason = `released by ${options.who} (gasp unlock ${site})`;
  const landed = await updatePasses(
    { db, log },
    rows.map((row) => transitionChange(row.id, row.pass, (stored) => unlock(stored, { site, reason }, now))),
  );
  return { held: rows.length, released: landed.length, oldClient };
}
