import type { Command } from 'commander';
import { ServerClock } from '../db/clock.js';
import { siteBeats } from '../coordination/sites.js';
import { describeHealth, noHealth, siteHealth, type SiteHealth } from '../passes/health.js';
import { readQuarantines } from '../passes/store.js';
import { couchFromConfig } from '../db/couch.js';
import { DEFAULT_QUARANTINE_AFTER } from '../model/health.js';
import { LEADER_ID, type LeaderDoc } from '../model/coordination.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

interface SiteRow {
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
}

/** Ended passes each site's health is judged on, as a site's default quarantine rule reads them. */
const RECENT = DEFAULT_QUARANTINE_AFTER.of * 2;

/** `gasp sites status`: who runs, who is stale, who leads, and what each site holds. */
export function registerSitesStatus(sites: Command): void {
  sites
    .command('status')
    .description(
      'each site on the database: last heartbeat, active, stale or stopped, who leads, how many passes it holds, its recent failures by kind, and whether it is quarantined',
    )
    .addOption(configOption())
    .addOption(modeOption())
    .option('--json', 'print the sites as JSON')
    .addHelpText(
      'after',
      '\nA site is stale when its last heartbeat is older than [coordination] stale seconds.\n\nExample:\n  gasp sites status -c config/production.cfg',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { json?: boolean }>();
      const { config } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb).use(config.couchdb.database);
      const clock = new ServerClock(db.couch);
      await clock.sync();
      const [beats, leader, held, quarantines] = await Promise.all([
        siteBeats(db, clock, config.coordination.staleSeconds),
        db.find<LeaderDoc>(LEADER_ID),
        db.view<[string], number>('sites', 'held', { group_level: 1 }),
        readQuarantines(db),
      ]);
      const holding = new Map(held.rows.map((row) => [row.key[0], row.value]));
      const names = [
        ...new Set([...beats.map((beat) => beat.doc.site), ...holding.keys(), ...quarantines.keys()]),
      ].sort();
      const health = new Map(
        await Promise.all(names.map(async (site) => [site, await siteHealth(db, site, RECENT)] as const)),
      );
      const rows = names.flatMap((site): SiteRow[] => {
        const own = beats.filter((beat) => beat.doc.site === site);
        const quarantine = quarantines.get(site);
        const recent = health.get(site) ?? noHealth(site);
        const base = {
          site,
          leads: leader?.site === site,
          held: holding.get(site) ?? 0,
          recent,
          quarantined: quarantine === undefined ? null : `since ${quarantine.since}: ${quarantine.reason}`,
        };
        if (own.length === 0)
          return [
            { ...base, mode: '-', state: 'never seen', heartbeat_age_s: null, host: '-', pid: null, version: '-' },
          ];
        return own.map((beat) => ({
          ...base,
          mode: beat.doc.mode,
          state: beat.state,
          heartbeat_age_s: Math.round(beat.age),
          host: beat.doc.host,
          pid: beat.doc.pid,
          version: beat.doc.version,
        }));
      });
      if (options.json === true) {
        print(
          JSON.stringify(
            {
              database: config.couchdb.database,
              serialize: config.coordination.serialize,
              leader: leader?.site ?? null,
              sites: rows,
            },
            null,
            2,
          ),
        );
        return;
      }
      if (rows.length === 0) {
        print(`no site has run a client on ${config.couchdb.database} yet`);
        return;
      }
      const width = Math.max(4, ...rows.map((row) => row.site.length + 1));
      print(`${'site'.padEnd(width)}  mode        state       last heartbeat  held    host (pid)`);
      for (const row of rows) {
        const age = row.heartbeat_age_s === null ? '-' : `${row.heartbeat_age_s} s ago`;
        print(
          `${`${row.site}${row.leads ? '*' : ''}`.padEnd(width)}  ${row.mode.padEnd(10)}  ${row.state.padEnd(10)}  ${age.padStart(14)}  ${String(row.held).padStart(6)}  ${row.host}${row.pid === null ? '' : ` (${row.pid})`}`,
        );
      }
      const said = new Set<string>();
      for (const row of rows) {
        if (said.has(row.site) || (row.recent.ended === 0 && row.quarantined === null)) continue;
        said.add(row.site);
        print(
          `${row.site}: ${describeHealth(row.recent)}${row.quarantined === null ? '' : `; QUARANTINED ${row.quarantined}; gasp resume --site ${row.site}`}`,
        );
      }
      print(
        leader === undefined
          ? 'no site leads (submission is not serialized, or no client has run)'
          : `* leads since ${leader.since} (term ${leader.term})`,
      );
    });
}
