import type { Command } from 'commander';
import { CLIENT_RETRY } from '../db/backoff.js';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { openRawSource } from '../processing/raw-source.js';
import { knownRunTypes, watchSource } from '../processing/watch.js';
import { stopOnSignal } from '../signals.js';
import { configOption, loadCommandConfig, type ConfigOptions } from './context.js';
import { positiveNumber } from './numbers.js';

interface WatchCommandOptions extends ConfigOptions {
  interval: string;
  settle: string;
  once?: boolean;
}

export function registerRunsWatch(runs: Command): void {
  runs
    .command('watch')
    .description(
      'register runs from raw files arriving in a folder, here or on an XRootD storage element (root://): a file is registered once its size stays the same between two polls, a run is complete after its closing file or --settle seconds without a new subfile',
    )
    .argument(
      '<source>',
      "where the detector writes raw subfiles: a folder, file:///path, or root://HOST:PORT//path (read with xrdfs and xrdcp; checksums are the SE's adler32)",
    )
    .option('--interval <seconds>', 'how often to look at the folder', '60')
    .option('--settle <seconds>', 'a run with no new subfile for this long is complete', '600')
    .option('--once', 'look twice, --interval apart, register what is stable, and stop')
    .addOption(configOption())
    .addHelpText(
      'after',
      '\nExamples:\n  gasp runs watch /data/raw -c config/processing.cfg\n  gasp runs watch file:///data/raw --once --interval 5\n  gasp runs watch root://se.example.org:1094//snoplus/raw -c config/processing.cfg',
    )
    .action(async (source: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<WatchCommandOptions>();
      const problems: string[] = [];
      const interval = positiveNumber('--interval', options.interval, problems);
      const settle = positiveNumber('--settle', options.settle, problems);
      if (problems.length > 0) throw new InputError(problems);
      const raw = await openRawSource(source);
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
      await watchSource(
        db,
        raw,
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
