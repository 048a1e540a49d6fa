import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import { InputError, InterruptedError } from '../errors.js';
import { addJobsToExactly, checkExactlyTarget, exactlyFileFor } from '../submit/exactly.js';
import type { PlannedEntry, SubmitPlan } from '../submit/plan.js';
import { submitLike } from '../submit/like.js';
import { checkLabel } from '../submit/request.js';
import { submitRequestFile, type PlannedRequest } from '../submit/submit.js';
import type { SubmitResult, SubmittedJob, WriteStart } from '../submit/write.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';
import { wholeNumber } from './numbers.js';
import { progressBar } from './progress.js';
import { plural } from '../words.js';
import { stopOnSignal } from '../signals.js';
import { labelText, mainLabel } from '../model/label.js';

interface SubmitOptions extends ConfigOptions {
  runlist?: string;
  ratdbTag?: string;
  outlist?: string;
  priority?: string;
  dryRun?: boolean;
  testingNodb?: boolean;
  json?: boolean;
  requestId?: string;
  newPass?: boolean;
  productionInfo?: string;
  like?: string[];
  label?: string;
}

function describeAmount(entry: PlannedEntry): string {
  const events = entry.jobs.reduce((sum, job) => sum + (job.amount.events ?? 0), 0);
  const seconds = entry.jobs.reduce((sum, job) => sum + (job.amount.seconds ?? 0), 0);
  if (entry.eventMode === 'time') return `${plural(seconds / 86_400, 'day')} of live time`;
  if (entry.eventMode === 'run') return `${entry.jobs[0]?.amount.repeats ?? 1}× each run`;
  return `${events} events`;
}

function describeRuns(jobs: readonly SubmittedJob[]): string {
  const runs = jobs.map((job) => job.run).sort((a, b) => a - b);
  if (runs.length === 0) return 'no runs';
  const first = runs[0] ?? 0;
  const last = runs.at(-1) ?? 0;
  return runs.length === 1
    ? `run ${first}`
    : last - first + 1 === runs.length
      ? `runs ${first}–${last}`
      : `${runs.length} runs ${first}…${last}`;
}

const labelsOf = (plan: SubmitPlan) => [...new Set(plan.entries.map((entry) => entry.label))];

/** Before anything is written: the request, where its default label came from, and (unless a dry run, which prints it all after) jobs per module and label. */
function printAhead(file: string, plan: SubmitPlan, request: PlannedRequest, dryRun: boolean): void {
  print(
    `${file}: request ${request.requestId}, RAT ${plan.ratVersion}${plan.ratdbTag === undefined ? '' : `, ratdb tag ${plan.ratdbTag}`}`,
  );
  const { defaultLabel } = request;
  if (defaultLabel !== undefined && defaultLabel.from !== 'option') {
    const why =
      defaultLabel.from === 'generated'
        ? 'made from the file name and the request id; --label L names them'
        : 'the one this request was first submitted with';
    print(`label ${defaultLabel.label} for the entries that name none (${why})`);
  }
  if (dryRun) return;
  const groups = new Map<string, number>();
  for (const entry of plan.entries)
    groups.set(
      `${entry.module}, label ${entry.label}`,
      (groups.get(`${entry.module}, label ${entry.label}`) ?? 0) + entry.jobs.length,
    );
  const total = plan.entries.reduce((sum, entry) => sum + entry.jobs.length, 0);
  const labels = labelsOf(plan);
  print(`plan: ${plural(total, 'job')}, label${labels.length === 1 ? '' : 's'} ${labels.join(', ')}`);
  for (const [group, jobs] of groups) print(`  ${group}: ${plural(jobs, 'job')}`);
}

function printStart(start: WriteStart, database: string): void {
  const missing = start.total - start.present;
  if (missing === 0) return;
  const earlier = start.present > 0 ? ` (${start.present} of ${start.total} are there from an earlier run)` : '';
  print(
    `writing ${plural(missing, 'job')} to ${database}${earlier}; Ctrl-C stops after the current batch, and running the same command again completes it`,
  );
}

