import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { PASS_STATUSES } from '../model/status.js';
import { readSelection, type Selection } from '../shifter/selection.js';
import { whyWaiting, type WhyRow } from '../shifter/why.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { plural } from '../words.js';
import { notificationLine } from '../shifter/notifications.js';

const ROWS_SHOWN = 10;

export function registerWhy(program: Command): void {
  program
    .command('why')
    .description(
      'why passes do not run: for a waiting pass, the reason at every active site, by the same rules the client decides with; for a held pass, whether its site is alive; for an ended pass of MODULE RUN, how it ended (where, exit code, reason)',
    )
    .argument('[module]', 'a module (with RUN): that job only')
    .argument('[run]', 'its run number')
    .argument('[pass]', 'one pass of it (default: its last)')
    .option('--label <label>', 'every waiting pass of a label')
    .option('--json', 'print the reasons as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      '\nSites say what they can run in their heartbeats (RAT versions, modes, max_jobs, paused labels).\n\nExamples:\n  gasp why --label mc-2026-bi214\n  gasp why TeloadedBi214 300001',
    )
    .action(
      async (
        module: string | undefined,
        run: string | undefined,
        pass: string | undefined,
        _options: unknown,
        command: Command,
      ) => runWhy({ module, run, pass }, command.optsWithGlobals<WhyOptions>()),
    );
}

interface WhyOptions extends ConfigOptions {
  label?: string;
  json?: boolean;
}

/** The arguments: MODULE RUN [PASS], each may be missing. */
interface WhyJob {
  module: string | undefined;
  run: string | undefined;
  pass: string | undefined;
}

/** The passes asked about: a label's, or one job's; every problem at once. */
function whySelection({ module, run, pass }: WhyJob, options: WhyOptions): Selection {
  const problems: string[] = [];
  if ((options.label === undefined) === (module === undefined))
    problems.push('why: give --label L, or MODULE RUN [PASS] (one of them)');
  if (module !== undefined && (run === undefined || !/^\d+$/.test(run)))
    problems.push(`why: "${run ?? ''}" is not a run number (expected MODULE RUN [PASS])`);
  if (problems.length > 0) throw new InputError(problems);
  // one job: whatever its pass's status, say it (a failed one, how it failed); a label: what is still to run,
  // and what an old GASP client left half-way
  const statuses = module === undefined ? (['waiting', 'new', 'submitted', 'running'] as const) : PASS_STATUSES;
  const selection = readSelection(
    {
      ...(options.label !== undefined && { label: options.label }),
      ...(module !== undefined && { module, run: run ?? '' }),
      ...(pass !== undefined && { pass }),
    },
    statuses,
    problems,
  );
  if (problems.length > 0) throw new InputError(problems);
  return selection;
}

async function runWhy(job: WhyJob, options: WhyOptions): Promise<void> {
  const selection = whySelection(job, options);
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const answer = await whyWaiting(db, config.client.mode, selection, config.coordination.staleSeconds);
  if (options.json === true) {
    print(JSON.stringify(answer, null, 2));
    return;
  }
  for (const line of answer.global) print(line);
  for (const last of answer.notifications) print(notificationLine(last));
  const told = printEnded([...answer.ended, ...answer.held]);
  if (answer.rows.length === 0) {
    if (!told)
      print(
        job.module === undefined
          ? 'no waiting pass matches'
          : `no pass of ${job.module} run ${job.run ?? ''} in ${db.name}`,
      );
    return;
  }
  printWaiting(answer.rows);
}

/** The first few passes of a group, as `M R pass P, …`. */
const firstRows = (rows: ReadonlyArray<{ module: string; run: number; pass: number }>) =>
  `${rows
    .slice(0, ROWS_SHOWN)
    .map((row) => `${row.module} ${row.run} pass ${row.pass}`)
    .join(', ')}${rows.length > ROWS_SHOWN ? ', …' : ''}`;

/** Ended and held passes, a line per reason; whether there was any. */
function printEnded(rows: ReadonlyArray<{ module: string; run: number; pass: number; reason: string }>): boolean {
  const byReason = new Map<string, Array<{ module: string; run: number; pass: number }>>();
  for (const row of rows) byReason.set(row.reason, [...(byReason.get(row.reason) ?? []), row]);
  for (const [reason, same] of byReason)
    print(`${plural(same.length, 'pass', 'passes')} (${firstRows(same)}) ${reason}`);
  return byReason.size > 0;
}

/** Waiting passes with the same reasons together: a label of 10,000 passes reads as a few groups. */
function printWaiting(rows: readonly WhyRow[]): void {
  const groups = new Map<string, WhyRow[]>();
  for (const row of rows) groups.set(row.reasons.join('\n'), [...(groups.get(row.reasons.join('\n')) ?? []), row]);
  for (const [reasons, same] of groups) {
    print(`${same.length} waiting ${same.length === 1 ? 'pass' : 'passes'} (${firstRows(same)}):`);
    for (const reason of reasons === '' ? ['no active site to judge by'] : reasons.split('\n')) print(`  ${reason}`);
  }
}
