import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import type { Pass } from '../model/documents.js';
import type { PassStatus } from '../model/status.js';
import { cancel, deletePass, retry, type Outcome } from '../passes/transitions.js';
import { readSelection, selectionOptions, type SelectionOptions } from '../shifter/selection.js';
import {
  auditOutcome,
  describeOutcome,
  describePreview,
  readAudit,
  runTool,
  whoAmI,
  writeAudit,
  type ToolResult,
} from '../shifter/tool.js';
import { unlockSite } from '../shifter/unlock.js';
import { keepWhileOldClientsRun } from '../shifter/switch-over.js';
import { describePurge, purgeStorage, removeData } from '../shifter/delete.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { wholeNumber } from './numbers.js';
import { plural } from '../words.js';
import { registerVerify } from './verify.js';

interface ToolOptions extends ConfigOptions, SelectionOptions {
  yes?: boolean;
  json?: boolean;
  purgeStorage?: boolean;
}

interface ToolSpec {
  name: string;
  description: string;
  defaults: readonly PassStatus[];
  example: string;
  /** The transition applying makes on each selected pass (src/passes/transitions.ts). */
  transition: (pass: Pass, now: Date) => Outcome;
  /** Options of this tool only. */
  options?: (command: Command) => Command;
  /** More work on the passes that changed; returns lines to print. */
  after?: (db: Database, landed: ToolResult['landed'], options: ToolOptions) => Promise<string[]>;
  /** Lines the preview adds (without --yes), of the selected passes. */
  preview?: (db: Database, selected: ToolResult['selected'], options: ToolOptions) => Promise<string[]>;
  /** Work before the transition, on the passes it changes; those in `keep` are left as they are, and the command exits 1. */
  before?: (
    db: Database,
    changing: ToolResult['selected'],
    options: ToolOptions,
    now: Date,
  ) => Promise<{ keep: ReadonlySet<string>; reason: string; lines: string[] }>;
}

/** A tool over the selection language: preview by default, change with --yes, audit what changed. */
function registerTool(program: Command, spec: ToolSpec): void {
  const command = program.command(spec.name).description(spec.description);
  (spec.options ?? ((same: Command) => same))(selectionOptions(command, spec.defaults))
    .option('--yes', 'apply the change (without it: only the preview)')
    .option('--json', 'print the preview and the result as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      `\nWithout --yes nothing changes: it prints how many passes match, by status and module, and the first rows.\n\nExample:\n  ${spec.example}`,
    )
    .action(async (_options: unknown, cmd: Command) => {
      const options = cmd.optsWithGlobals<ToolOptions>();
      const problems: string[] = [];
      const selection = readSelection(options, spec.defaults, problems);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const { yes, json, config: _config, mode: _mode, logLevel: _level, ...given } = options;
      const now = new Date();
      const more: string[] = [];
      const before = spec.before;
      const held =
        before &&
        (async (changing: ToolResult['selected']) => {
          const done = await before(db, changing, options, now);
          more.push(...done.lines);
          if (done.keep.size > 0) process.exitCode = 1;
          return done;
        });
      const { landed, selected, ...result } = await runTool(
        db,
        log,
        spec.name,
        given,
        selection,
        yes === true,
        (pass) => spec.transition(pass, now),
        held,
      );
      if (spec.after !== undefined && landed.length > 0) more.push(...(await spec.after(db, landed, options)));
      const previewed =
        !result.applied && spec.preview !== undefined && selected.length > 0
          ? await spec.preview(db, selected, options)
          : [];
      if (json === true) {
        print(
          JSON.stringify(
            { ...result, ...(more.length + previewed.length > 0 && { more: [...previewed, ...more] }) },
            null,
            2,
          ),
        );
        return;
      }
      for (const line of [...describePreview(spec.name, result.preview), ...previewed]) print(line);
      const outcome = describeOutcome(spec.name, result);
      if (outcome !== undefined) print(outcome);
      for (const line of more) print(line);
    });
}