function printPlan(plan: SubmitPlan, result: SubmitResult): void {
  const byEntry = new Map<number, SubmittedJob[]>();
  for (const job of result.jobs) {
    const group = byEntry.get(job.entry);
    if (group === undefined) byEntry.set(job.entry, [job]);
    else group.push(job);
  }
  for (const entry of plan.entries) {
    const jobs = byEntry.get(entry.entry) ?? [];
    const passes = [...new Set(jobs.map((job) => job.pass))].sort((a, b) => a - b).join(', ');
    const template = Object.entries(entry.template)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
    print(
      `  modules[${entry.entry}] ${entry.module}: ${entry.eventMode}, ${plural(entry.jobs.length, 'job')}, ${describeAmount(entry)}, ${describeRuns(jobs)}, pass ${passes}, label ${entry.label}, priority ${entry.priority}${template === '' ? '' : `, ${template}`}`,
    );
  }
  const events = plan.entries.flatMap((entry) => entry.jobs).reduce((sum, job) => sum + (job.amount.events ?? 0), 0);
  const seconds = plan.entries.flatMap((entry) => entry.jobs).reduce((sum, job) => sum + (job.amount.seconds ?? 0), 0);
  print(
    `  total: ${plural(result.jobs.length, 'job')}, ${plural(events, 'event')}, ${plural(seconds / 86_400, 'day')} of live time; RAT ${plan.ratVersion}${plan.ratdbTag === undefined ? '' : `, ratdb tag ${plan.ratdbTag}`}`,
  );
}

