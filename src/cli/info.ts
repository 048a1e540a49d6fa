import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { NotFoundError } from '../db/errors.js';
import { InputError } from '../errors.js';
import { processingInfoId, productionInfoId, type ProcessingInfoDoc } from '../model/documents.js';
import { describeProcessingModule, unhandledOutputs } from '../production/ganga-outputs.js';
import { storeInfoDoc, type InfoDoc } from '../production/info-store.js';
import { loadProcessingInfo } from '../production/processing-info.js';
import type { Mode } from '../config/config.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { printStoreResult } from './make-production.js';

interface InfoKind {
  command: string;
  what: string;
  mode: Mode;
  idFor: (version: string) => string;
  view: string;
}

const PRODUCTION: InfoKind = {
  command: 'production-info',
  what: 'production information',
  mode: 'production',
  idFor: productionInfoId,
  view: 'production_by_version',
};
const PROCESSING: InfoKind = {
  command: 'processing-info',
  what: 'processing information',
  mode: 'processing',
  idFor: processingInfoId,
  view: 'processing_by_version',
};

function databaseFor(kind: InfoKind, options: ConfigOptions) {
  const { config, log } = loadCommandConfig({ mode: kind.mode, ...options });
  return { db: couchFromConfig(config.couchdb, { log }).use(config.couchdb.database), log };
}

/** `show VERSION [--module M]` and `list`, the same for both kinds of information. */
function registerReaders(parent: Command, kind: InfoKind): void {
  parent
    .command('show')
    .description(`print the ${kind.what} document for a RAT version as JSON`)
    .argument('<version>', 'RAT version, such as 7.0.8')
    .option('--module <name>', 'only this module')
    .addOption(configOption())
    .addHelpText(
      'after',
      `\nExample:\n  gasp ${kind.command} show 7.0.8 --module ${kind === PRODUCTION ? 'TeloadedPeryleneBi214' : 'Analysis'}`,
    )
    .action(async (version: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { module?: string }>();
      const { db } = databaseFor(kind, options);
      let doc: InfoDoc;
      try {
        doc = await db.get<InfoDoc>(kind.idFor(version));
      } catch (error) {
        if (error instanceof NotFoundError)
          throw new InputError([
            `${kind.what} for RAT ${version}: not in ${db.name} (gasp ${kind.command} list shows what is)`,
          ]);
        throw error;
      }
      if (options.module === undefined) {
        print(JSON.stringify(doc, null, 2));
        return;
      }
      const module = doc.modules[options.module];
      if (module === undefined) {
        throw new InputError([
          `--module: "${options.module}" is not in the ${kind.what} for RAT ${version} (expected one of ${Object.keys(doc.modules).join(', ')})`,
        ]);
      }
      print(JSON.stringify({ [options.module]: module }, null, 2));
    });
  parent
    .command('list')
    .description(`list the RAT versions that have ${kind.what}, with their module counts`)
    .addOption(configOption())
    .addHelpText('after', `\nExample:\n  gasp ${kind.command} list`)
    .action(async (_options: unknown, command: Command) => {
      const { db } = databaseFor(kind, command.optsWithGlobals<ConfigOptions>());
      const result = await db.view<string, number>('info', kind.view);
      if (result.rows.length === 0) print(`no ${kind.what} in ${db.name}`);
      for (const row of result.rows) print(`${row.key}  ${row.value} modules  (${row.id ?? ''})`);
    });
}

/** One line per output a module names that gasp does not handle, and what gasp does instead. */
function printUnhandled(file: string, doc: ProcessingInfoDoc): void {
  for (const line of unhandledOutputs(doc)) print(`${file}: not handled: ${line}`);
}

export function registerInfo(program: Command): void {
  const production = program
    .command(PRODUCTION.command)
    .description('read production-information documents (made by make-production)');
  registerReaders(production, PRODUCTION);

  const processing = program
    .command(PROCESSING.command)
    .description('check, upload and read processing-information documents');
  processing
    .command('check')
    .description('validate a processing-information file: levels, prerequisites (existing, no cycles), run types')
    .argument('<file>', 'processing_information_<x>_<y>_<z>.py (as SNO+ writes it) or .json')
    .addHelpText(
      'after',
      '\nPrints each module (type, path, level, outputs, prerequisites, nhit_cut, ganga outputs) and a line for each output gasp does not handle.\n\nExample:\n  gasp processing-info check processing_information_6_0_1.py',
    )
    .action((file: string) => {
      const doc = loadProcessingInfo(file);
      print(
        `${file}: OK: RAT ${doc.rat_version}, ${Object.keys(doc.modules).length} modules, ${Object.keys(doc.run_types).length} run types`,
      );
      for (const [name, module] of Object.entries(doc.modules))
        for (const line of describeProcessingModule(name, module)) print(`  ${line}`);
      printUnhandled(file, doc);
    });
  processing
    .command('upload')
    .description('validate a processing-information file and store it (idempotent: unchanged content writes nothing)')
    .argument('<file>', 'processing_information_<x>_<y>_<z>.py (as SNO+ writes it) or .json')
    .addOption(configOption())
    .addOption(modeOption())
    .option('--dry-run', 'show what would change; write nothing')
    .addHelpText(
      'after',
      '\nThe processing database by default; --mode production stores it in the production database, for gasp process --from-production.\n\nExample:\n  gasp processing-info upload processing_information_6_0_1.py -c config/processing.cfg',
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { dryRun?: boolean }>();
      const doc = loadProcessingInfo(file);
      const { db } = databaseFor(PROCESSING, options);
      const dryRun = options.dryRun === true;
      printStoreResult(db.name, doc, await storeInfoDoc(db, doc, { dryRun }), dryRun);
      printUnhandled(file, doc);
    });
  registerReaders(processing, PROCESSING);
}
