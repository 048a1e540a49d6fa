import type { Database } from '../db/database.js';
import { LEADER_ID, type LeaderDoc, type ProxyStatus } from '../model/coordination.js';
import { DEFAULT_QUARANTINE_AFTER, type QuarantineDoc } from '../model/health.js';
import { noHealth, siteHealth, type SiteHealth } from '../passes/health.js';
import { readQuarantines } from '../passes/store.js';
import { ServerClock } from '../db/clock.js';
import { siteBeats, type SiteBeat } from './sites.js';

/** One client of a site (or the site alone, when it holds passes or is quarantined but never ran one), as `gasp sites status` shows it. */
export interface SiteRow {
  site: string;
  mode: string;
  state: string;
  leads: boolean;
  held: number;
  heartbeat_age_s: number | null;
  host: string;
  pid: number | null;
  version: string;
  /** Its last ended passes, failures by exit-code class. */
  recent: SiteHealth;
  quarantined: string | null;
  /** Its grid proxy as its client last read it; null: it needs none, or its client does not say. */
  proxy: ProxyStatus | null;
}

/** Ended passes each site's health is judged on, as a site's default quarantine rule reads them. */
const RECENT = DEFAULT_QUARANTINE_AFTER.of * 2;

/** What the database says of its sites, by the server's clock: heartbeats, the leader, held passes per site, quarantines. */
export interface SitesNow {
  beats: SiteBeat[];
  leader: LeaderDoc | undefined;
  holding: Map<string, number>;
  quarantines: Map<string, QuarantineDoc>;
}

/** One read of every site's standing, shared by `gasp sites status` and `gasp why`. */
export async function readSites(db: Database, staleSeconds: number): Promise<SitesNow> {
  const clock = new ServerClock(db.couch);
  await clock.sync();
  const [beats, leader, held, quarantines] = await Promise.all([
    siteBeats(db, clock, staleSeconds),
    db.find<LeaderDoc>(LEADER_ID),
    db.view<[string], number>('sites', 'held', { group_level: 1 }),
    readQuarantines(db),
  ]);
  return { beats, leader, holding: new Map(held.rows.map((row) => [row.key[0], row.value])), quarantines };
}

/** Every site on the database, sorted by name, a row per client it ran, and which site leads (by the server's clock). */
export async function sitesStatus(
  db: Database,
  staleSeconds: number,
): Promise<{ leader: LeaderDoc | undefined; rows: SiteRow[] }> {
  const { beats, leader, holding, quarantines } = await readSites(db, staleSeconds);
  const names = [...new Set([...beats.map((beat) => beat.doc.site), ...holding.keys(), ...quarantines.keys()])].sort();
  const health = new Map(
    await Promise.all(names.map(async (site) => [site, await siteHealth(db, site, RECENT)] as const)),
  );
  const rows = names.flatMap((site): SiteRow[] => {
    const own = beats.filter((beat) => beat.doc.site === site);
    const quarantine = quarantines.get(site);
    const base = {
      site,
      leads: leader?.site === site,
      held: holding.get(site) ?? 0,
      recent: health.get(site) ?? noHealth(site),
      quarantined: quarantine === undefined ? null : `since ${quarantine.since}: ${quarantine.reason}`,
    };
    if (own.length === 0)
      return [
        {
          ...base,
          mode: '-',
          state: 'never seen',
          heartbeat_age_s: null,
          host: '-',
          pid: null,
          version: '-',
          proxy: null,
        },
      ];
    return own.map((beat) => ({
      ...base,
      mode: beat.doc.mode,
      state: beat.state,
      heartbeat_age_s: Math.round(beat.age),
      host: beat.doc.host,
      pid: beat.doc.pid,
      version: beat.doc.version,
      proxy: beat.doc.proxy ?? null,
    }));
  });
  return { leader, rows };
}
