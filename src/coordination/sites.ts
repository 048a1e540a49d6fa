import type { Database } from '../db/database.js';
import { HEARTBEAT_PREFIX, type HeartbeatDoc } from '../model/coordination.js';
import type { ServerClock } from '../db/clock.js';

export type SiteState = 'active' | 'stale' | 'stopped';

export interface SiteBeat {
  doc: HeartbeatDoc;
  state: SiteState;
  /** Seconds since its last heartbeat, by the server's clock. */
  age: number;
}

/** Every site that ever ran a client on this database, with whether it is alive now (by the server's clock). */
export async function siteBeats(
  db: Database,
  clock: Pick<ServerClock, 'ageSeconds'>,
  staleSeconds: number,
): Promise<SiteBeat[]> {
  const rows = await db.allDocs<HeartbeatDoc>({
    startkey: HEARTBEAT_PREFIX,
    endkey: `${HEARTBEAT_PREFIX}\ufff0`,
    include_docs: true,
  });
  return rows.rows.flatMap((row) => {
    const doc = row.doc;
    if (!doc || doc.type !== 'heartbeat') return [];
    const age = clock.ageSeconds(doc.beat);
    const state: SiteState = doc.stopped !== undefined ? 'stopped' : age < staleSeconds ? 'active' : 'stale';
    return [{ doc, state, age }];
  });
}
