import type { Command } from 'commander';
import { CLIENT_RETRY } from '../db/backoff.js';
import { couchFromConfig } from '../db/couch.js';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import { runId, type RunDoc } from '../model/documents.js';
import { readProcessingInfo } from '../production/info-store.js';
import { followRuns } from '../processing/follow.js';
import { processRuns, type LatePolicy, type ProcessOptions, type ProcessResult } from '../processing/process.js';
import { LATE_POLICIES } from '../processing/late-subfiles.js';

const isLatePolicy = (value: string): value is LatePolicy => (LATE_POLICIES as readonly string[]).includes(value);
import { RAT_VERSION } from '../sites/rat.js';
import { checkLabel, readRunList } from '../submit/request.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';
import { positiveNumber, wholeNumber } from './numbers.js';
import { stopOnSignal } from '../signals.js';
import { runFromProduction } from './process-from-production.js';

interface ProcessCommandOptions extends ConfigOptions {
  run?: string[];
  first?: string;
  last?: string;
  runlist?: string;
  follow?: boolean;
  rat: string;
  prereqPass: string;
  label?: string;
  priority: string;
  dryRun?: boolean;
  interval: string;
  fromProduction?: string;
  module?: string;
  late: string;
}

const runNumber = (option: string, text: string, problems: string[]): number =>
  wholeNumber(option, text, problems, '300000');

async function selectedRuns(db: Database, options: ProcessCommandOptions): Promise<RunDoc[]> {
  let ids: number[] = [];
  if (options.first !== undefined || options.last !== undefined) {
    const problems: string[] = [];
    const first = runNumber('--first', options.first ?? '', problems);
    const last = runNumber('--last', options.last ?? '', problems);
    if (problems.length === 0 && first > last)
      problems.push(`--first ${first} --last ${last}: the first run is after the last (expected --first <= --last)`);
    if (problems.length > 0) throw new InputError(problems);
    const rows = await db.view<number>('runs', 'by_number', { startkey: first, endkey: last });
    ids = rows.rows.map((row) => row.key);
    if (ids.length === 0)
      throw new InputError([
        `--first ${first} --last ${last}: no registered runs in that range (gasp runs add registers them)`,
      ]);
  } else if (options.runlist !== undefined) {
    ids = readRunList(options.runlist);
  } else {
    const problems: string[] = [];
    ids = (options.run ?? []).map((text) => runNumber('-R', text, problems));
    if (problems.length > 0) throw new InputError(problems);
  }
  const found = await db.allDocs<RunDoc>({ keys: ids.map(runId), include_docs: true });
  const docs = found.rows.flatMap((row) => (row.doc ? [row.doc] : []));
  const missing = ids.filter((id) => !docs.some((doc) => doc.run === id));
  if (missing.length > 0)
    throw new InputError(
      missing.map((run) => `run ${run}: not registered in ${db.name} (expected gasp runs add first)`),
    );
  return docs;
}

function printResult(result: ProcessResult, dryRun: boolean): void {
  const byRun = new Map<number, string[]>();
  for (const job of result.jobs) {
    byRun.set(job.run, [
      ...(byRun.get(job.run) ?? []),
      `${job.module} pass ${job.pass}${job.created ? '' : ' (there already)'}`,
    ]);
  }
  for (const [run, jobs] of byRun) print(`run ${run}: ${jobs.join(', ')}`);
  const created = result.jobs.filter((job) => job.created).length;
  print(
    `${dryRun ? 'dry run: would create' : 'created'} ${created} jobs for ${byRun.size} runs; ${result.jobs.length - created} were there already`,
  );
}

/** What is wrong with --from-production's company: no run selection, a module, a label of its own. */
function fromProductionProblems(options: ProcessCommandOptions, selectors: boolean[]): string[] {
  const problems: string[] = [];
  if (selectors.some(Boolean))
    problems.push(
      "--from-production: does not go with -R, --first/--last, -L or --follow (it reads the label's passes)",
    );
  if (options.module === undefined)
    problems.push('--module: is missing (expected the processing module to run over the production output)');
  const fallback = `${options.fromProduction}-${options.module}`;
  const bad: string[] = [];
  if (options.label === undefined && options.module !== undefined) checkLabel('--label', fallback, bad);
  if (bad.length > 0) problems.push(`--label: the default "${fallback}" is not a label (expected --label L)`);
  if (options.label !== undefined && options.label === options.fromProduction)
    problems.push(`--label: "${options.label}" is the production label read (expected a label of its own)`);
  return problems;
}

