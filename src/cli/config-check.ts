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
  return `${site.file}: ${site.backend} backend, up to ${site.maxJobs} jobs, RAT ${versions.join(', ')}`;
}

function printConfig(config: Config, site: Site): void {
  const rows: Array<[string, Array<[string, string]>]> = [
    [
      'couchdb',
      [
        ['url', displayUrl(config.couchdb.url)],
        ['database', config.couchdb.database],
        ['user', config.couchdb.user ?? '(none: anonymous)'],
        ['password', config.couchdb.password === undefined ? '(none)' : `*** (${config.couchdb.passwordSource ?? 'set'})`],
        ['timeout', `${config.couchdb.timeoutMs / 1000} s`],
      ],
    ],
    [
      'client',
      [
        ['site', `${site.name} (${describeSite(site)})`],
        ['mode', config.client.mode],
        ['queue', config.client.queue],
        ['interval', `${config.client.intervalSeconds} s`],
        ['max_claim', String(config.client.maxClaim)],
      ],
    ],
    ['logging', [['level', config.logging.level]]],
  ];
  print(`${config.file}: OK`);
  for (const [section, keys] of rows) {
    print(`[${section}]`);
    for (const [key, value] of keys) print(`  ${key.padEnd(10)} ${value}`);
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
    .addHelpText('after', '\nExample:\n  gasp config check config/production.cfg\n  GASP_COUCHDB_URL=https://couch.example.org:6984 gasp config check --json')
    .action((file: string | undefined, options: ConfigCheckOptions, command: Command) => {
      const all = command.optsWithGlobals<ConfigCheckOptions>();
      const { config } = loadCommandConfig({ ...all, ...(file !== undefined && { config: file }) });
      let site: Site;
      try {
        site = loadSite(config.client.siteFile);
      } catch (error) {
        if (error instanceof InputError) {
          throw new InputError([`${config.file}: [client] site: "${config.client.site}" cannot be used:`, ...error.problems]);
        }
        throw error;
      }
      if (options.json === true) print(JSON.stringify({ ...config, site: { name: site.name, file: site.file, backend: site.backend } }, null, 2));
      else printConfig(config, site);
    });
}
