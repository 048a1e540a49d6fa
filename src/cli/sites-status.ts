import type { Command } from 'commander';
import { sitesStatus, type SiteRow } from '../coordination/status.js';
import { describeHealth } from '../passes/health.js';
import { proxyAllowsClaims } from '../model/coordination.js';
import { couchFromConfig } from '../db/couch.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

/** `gasp sites status`: who runs, who is stale, who leads, and what each site holds. */
export function registerSitesStatus(sites: Command): void {
  sites
    .command('status')
    .description(
      'each site on the database: last heartbeat, active, stale or stopped, who leads, how many passes it holds, its recent failures by kind, whether it is quarantined, and the hours its grid proxy has left',
    )
    .addOption(configOption())
    .addOption(modeOption())
    .option('--json', 'print the sites as JSON')
    .addHelpText(
      'after',
      '\nA site is stale when its last heartbeat is older than [coordination] stale seconds.\n\nExample:\n  gasp sites status -c config/production.cfg',
    )
    .action(async (_options: unknown, command: Command) =>
      printSitesStatus(command.optsWithGlobals<ConfigOptions & { json?: boolean }>()),
    );
}

async function printSitesStatus(options: ConfigOptions & { json?: boolean }): Promise<void> {
  const { config } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb).use(config.couchdb.database);
  const { leader, rows } = await sitesStatus(db, config.coordination.staleSeconds);
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
  printTable(rows);
  print(
    leader === undefined
      ? 'no site leads (submission is not serialized, or no client has run)'
      : `* leads since ${leader.since} (term ${leader.term})`,
  );
}

/** "grid proxy (voms): 10 h left, a job may need 24 h: claims nothing until it is renewed (checked …)". */
function proxyLine(proxy: NonNullable<SiteRow['proxy']>): string {
  const left = proxy.hours_left === null ? 'unreadable' : `${proxy.hours_left} h left`;
  return `grid proxy (${proxy.kind}): ${left}, a job may need ${proxy.needed_hours} h${proxyAllowsClaims(proxy) ? '' : ': CLAIMS NOTHING until it is renewed'}${proxy.problem === undefined ? '' : `; ${proxy.problem}`} (checked ${proxy.checked})`;
}

/** A line per client, then a line per site with recent failures or a quarantine, and one per client with a grid proxy. */
function printTable(rows: readonly SiteRow[]): void {
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
  for (const row of rows) if (row.proxy !== null) print(`${row.site} (${row.mode}): ${proxyLine(row.proxy)}`);
}
