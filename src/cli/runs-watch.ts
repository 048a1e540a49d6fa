import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CLIENT_RETRY } from '../db/backoff.js';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { knownRunTypes, watchFolder } from '../processing/watch.js';
import { stopOnSignal } from '../signals.js';
import { configOption, loadCommandConfig, type ConfigOptions } from './context.js';
import { positiveNumber } from './numbers.js';

interface WatchCommandOptions extends ConfigOptions {
  interval: string;
  settle: string;
  once?: boolean;
}

/** The folder SOURCE names, readable now; one line of bad input otherwise. */
function sourceFolder(source: string): string {
  if (/^root:\/\//i.test(source))
    throw new InputError([`${source}: root:// sources are not built yet (expected a local folder or file:// path)`]);
  if (/^[a-z][\w+.-]*:\/\//i.test(source) && !source.startsWith('file://'))
    throw new InputError([`${source}: not a source gasp can watch (expected a local folder or file:// path)`]);
  const folder = source.startsWith('file://') ? fileURLToPath(source) : source;
  try {
    readdirSync(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError([`${source}: cannot read the folder (${code}) (expected a readable folder of raw files)`]);
  }
  return folder;
}

export function registerRunsWatch(runs: Command): void {
  runs
    .command('watch')
    .description(
      'register runs from raw files arriving in a folder: a file is registered once its size stays the same between two polls, a run is complete after its closing file or --settle seconds without a new subfile',
    )
    .argument('<source>', 'a folder (or file:// path) where the detector writes raw subfiles')
    .option('--interval <seconds>', 'how often to look at the folder', '60')
    .option('--settle <seconds>', 'a run with no new subfile for this long is complete', '600')
    .option('--once', 'look twice, --interval apart, register what is stable, and stop')
    .addOption(configOption())
    .addHelpText(
      'after',
      '\nExamples:\n  gasp runs watch /data/raw -c config/processing.cfg\n  gasp runs watch file:///data/raw --once --interval 5',
    )
    .action(async (source: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<WatchCommandOptions>();
      const problems: string[] = [];
      const interval = positiveNumber('--interval', options.interval, problems);
      const settle = positiveNumber('--settle', options.settle, problems);
      if (problems.length > 0) throw new InputError(problems);
      const folder = sourceFolder(source);
      const { config, log } = loadCommandConfig({ mode: 'processing', ...options });
      const stop = options.once === true ? undefined : stopOnSignal({ log });
      const db = couchFromConfig(config.couchdb, {
        log,
        ...(stop !== undefined && { retry: CLIENT_RETRY, signal: stop.signal }),
      }).use(config.couchdb.database);
      const known = await knownRunTypes(db);
      const runType = config.processing.runType;
      if (known === undefined) log.warn(`no processing information in ${db.name} yet: run types are not checked`);
      else if (!known.has(runType))
        throw new InputError([
          `${config.file}: [processing] run_type: "${runType}" names none of the processing information's run types (expected one of ${[...known].join(', ')})`,
        ]);
      await watchFolder(
        db,
        folder,
        { patterns: config.processing, settleMs: settle * 1000, ...(known !== undefined && { knownRunTypes: known }) },
        {
          intervalMs: interval * 1000,
          signal: stop?.signal ?? new AbortController().signal,
          log,
          once: options.once === true,
        },
      );
      stop?.done();
    });
}