async function submitLikeCommand(file: string | undefined, options: SubmitOptions): Promise<void> {
  const [module = '', run = '', pass = '', ...extra] = options.like ?? [];
  const problems: string[] = [];
  if (options.like === undefined) problems.push('submit: give a jobs.json request, or --like MODULE RUN PASS');
  else if (file !== undefined) problems.push(`submit: "${file}" and --like do not go together (expected one of them)`);
  else if (!/^\d+$/.test(run) || !/^[1-9]\d*$/.test(pass) || extra.length > 0)
    problems.push(
      `--like: "${options.like.join(' ')}" is not MODULE RUN PASS (expected such as TeloadedBi214 300001 1)`,
    );
  if (problems.length > 0) throw new InputError(problems);
  const dryRun = options.dryRun === true || options.testingNodb === true;
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const { source, pass: copy } = await submitLike(db, { module, run: Number(run), pass: Number(pass) }, { dryRun });
  const template = Object.entries(source.template ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  const what = `a copy of pass ${source.pass}: RAT ${source.rat_version}, label ${labelText(source.label)}, priority ${source.priority}${source.ratdb_tag === undefined ? '' : `, ratdb tag ${source.ratdb_tag}`}${template === '' ? '' : `, ${template}`}`;
  if (dryRun) {
    print(`dry run: would add ${module} run ${run} pass ${copy}, ${what}; nothing written`);
    return;
  }
  print(`added ${module} run ${run} pass ${copy}, ${what}; waiting`);
  for (const { file: out, added, total } of addJobsToExactly(
    [{ module, run: Number(run), pass: copy, label: mainLabel(source.label) }],
    { ...(options.outlist !== undefined && { output: options.outlist }) },
  )) {
    print(`${out}: ${plural(added, 'job')} added, ${total} in all`);
  }
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description(
      'turn a jobs.json request into job documents (all or nothing; safe to run again) and write an .exactly file',
    )
    .argument('[jobs.json]', 'the request: {"rat_v", "label", "modules": [...]}')
    .addOption(configOption())
    .option('-L, --runlist <file>', 'run numbers (one per line) for run-by-run modules that list none')
    .option(
      '-t, --ratdb-tag <tag>',
      'RATDB tag the jobs run against (one word; the job wrapper sets it in the macro and the manifest records it)',
    )
    .option(
      '--label <label>',
      "label of the entries for which the file names none (an entry's own label, then the file's top-level one, win); without it they get <file name>-<request id>, such as jobs-3f9a2c1b, the same each time the request is submitted",
    )
    .option('-o, --outlist <file>', '.exactly file to add the jobs to (default: <label>.exactly, one per label)')
    .option('--priority <n>', 'priority of every pass, whatever the request says')
    .option('--dry-run', 'print the plan and totals; write nothing')
    .option('--testing-nodb', 'the same as --dry-run (the old name)')
    .option('--json', 'print the result as JSON')
    .option('--request-id <id>', 'name the request (default: derived from its content and options)')
    .option('--new-pass', 'submit again a request already submitted: another pass for each of its jobs')
    .option('--production-info <file>', 'read production information from this file instead of the database')
    .option(
      '--like <module run pass...>',
      'instead of a request: add an exact copy of this pass to its job (same RAT version, macro, template values, ratdb tag, amount, label)',
    )
    .addHelpText(
      'after',
      '\nThe plan (jobs per module and label) is printed before anything is written. Ctrl-C stops after the batch being written, says how many jobs are in, and exits 130; running the same command again completes the request (a second Ctrl-C stops at once, which is as safe).\n\nExamples:\n  gasp submit jobs.json --dry-run\n  gasp submit jobs.json --label mc-2026-bi214 -L runs.txt -t ratdb-2026 -o bi214.exactly\n  gasp submit --like TeloadedBi214 300001 1',
    )
    .action(async (file: string | undefined, _options: SubmitOptions, command: Command) =>
      runSubmit(file, command.optsWithGlobals<SubmitOptions>()),
    );
}

async function runSubmit(file: string | undefined, options: SubmitOptions): Promise<void> {
  if (options.like !== undefined || file === undefined) {
    await submitLikeCommand(file, options);
    return;
  }
  const problems: string[] = [];
  const priority =
    options.priority === undefined ? undefined : wholeNumber('--priority', options.priority, problems, '10', true);
  checkLabel('--label', options.label, problems);
  if (problems.length > 0) throw new InputError(problems);
  const dryRun = options.dryRun === true || options.testingNodb === true;
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const { plan, result } = await writeRequest(db, file, options, { dryRun, priority, log });
  printSubmitted(db.name, plan, result, options, dryRun);
  if (dryRun) return;
  for (const { file: out, added, total } of addJobsToExactly(result.jobs, {
    ...(options.outlist !== undefined && { output: options.outlist }),
  })) {
    if (options.json !== true) print(`${out}: ${plural(added, 'job')} added, ${total} in all`);
  }
}

/** The request planned and written, with a progress bar; Ctrl-C stops after the batch being written. */
async function writeRequest(
  db: Database,
  file: string,
  options: SubmitOptions,
  { dryRun, priority, log }: { dryRun: boolean; priority: number | undefined; log: Logger },
): Promise<{ plan: SubmitPlan; result: SubmitResult }> {
  const bar = progressBar('writing jobs');
  const stop = stopOnSignal({
    log,
    left: 'the jobs written so far stay; run the same command again to complete the request',
  });
  // the line goes below the bar, not onto it
  stop.onForce(() => bar.stop());
  try {
    return await submitRequestFile(db, file, {
      dryRun,
      signal: stop.signal,
      onProgress: bar.update,
      ...(options.label !== undefined && { label: options.label }),
      ...(options.runlist !== undefined && { runListFile: options.runlist }),
      ...(options.ratdbTag !== undefined && { ratdbTag: options.ratdbTag }),
      ...(priority !== undefined && { priority }),
      ...(options.requestId !== undefined && { requestId: options.requestId }),
      ...(options.newPass !== undefined && { newPass: options.newPass }),
      ...(options.productionInfo !== undefined && { infoFile: options.productionInfo }),
      beforeWrite: (plan, request) => beforeWrite(file, plan, request, options, dryRun),
      ...(options.json !== true && { onStart: (start: WriteStart) => printStart(start, db.name) }),
    });
  } catch (error) {
    if (!(error instanceof InterruptedError)) throw error;
    throw new InterruptedError(
      `${error.message}\nthe jobs go into ${options.outlist ?? '<label>.exactly'} when every one is in`,
    );
  } finally {
    bar.stop();
  }
}

/** Once planned, before any job is written: the .exactly files checked, an unused --label said, the plan printed. */
function beforeWrite(
  file: string,
  plan: SubmitPlan,
  request: PlannedRequest,
  options: SubmitOptions,
  dryRun: boolean,
): void {
  // the .exactly files must take the jobs before any job is written
  if (!dryRun)
    for (const label of labelsOf(plan))
      checkExactlyTarget(exactlyFileFor(label, { ...(options.outlist !== undefined && { output: options.outlist }) }));
  if (options.label !== undefined && request.defaultLabel === undefined)
    process.stderr.write(
      `--label ${options.label}: not used: every entry of ${file} names its label (the file's labels win)\n`,
    );
  if (options.json !== true) printAhead(file, plan, request, dryRun);
}

/** What was written, or would be in a dry run. */
function printSubmitted(
  database: string,
  plan: SubmitPlan,
  result: SubmitResult,
  options: SubmitOptions,
  dryRun: boolean,
): void {
  if (options.json === true) {
    print(JSON.stringify({ dry_run: dryRun, ...result }, null, 2));
  } else {
    if (result.generation > 1) print(`pass generation ${result.generation} of request ${result.requestId}`);
    printPlan(plan, result);
  }
  if (dryRun) {
    if (options.json !== true) print(`dry run: would write ${result.written} jobs; nothing written`);
    return;
  }
  if (options.json !== true) {
    const labels = labelsOf(plan);
    const named = `label${labels.length === 1 ? '' : 's'} ${labels.join(', ')}`;
    print(
      result.alreadySubmitted
        ? `already submitted: all ${result.jobs.length} jobs are in ${database}, ${named}; nothing written (--new-pass adds another pass to each)`
        : `submitted ${result.written} jobs to ${database}, ${named}${result.written < result.jobs.length ? ` (${result.jobs.length - result.written} were there from an earlier run)` : ''}`,
    );
  }
}
