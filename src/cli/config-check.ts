import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import { InputError } from '../errors.js';
import { displayUrl } from '../scrub.js';
import { loadSite, type Site } from '../sites/site.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

interface ConfigCheckOptions extends ConfigOptions {
  json?: boolean;
}

function describeSite(site: Site): string {
  const versions = [...site.rat.versions.keys()];
  return `${site.file}: ${site.backend} backend, up to ${site.maxJobs} jobs, RAT ${versions.join(', ')}${site.proxy === 'none' ? '' : `, grid proxy ${site.proxy}`}`;
}

const seconds = (value: number) => `${value} s`;

/** Every section a config file has, resolved (defaults filled in), in the order the README lists them. */
function configRows(config: Config, site: Site): Array<[string, Array<[string, string]>]> {
  const { couchdb, client, coordination, production, dashboard } = config;
  return [
    [
      'couchdb',
      [
        ['url', displayUrl(couchdb.url)],
        ['database', couchdb.database],
        ['user', couchdb.user ?? '(none: anonymous)'],
        ['password', couchdb.password === undefined ? '(none)' : `*** (${couchdb.passwordSource ?? 'set'})`],
        ['timeout', seconds(couchdb.timeoutMs / 1000)],
      ],
    ],
    [
      'client',
      [
        ['site', `${site.name} (${describeSite(site)})`],
        ['mode', client.mode],
        ['queue', client.queue],
        ['interval', seconds(client.intervalSeconds)],
        ['max_claim', String(client.maxClaim)],
        ['proxy_check', seconds(client.proxyCheckSeconds)],
      ],
    ],
    ['logging', [['level', config.logging.level]]],
    [
      'coordination',
      [
        ['serialize', coordination.serialize ? 'yes' : 'no'],
        ['heartbeat', seconds(coordination.heartbeatSeconds)],
        ['stale', seconds(coordination.staleSeconds)],
        ['conflict_delay', seconds(coordination.conflictDelaySeconds)],
      ],
    ],
    [
      'dashboard',
      dashboard.credential === undefined
        ? [['user', '(none: serves 127.0.0.1 only)']]
        : [
            ['user', dashboard.credential.user],
            ['password', '***'],
          ],
    ],
    [
      'production',
      [
        ['phases', production.phases.join(', ')],
        ['internal_rate_generators', production.internalRateGenerators.join(', ')],
      ],
    ],
    [
      'production.modes',
      production.modeOverrides.length === 0
        ? [['(none)', 'event modes come from the macros']]
        : production.modeOverrides.map(({ pattern, mode }) => [pattern, mode]),
    ],
    [
      'grab',
      [
        [
          'prefer',
          config.grab.prefer.length === 0 ? '(none: copies in the order recorded)' : config.grab.prefer.join(', '),
        ],
      ],
    ],
    [
      'notify',
      [
        ['webhook', config.notify.webhook?.shown ?? '(none)'],
        ['mail_to', config.notify.mailTo.length === 0 ? '(none)' : config.notify.mailTo.join(', ')],
        ...(config.notify.mailTo.length === 0 ? [] : [['sendmail', config.notify.sendmail] as [string, string]]),
        ['per_hour', String(config.notify.perHour)],
        ['proxy_warn_hours', `${config.notify.proxyWarnHours} h`],
      ],
    ],
  ];
}

function printConfig(config: Config, site: Site): void {
  const rows = configRows(config, site);
  const width = Math.max(...rows.flatMap(([, keys]) => keys.map(([key]) => key.length)));
  print(`${config.file}: OK`);
  for (const [section, keys] of rows) {
    print(`[${section}]`);
    for (const [key, value] of keys) print(`  ${key.padEnd(width)} ${value}`);
  }
}

export function registerConfigCheck(program: Command): void {
  const config = program.command('config').description('check configuration files');
  config
    .command('check')
    .description('validate a config file and the site file it names; print the resolved settings (password as ***)')
    .argument('[file]', 'config file (default: -c, $GASP_CONFIG, else config/<mode>.cfg)')
    .addOption(configOption())
    .addOption(modeOption())
    .option('--json', 'print the resolved settings as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  gasp config check config/production.cfg\n  GASP_COUCHDB_URL=https://couch.example.org:6984 gasp config check --json',
    )
    .action((file: string | undefined, options: ConfigCheckOptions, command: Command) => {
      const all = command.optsWithGlobals<ConfigCheckOptions>();
      const { config } = loadCommandConfig({ ...all, ...(file !== undefined && { config: file }) });
      if (config.notify.sendmailMissing !== undefined) throw new InputError([config.notify.sendmailMissing]);
      let site: Site;
      try {
        site = loadSite(config.client.siteFile);
      } catch (error) {
        if (error instanceof InputError) {
          throw new InputError([
            `${config.file}: [client] site: "${config.client.site}" cannot be used:`,
            ...error.problems,
          ]);
        }
        throw error;
      }
      if (options.json === true)
        print(
          JSON.stringify({ ...config, site: { name: site.name, file: site.file, backend: site.backend } }, null, 2),
        );
      else printConfig(config, site);
    });
}
