import type { Command } from 'commander';
import { couchFromConfig, probeCouch } from '../db/couch.js';
import type { Database } from '../db/database.js';
import { buildIndex, indexProgress, loadDesignDocs, pushDesignDocs, type PushResult } from '../db/design-docs.js';
import { UnavailableError } from '../errors.js';
import { BUNDLED_VIEWS } from '../paths.js';
import { MODES } from '../config/config.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { plural } from '../words.js';

interface ViewsPushOptions extends ConfigOptions {
  db?: string[];
  dir?: string;
  wait?: boolean;
  create?: boolean;
}

function describe(result: PushResult, waiting: boolean): string {
  if (result.outcome === 'unchanged') return 'unchanged';
  const views = plural(result.views.length, 'view');
  const rebuild = waiting
    ? `building its ${views} now`
    : `its ${views} rebuild on the next query (--wait builds them now)`;
  return `${result.outcome}; ${rebuild}`;
}

/**
 * Builds one view's index, reporting progress: a line rewritten in place on a terminal, else a
 * line every 10 s. The percentage comes from CouchDB's _active_tasks; PouchDB Server gives only time.
 */
async function buildIndexWithProgress(db: Database, ddoc: string, view: string): Promise<void> {
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
  const tty = process.stdout.isTTY === true;
  const label = `  indexing ${db.name} ${ddoc}/${view}`;
  if (tty) process.stdout.write(`${label} …`);
  let lastLine = Date.now();
  const timer = setInterval(() => {
    void indexProgress(db, ddoc).then((percent) => {
      const progress = `${percent === undefined ? '' : `${percent}%, `}${seconds()} s`;
      if (tty) process.stdout.write(`\r${label} … ${progress}   `);
      else if (Date.now() - lastLine >= 10_000) {
        lastLine = Date.now();
        print(`${label}: ${progress}`);
      }
    });
  }, 2_000);
  try {
    await buildIndex(db, ddoc, view);
  } finally {
    clearInterval(timer);
  }
  const done = `done in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  print(tty ? `\r${label}: ${done}   ` : `${label}: ${done}`);
}

/**
 * Which databases to push to, on which servers: `--db` names, else each config's database (the
 * first config's first). `probe`: for checking them rather than writing (one try, 10 s at most).
 */
export function viewsPushTargets(options: ViewsPushOptions, probe = false): Database[] {
  const explicitConfig = options.config !== undefined || process.env.GASP_CONFIG !== undefined;
  const modes = options.mode !== undefined || explicitConfig ? [options.mode] : MODES;
  const found: Database[] = [];
  for (const mode of modes) {
    const { config, log } = loadCommandConfig({ ...options, ...(mode !== undefined && { mode }) });
    const couch = probe ? probeCouch(config.couchdb) : couchFromConfig(config.couchdb, { log });
    for (const name of options.db ?? [config.couchdb.database]) {
      if (!found.some((db) => db.name === name && db.couch.url === couch.url)) found.push(couch.use(name));
    }
  }
  return found;
}

export function registerViewsPush(program: Command): void {
  const views = program.command('views').description('design documents (the views every client queries)');
  views
    .command('push')
    .description('write the design documents from views/ into the databases, only those that changed')
    .addOption(configOption())
    .addOption(modeOption())
    .option(
      '--db <name...>',
      'databases to push to (default: the [couchdb] database of -c, else of config/production.cfg and config/processing.cfg)',
    )
    .option('--dir <folder>', 'design documents folder (default: the views/ bundled with gasp)')
    .option('--wait', 'query every changed view so its index is built before returning, with progress')
    .option('--create', 'create a database that does not exist yet')
    .addHelpText(
      'after',
      '\nExamples:\n  gasp views push                       # data-production and data-processing\n  gasp views push -c config/processing.cfg --wait',
    )
    .action(async (_options: ViewsPushOptions, command: Command) => {
      const options = command.optsWithGlobals<ViewsPushOptions>();
      const docs = loadDesignDocs(options.dir ?? BUNDLED_VIEWS);
      for (const db of viewsPushTargets(options)) {
        if (!(await db.exists())) {
          if (options.create !== true) {
            throw new UnavailableError(
              `database "${db.name}" does not exist on ${db.couch.url} (create it, or pass --create)`,
            );
          }
          await db.create();
          print(`${db.name}: created the database`);
        }
        for (const result of await pushDesignDocs(db, docs)) {
          print(`${db.name} ${result.id}: ${describe(result, options.wait === true)}`);
          if (options.wait !== true || result.outcome === 'unchanged') continue;
          const ddoc = result.id.replace(/^_design\//, '');
          for (const view of result.views) await buildIndexWithProgress(db, ddoc, view);
        }
      }
    });
}