export function registerShifterTools(program: Command): void {
  registerTool(program, {
    name: 'retry',
    description:
      'put failed passes back to waiting, as new attempts (their history stays); the last pass of each job unless told',
    defaults: ['failed', 'partFail'],
    example: 'gasp retry --label mc-2026-bi214 --status failed --yes',
    transition: retry,
    // a pass GASP's client made a Ganga job for waits until that client is surely gone
    before: (db, changing, _options, now) => keepWhileOldClientsRun(db, changing, now),
  });
  registerTool(program, {
    name: 'cancel',
    description:
      'cancel passes: waiting ones at once; submitted or running ones are stopped in their backend by the site that holds them',
    defaults: ['waiting', 'submitted', 'running'],
    example: 'gasp cancel --module Water* --run 300000-300100 --yes',
    transition: cancel,
  });
  registerTool(program, {
    name: 'delete',
    description: 'mark passes deleted and remove their data documents; storage files stay unless --purge-storage',
    defaults: ['waiting', 'completed', 'failed', 'partFail', 'unsatisfied', 'canceled'],
    example: 'gasp delete --label mc-2026-test --yes',
    options: (command) =>
      command.option(
        '--purge-storage',
        "also remove the output files their data documents name: root:// on the SE, file:// here (after the preview; a copy command's storage is never touched)",
      ),
    // a held pass is refused: cancel it first, so no site records outputs for a deleted pass
    transition: deletePass,
    preview: async (db, selected, options) =>
      options.purgeStorage === true ? [await describePurge(db, selected)] : [],
    // files first: a pass whose files could not all be removed stays, with its data documents
    before: async (db, changing, options, now) =>
      options.purgeStorage === true
        ? { ...(await purgeStorage(db, changing, now)), reason: 'its storage files could not all be removed' }
        : { keep: new Set(), reason: '', lines: [] },
    after: async (db, landed, options) => {
      const removed = await removeData(db, landed);
      return [
        `delete: removed ${plural(removed, 'data document')}${options.purgeStorage === true ? '' : '; storage files kept (--purge-storage removes them)'}`,
      ];
    },
  });
  registerVerify(program);
  registerUnlock(program);
  registerAudit(program);
}

/** `gasp unlock SITE`: a dead site's claims back to waiting. */
function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description("release a dead site's claims: its submitted and running passes go back to waiting for any site")
    .argument('<site>', 'the site whose claims to release')
    .option('--force', "even while the site's client is alive (its jobs may still run: they could run twice)")
    .option('--yes', 'apply (without it: only how many passes the site holds)')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      "\nRefuses while the site's heartbeat is fresh ([coordination] stale), naming its host and pid.\n\nExample:\n  gasp unlock ral --yes",
    )
    .action(async (site: string, _options: unknown, cmd: Command) => {
      const options = cmd.optsWithGlobals<ConfigOptions & { force?: boolean; yes?: boolean }>();
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const result = await unlockSite(db, log, site, {
        staleSeconds: config.coordination.staleSeconds,
        force: options.force === true,
        apply: options.yes === true,
        who: whoAmI(),
      });
      const old =
        result.oldClient === 0
          ? ''
          : `; ${plural(result.oldClient, 'pass', 'passes')} under GASP's client (no gasp claim) left to it`;
      if (options.yes !== true) {
        print(
          `unlock: site ${site} holds ${plural(result.held, 'pass', 'passes')}${old}${result.held > 0 ? '; nothing changed: add --yes to release them' : ''}`,
        );
        return;
      }
      await writeAudit(
        db,
        'unlock',
        { site, ...(options.force === true && { force: true }) },
        { selected: result.held, changed: result.released },
      );
      print(
        `unlock: released ${result.released} of ${plural(result.held, 'pass', 'passes')} of site ${site}${old}; recorded in the audit`,
      );
    });
}

/** `gasp audit`: what the shifter tools changed. */
function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'list the changes shifter tools applied: who, when, which selection, and what each did (how many passes it changed, or in words)',
    )
    .option('-n, --last <n>', 'how many records, newest first', '20')
    .option('--json', 'print the records as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExample:\n  gasp audit -n 50')
    .action(async (_options: unknown, cmd: Command) => {
      const options = cmd.optsWithGlobals<ConfigOptions & { last: string; json?: boolean }>();
      const problems: string[] = [];
      const last = wholeNumber('--last', options.last, problems);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const records = await readAudit(db, last);
      if (options.json === true) {
        print(JSON.stringify(records, null, 2));
        return;
      }
      if (records.length === 0) print(`no shifter tool has changed anything in ${db.name}`);
      for (const record of records) {
        const selection = Object.entries(record.selection)
          .map(
            ([key, value]) =>
              `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`).replaceAll('_', '-')}${value === true ? '' : ` ${String(value)}`}`,
          )
          .join(' ');
        print(`${record.when}  ${record.who}  ${record.tool} ${selection}: ${auditOutcome(record)}`);
      }
    });
}
