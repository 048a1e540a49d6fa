import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { writeOutputFile } from '../files.js';
import { formatExactly, type ExactlyLine } from '../submit/exactly.js';
import { InputError } from '../errors.js';
import { unknownLabel } from '../shifter/selection.js';
import { checkLabel } from '../submit/request.js';
import { plural } from '../words.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

export function registerExactly(program: Command): void {
  program
    .command('exactly')
    .description('write the .exactly file of a label from the database (one line per job: module<TAB>run<TAB>pass)')
    .requiredOption('--label <label>', 'the label whose jobs to list')
    .option('-o, --output <file>', 'file to write, or - for standard output (default: <label>.exactly)')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExample:\n  gasp exactly --label mc-2026-bi214 -o bi214.exactly')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { label: string; output?: string }>();
      const problems: string[] = [];
      checkLabel('--label', options.label, problems);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const rows = await db.view<[string, string, number, number]>('jobs', 'by_label', {
        startkey: [options.label],
        endkey: [options.label, {}],
      });
      const lines: ExactlyLine[] = rows.rows.map((row) => ({ module: row.key[1], run: row.key[2], pass: row.key[3] }));
      // no pass has it: a typo, and an empty file would pass for a label with nothing to list
      const badLabel = lines.length === 0 ? await unknownLabel(db, '--label', options.label) : undefined;
      if (badLabel !== undefined) throw new InputError([badLabel]);
      const text = formatExactly(lines);
      const output = options.output ?? `${options.label}.exactly`;
      writeOutputFile(output, text);
      if (output !== '-') print(`${output}: ${plural(lines.length, 'job')} with label ${options.label} in ${db.name}`);
    });
}