/** Every problem with the command's options, one line each. */
function optionProblems(options: ProcessCommandOptions): string[] {
  const selectors = [
    options.run !== undefined,
    options.first !== undefined || options.last !== undefined,
    options.runlist !== undefined,
    options.follow === true,
  ];
  const problems: string[] = [];
  if (options.fromProduction !== undefined) problems.push(...fromProductionProblems(options, selectors));
  else if (selectors.filter(Boolean).length !== 1)
    problems.push('runs: choose one of -R RUN, --first A --last B, -L RUNLIST, --follow or --from-production');
  if (options.module !== undefined && options.fromProduction === undefined)
    problems.push('--module: goes with --from-production (run types choose the modules of runs)');
  if (options.follow === true && options.dryRun === true)
    problems.push('--dry-run: does not go with --follow (expected one of them)');
  if (!RAT_VERSION.test(options.rat))
    problems.push(`--rat: "${options.rat}" is not a RAT version (expected x.y.z such as 7.0.8)`);
  if (!isLatePolicy(options.late))
    problems.push(
      `--late: "${options.late}" is not what to do with late subfiles (expected ${LATE_POLICIES.join(' or ')})`,
    );
  if (options.prereqPass !== 'latest' && !/^\d+$/.test(options.prereqPass))
    problems.push(`--prereq-pass: "${options.prereqPass}" is neither latest nor a pass number`);
  checkLabel('--label', options.label, problems);
  wholeNumber('--priority', options.priority, problems, '10', true);
  positiveNumber('--interval', options.interval, problems);
  return problems;
}

export function registerProcess(program: Command): void {
  program
    .command('process')
    .description('create processing jobs for runs: the modules of each run type, prerequisites on the same run')
    .option('-R, --run <number...>', 'these runs')
    .option('--first <run>', 'runs from this one…')
    .option('--last <run>', '…to this one')
    .option('-L, --runlist <file>', 'runs listed in a file, one per line')
    .option('--follow', 'keep watching for new runs and create their jobs as they come (Ctrl-C stops)')
    .option('--from-production <label>', "instead of runs: the output of this production label's completed passes")
    .option('--module <name>', 'with --from-production: the processing module to run over it')
    .requiredOption('--rat <version>', 'RAT version whose processing information to use')
    .option('--prereq-pass <pass>', 'which pass of a prerequisite to depend on: latest, or a number', 'latest')
    .option('--label <label>', 'label of the jobs (default: processing-<version>)')
    .option('--priority <n>', 'priority of the jobs', '0')
    .option('--dry-run', 'print what would be created; write nothing')
    .option('--interval <seconds>', 'with --follow: how often to look for new runs', '10')
    .option(
      '--late <what>',
      'raw subfiles that reach a run after its sub_run pass was taken: new-pass (a pass of only them) or ignore',
      'new-pass',
    )
    .addOption(configOption())
    .addHelpText(
      'after',
      '\nExamples:\n  gasp process -R 300000 300001 --rat 7.0.8\n  gasp process --follow --rat 7.0.8 -c config/processing.cfg\n  gasp process --from-production mc-2026-bi214 --module Processing --rat 7.0.8 -c config/production.cfg',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ProcessCommandOptions>();
      const problems = optionProblems(options);
      if (problems.length > 0) throw new InputError(problems);
      if (options.fromProduction !== undefined)
        return runFromProduction({ ...options, fromProduction: options.fromProduction });

      const { config, log } = loadCommandConfig({ mode: 'processing', ...options });
      const stop = options.follow === true ? stopOnSignal({ log }) : undefined;
      const couch = couchFromConfig(config.couchdb, {
        log,
        ...(stop !== undefined && { retry: CLIENT_RETRY, signal: stop.signal }),
      });
      const db = couch.use(config.couchdb.database);
      const info = await readProcessingInfo(db, options.rat, 'gasp processing-info upload for it');
      const processOptions: ProcessOptions = {
        label: options.label ?? `processing-${options.rat}`,
        priority: Number(options.priority),
        prereqPass: options.prereqPass === 'latest' ? 'latest' : Number(options.prereqPass),
        late: options.late as LatePolicy,
        ...(options.dryRun === true && { dryRun: true }),
      };
      if (stop !== undefined) {
        await followRuns(db, info, {
          ...processOptions,
          intervalMs: Number(options.interval) * 1000,
          signal: stop.signal,
          log,
          onProcessed: (_runs, result) => printResult(result, false),
        });
        return;
      }
      const result = await processRuns(db, await selectedRuns(db, options), info, processOptions);
      for (const line of result.skipped) log.warn(line);
      printResult(result, options.dryRun === true);
    });
}
