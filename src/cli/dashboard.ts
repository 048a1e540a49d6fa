import type { Command } from 'commander';
import { MODES, type Mode } from '../config/config.js';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { isLoopback, startDashboard } from '../dashboard/server.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';
import { stopOnSignal } from '../signals.js';
import { parsePort } from './serve.js';

interface DashboardCommandOptions extends ConfigOptions {
  port: string;
  host: string;
  productionDb?: string;
  processingDb?: string;
}

/** Each mode's database: the config's for its own mode, `data-<mode>` for the other, unless named. */
export function dashboardDatabases(
  configMode: Mode,
  configDatabase: string,
  named: Partial<Record<Mode, string | undefined>>,
): Record<Mode, string> {
  return Object.fromEntries(
    MODES.map((mode) => [mode, named[mode] ?? (mode === configMode ? configDatabase : `data-${mode}`)]),
  ) as Record<Mode, string>;
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description(
      'serve a read-only web page of the campaign: passes per label and module, throughput, failures, sites, paused labels, why passes wait',
    )
    .option('-p, --port <port>', 'port (0: any free port)', '8080')
    .option(
      '--host <address>',
      'address to listen on; beyond 127.0.0.1 it needs [dashboard] user and password_file in the config',
      '127.0.0.1',
    )
    .option('--production-db <name>', "the production database (default: the config's, or data-production)")
    .option('--processing-db <name>', "the processing database (default: the config's, or data-processing)")
    .addOption(configOption())
    .addHelpText(
      'after',
      '\nThe page reads the reduce views (on the embedded server, the tallies gasp serve keeps of them) every 5 s and changes nothing.\n\nExamples:\n  gasp dashboard -c config/production.cfg\n  gasp dashboard --host 0.0.0.0 --port 8080   # with [dashboard] user and password_file set',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<DashboardCommandOptions>();
      const port = parsePort(options.port);
      const { config, log } = loadCommandConfig(options);
      const credential = config.dashboard.credential;
      if (!isLoopback(options.host) && credential === undefined) {
        throw new InputError([
          `--host: "${options.host}" would show the campaign beyond this machine (expected 127.0.0.1, or [dashboard] user and password_file in ${config.file} for a read-only login)`,
        ]);
      }
      const couch = couchFromConfig(config.couchdb, { log });
      const names = dashboardDatabases(config.client.mode, config.couchdb.database, {
        production: options.productionDb,
        processing: options.processingDb,
      });
      const stop = stopOnSignal({ log });
      const dashboard = await startDashboard({
        host: options.host,
        port,
        databases: { production: couch.use(names.production), processing: couch.use(names.processing) },
        staleSeconds: config.coordination.staleSeconds,
        ...(credential !== undefined && { credential }),
        log,
      });
      print(
        `dashboard: ${dashboard.url.href} (${names.production}, ${names.processing} on ${couch.url}); Ctrl-C stops it`,
      );
      await stop.signalled;
      await dashboard.close();
      print('stopped');
    });
}
