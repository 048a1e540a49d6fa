import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { buildIndex, loadDesignDocs, pushDesignDocs, type PushResult } from '../db/design-docs.js';
import { STANDARD_DATABASES } from '../db/setup.js';
import { UnavailableError } from '../errors.js';
import { BUNDLED_VIEWS } from '../paths.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';

interface ViewsPushOptions extends ConfigOptions {
  db?: string[];
  dir?: string;
  wait?: boolean;
  create?: boolean;
}

function describe(result: PushResult, waiting: boolean): string {
  if (result.outcome === 'unchanged') return 'unchanged';
  const views = `${result.views.length} view${result.views.length === 1 ? '' : 's'}`;
  const rebuild = waiting ? `building its ${views} now` : `its ${views} rebuild on the next query (--wait builds them now)`;
  return `${result.outcome}; ${rebuild}`;
}

export function registerViewsPush(program: Command): void {
  const views = program.command('views').description('design documents (the views every client queries)');
  views
    .command('push')
    .description('write the design documents from views/ into the databases, only those that changed')
    .addOption(configOption())
    .option('--db <name...>', `databases to push to (default: ${STANDARD_DATABASES.join(' and ')})`)
    .option('--dir <folder>', 'design documents folder (default: the views/ bundled with gasp)')
    .option('--wait', 'query every changed view so its index is built before returning')
    .option('--create', 'create a database that does not exist yet')
    .addHelpText('after', '\nExamples:\n  gasp views push -c config/production.cfg\n  gasp views push --db data-processing --wait')
    .action(async (_options: ViewsPushOptions, command: Command) => {
      const options = command.optsWithGlobals<ViewsPushOptions>();
      const { config, log } = loadCommandConfig(options);
      const docs = loadDesignDocs(options.dir ?? BUNDLED_VIEWS);
      const couch = couchFromConfig(config.couchdb, { log });
      for (const name of options.db ?? STANDARD_DATABASES) {
        const db = couch.use(name);
        if (!(await db.exists())) {
          if (options.create !== true) {
            throw new UnavailableError(`database "${name}" does not exist on ${couch.url} (create it, or pass --create)`);
          }
          await db.create();
          print(`${name}: created the database`);
        }
        const results = await pushDesignDocs(db, docs);
        for (const result of results) {
          print(`${name} ${result.id}: ${describe(result, options.wait === true)}`);
          if (options.wait !== true || result.outcome === 'unchanged') continue;
          const ddoc = result.id.replace(/^_design\//, '');
          for (const view of result.views) {
            const started = Date.now();
            process.stdout.write(`  indexing ${ddoc}/${view} … `);
            await buildIndex(db, ddoc, view);
            print(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
          }
        }
      }
    });
}
