import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { readJsonFile } from '../json-file.js';
import { addRuns, parseRuns } from '../processing/runs.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';
import { registerRunsWatch } from './runs-watch.js';

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('detector runs, from which processing jobs are made');
  runs
    .command('add')
    .description('register runs (run number, run type, raw subfiles with size and checksum); a changed run is updated')
    .argument(
      '<file>',
      'JSON: one run {"run", "run_type", "subfiles": [{"name", "size", "checksum"}]} or a list of them; - for standard input',
    )
    .addOption(configOption())
    .addHelpText('after', '\nExamples:\n  gasp runs add runs.json\n  run-catalogue --json | gasp runs add -')
    .action(async (file: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions>();
      const source = file === '-' ? 'stdin' : file;
      const parsed = parseRuns(readJsonFile(file, 'a run {"run", "run_type", "subfiles"} or a list of runs'), source);
      const { config, log } = loadCommandConfig({ mode: 'processing', ...options });
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const outcomes = await addRuns(db, parsed);
      for (const { run, outcome } of outcomes) print(`run ${run}: ${outcome}`);
      const count = (outcome: string) => outcomes.filter((item) => item.outcome === outcome).length;
      print(`${count('added')} added, ${count('updated')} updated, ${count('unchanged')} unchanged in ${db.name}`);
    });
  registerRunsWatch(runs);
}
