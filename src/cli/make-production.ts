import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { couchFromConfig } from '../db/couch.js';
import { writeOutputFile } from '../files.js';
import type { ProductionModule } from '../model/documents.js';
import type { OutputNaming } from '../model/outputs.js';
import { describeDiff, storeInfoDoc, type InfoDoc, type StoreResult } from '../production/info-store.js';
import { makeProductionInfo } from '../production/production-info.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';

interface MakeProductionOptions extends ConfigOptions {
  version?: string;
  output?: string;
  upload?: boolean;
  dryRun?: boolean;
  phase?: string[];
  internalRate?: string[];
}

/** How the table marks an output the macro does not name itself. */
const NAMING_SHOWN: Readonly<Record<OutputNaming, string>> = {
  macro: '',
  'command line': ' (command line)',
  none: ' (cannot be named)',
};

/** With `-o -` the document is standard output, so what the command says goes to stderr. */
const toStderr = (line = '') => void process.stderr.write(`${line}\n`);

function printModules(modules: Record<string, ProductionModule>, say: typeof print): void {
  const rows = Object.entries(modules).map(([name, module]) => [
    name,
    module.event_mode,
    module.outputs.map((output) => `${output}${NAMING_SHOWN[module.output_naming?.[output] ?? 'macro']}`).join(', '),
    module.template.map((field) => `\${${field}}`).join(' '),
  ]);
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  for (const row of rows)
    say(
      `  ${row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd()}`,
    );
}

/** Prints what storing an information document did (or would do), one line per changed module. */
export function printStoreResult(
  database: string,
  doc: InfoDoc,
  result: StoreResult,
  dryRun: boolean,
  say = print,
): void {
  const verb = dryRun && result.outcome !== 'unchanged' ? `would be ${result.outcome}` : result.outcome;
  say(`${database} ${doc._id}: ${verb}`);
  for (const line of describeDiff(result.diff)) say(`  ${line}`);
}

export function registerMakeProduction(program: Command): void {
  program
    .command('make-production')
    .description("scan a RAT release's production macros and write its production-information document")
    .argument('<ratdir>', 'the RAT release folder (such as $RATROOT)')
    .option('--version <version>', "RAT version (default: the release's VERSION file, else its folder name)")
    .addOption(configOption())
    .option(
      '-o, --output <file>',
      'file to write, or - for standard output (default: production_information_<x>_<y>_<z>.json)',
    )
    .option('--upload', 'store the document in the database (idempotent: unchanged content writes nothing)')
    .option('--dry-run', 'show what would be written and uploaded; write nothing')
    .option('--phase <name...>', 'scan this phase folder too, this time only')
    .option('--internal-rate <generator...>', 'treat this generator as setting its own rate, this time only')
    .addHelpText(
      'after',
      '\nExamples:\n  gasp make-production $RATROOT --upload\n  gasp make-production $RATROOT -o - | jq .modules\n  gasp make-production /cvmfs/snoplus.egi.eu/sw/7.0.9/rat-7.0.9 --phase bismsb --dry-run --upload',
    )
    .action(async (ratDir: string, _options: MakeProductionOptions, command: Command) => {
      const options = command.optsWithGlobals<MakeProductionOptions>();
      if (options.output !== undefined && !existsSync(dirname(resolve(options.output)))) {
        throw new InputError([
          `-o: the folder of "${options.output}" does not exist (expected a file in an existing folder)`,
        ]);
      }
      const { config, log: rootLog } = loadCommandConfig(options);
      const log = rootLog.child({ component: 'make-production' });
      const made = makeProductionInfo({
        ratDir,
        production: config.production,
        ...(options.version !== undefined && { version: options.version }),
        ...(options.phase !== undefined && { extraPhases: options.phase }),
        ...(options.internalRate !== undefined && { extraInternalRate: options.internalRate }),
      });
      for (const warning of made.warnings) log.warn(warning);
      const { doc } = made;
      const names = Object.keys(doc.modules);
      const output = options.output ?? `${doc._id}.json`;
      const say = output === '-' ? toStderr : print;
      say(`RAT ${made.version.version} (from ${made.version.source})`);
      say(`read ${made.macrosRead} macros: ${names.length} modules`);
      printModules(doc.modules, say);
      const dryRun = options.dryRun === true;
      if (dryRun) {
        say(`dry run: would write ${output === '-' ? 'the document to standard output' : output}`);
      } else {
        writeOutputFile(output, `${JSON.stringify(doc, null, 2)}\n`);
        if (output !== '-') say(`wrote ${output}`);
      }
      if (options.upload === true) {
        const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
        printStoreResult(db.name, doc, await storeInfoDoc(db, doc, { dryRun }), dryRun, say);
      }
    });
}
