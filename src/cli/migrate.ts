import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { MIGRATE_PAGE, migrateDataDocs, type Migration } from '../shifter/migrate.js';
import { plural } from '../words.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { progressBar } from './progress.js';

/** The documents no job document gives a RAT version, if any: left as they are. */
function unversionedLines({ unversioned, unversionedIds }: Migration): string[] {
  if (unversioned === 0) return [];
  const lines = [
    `migrate: ${plural(unversioned, 'data document')} without a RAT version that no job document gives (left so; GridTools' lists by RAT version leave them out)`,
    ...unversionedIds.map((id) => `  ${id}`),
  ];
  if (unversioned > unversionedIds.length) lines.push(`  … and ${unversioned - unversionedIds.length} more`);
  return lines;
}

function describe(migration: Migration): string[] {
  const { read, older, ids } = migration;
  if (older === 0)
    return [
      `migrate: ${plural(read, 'data document')} read, all in the current form: nothing to do`,
      ...unversionedLines(migration),
    ];
  const lines = [
    `migrate: ${older} of ${plural(read, 'data document')} in an older form: each gets what it lacks of its pass's RAT version (from the job document) and, for each file, its LFN and its URL as a replica; GUIDs, checksums and URLs stay`,
    ...ids.map((id) => `  ${id}`),
  ];
  if (older > ids.length) lines.push(`  … and ${older - ids.length} more`);
  lines.push(...unversionedLines(migration));
  if (!migration.applied)
    return [...lines, `nothing changed: add --yes to migrate ${older === 1 ? 'it' : `these ${older}`}`];
  const audited = migration.written > 0 ? '; recorded in the audit' : '';
  lines.push(`migrate: wrote ${migration.written} of ${plural(older, 'data document')}${audited}`);
  for (const { id, reason } of migration.unwritten) lines.push(`migrate: ${id} not written: ${reason}`);
  return lines;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      'bring data documents written by older versions to the current catalogue form (RAT version; LFN and replicas per file)',
    )
    .option('--yes', 'write the changes (without it: only how many documents would change)')
    .option('--json', 'print the result as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      `
Every gasp command reads older data documents as if migrated already; this writes them, so tools
that read the database directly (GridTools) see the current form too. Only data documents change: each
gains its pass's RAT version from the job document, and each file keeps its GUID, checksums and URL,
and gains its LFN and that URL as its one replica. Written ${MIGRATE_PAGE} at a time; a document
changed meanwhile is read again. Run it again at any time: a second run finds nothing to do.

Example:
  gasp migrate            # how many would change
  gasp migrate --yes`,
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { yes?: boolean; json?: boolean }>();
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const bar = progressBar('migrate');
      let migration: Migration;
      try {
        migration = await migrateDataDocs(db, options.yes === true, (read, total) => {
          if (total > MIGRATE_PAGE) bar.update(read, total);
        });
      } finally {
        bar.stop();
      }
      if (migration.unwritten.length > 0) process.exitCode = 1;
      if (options.json === true) print(JSON.stringify(migration, null, 2));
      else for (const line of describe(migration)) print(line);
    });
}
