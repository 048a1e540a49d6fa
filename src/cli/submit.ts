import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { addJobsToExactly, checkExactlyTarget, exactlyFileFor } from '../submit/exactly.js';
import type { PlannedEntry, SubmitPlan } from '../submit/plan.js';
import { submitLike } from '../submit/like.js';
import { submitRequestFile } from '../submit/submit.js';
import type { SubmitResult, SubmittedJob } from '../submit/write.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';
import { wholeNumber } from './numbers.js';
import { progressBar } from './progress.js';
import { plural } from '../words.js';

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
  return runs.length === 1 ? `run ${first}` : last - first + 1 === runs.length ? `runs ${first}–${last}` : `${runs.length} runs ${first}…${last}`;
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
  print(`  total: ${plural(result.jobs.length, 'job')}, ${plural(events, 'event')}, ${plural(seconds / 86_400, 'day')} of live time; RAT ${plan.ratVersion}${plan.ratdbTag === undefined ? '' : `, ratdb tag ${plan.ratdbTag}`}`);
}

async function submitLikeCommand(file: string | undefined, options: SubmitOptions): Promise<void> {
  const [module = '', run = '', pass = '', ...extra] = options.like ?? [];
  const problems: string[] = [];
  if (options.like === undefined) problems.push('submit: give a jobs.json request, or --like MODULE RUN PASS');
  else if (file !== undefined) problems.push(`submit: "${file}" and --like do not go together (expected one of them)`);
  else if (!/^\d+$/.test(run) || !/^[1-9]\d*$/.test(pass) || extra.length > 0) problems.push(`--like: "${options.like.join(' ')}" is not MODULE RUN PASS (expected such as TeloadedBi214 300001 1)`);
  if (problems.length > 0) throw new InputError(problems);
  const dryRun = options.dryRun === true || options.testingNodb === true;
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const { source, pass: copy } = await submitLike(db, { module, run: Number(run), pass: Number(pass) }, { dryRun });
  const template = Object.entries(source.template ?? {}).map(([key, value]) => `${key}=${value}`).join(' ');
  const what = `a copy of pass ${source.pass}: RAT ${source.rat_version}, label ${source.label}, priority ${source.priority}${source.ratdb_tag === undefined ? '' : `, ratdb tag ${source.ratdb_tag}`}${template === '' ? '' : `, ${template}`}`;
  if (dryRun) {
    print(`dry run: would add ${module} run ${run} pass ${copy}, ${what}; nothing written`);
    return;
  }
  print(`added ${module} run ${run} pass ${copy}, ${what}; waiting`);
  for (const { file: out, added, total } of addJobsToExactly([{ module, run: Number(run), pass: copy, label: source.label }], { ...(options.outlist !== undefined && { output: options.outlist }) })) {
    print(`${out}: ${added} jobs added, ${total} in all`);
  }
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('turn a jobs.json request into job documents (all or nothing; safe to run again) and write an .exactly file')
    .argument('[jobs.json]', 'the request: {"rat_v", "label", "modules": [...]}')
    .addOption(configOption())
    .option('-L, --runlist <file>', 'run numbers (one per line) for run-by-run modules that list none')
    .option('-t, --ratdb-tag <tag>', 'RATDB tag every pass records')
    .option('-o, --outlist <file>', '.exactly file to add the jobs to (default: <label>.exactly, one per label)')
    .option('--priority <n>', 'priority of every pass, whatever the request says')
    .option('--dry-run', 'print the plan and totals; write nothing')
    .option('--testing-nodb', 'the same as --dry-run (the old name)')
    .option('--json', 'print the result as JSON')
    .option('--request-id <id>', 'name the request (default: derived from its content and options)')
    .option('--new-pass', 'submit again a request already submitted: another pass for each of its jobs')
    .option('--production-info <file>', 'read production information from this file instead of the database')
    .option('--like <module run pass...>', 'instead of a request: add an exact copy of this pass to its job (same RAT version, macro, template values, ratdb tag, amount, label)')
    .addHelpText(
      'after',
      '\nExamples:\n  gasp submit jobs.json --dry-run\n  gasp submit jobs.json -L runs.txt -t ratdb-2026 -o bi214.exactly\n  gasp submit --like TeloadedBi214 300001 1',
    )
    .action(async (file: string | undefined, _options: SubmitOptions, command: Command) => {
      const options = command.optsWithGlobals<SubmitOptions>();
      if (options.like !== undefined || file === undefined) {
        await submitLikeCommand(file, options);
        return;
      }
      let priority: number | undefined;
      if (options.priority !== undefined) {
        const problems: string[] = [];
        priority = wholeNumber('--priority', options.priority, problems, '10', true);
        if (problems.length > 0) throw new InputError(problems);
      }
      const dryRun = options.dryRun === true || options.testingNodb === true;
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const bar = progressBar('writing jobs');
      let outcome;
      try {
        outcome = await submitRequestFile(db, file, {
          dryRun,
          onProgress: bar.update,
          ...(options.runlist !== undefined && { runListFile: options.runlist }),
          ...(options.ratdbTag !== undefined && { ratdbTag: options.ratdbTag }),
          ...(priority !== undefined && { priority }),
          ...(options.requestId !== undefined && { requestId: options.requestId }),
          ...(options.newPass !== undefined && { newPass: options.newPass }),
          ...(options.productionInfo !== undefined && { infoFile: options.productionInfo }),
          // the .exactly files must take the jobs before any job is written
          beforeWrite: (plan) => {
            if (dryRun) return;
            for (const label of new Set(plan.entries.map((entry) => entry.label))) {
              checkExactlyTarget(exactlyFileFor(label, { ...(options.outlist !== undefined && { output: options.outlist }) }));
            }
          },
        });
      } finally {
        bar.stop();
      }
      const { plan, result } = outcome;
      if (options.json === true) {
        print(JSON.stringify({ dry_run: dryRun, ...result }, null, 2));
      } else {
        print(`${file}: request ${result.requestId}${result.generation > 1 ? ` (pass generation ${result.generation})` : ''}`);
        printPlan(plan, result);
      }
      if (dryRun) {
        if (options.json !== true) print(`dry run: would write ${result.written} jobs; nothing written`);
        return;
      }
      if (options.json !== true) {
        print(
          result.alreadySubmitted
            ? `already submitted: all ${result.jobs.length} jobs are in ${db.name}; nothing written (--new-pass adds another pass to each)`
            : `submitted ${result.written} jobs to ${db.name}${result.written < result.jobs.length ? ` (${result.jobs.length - result.written} were there from an earlier run)` : ''}`,
        );
      }
      for (const { file: out, added, total } of addJobsToExactly(result.jobs, { ...(options.outlist !== undefined && { output: options.outlist }) })) {
        if (options.json !== true) print(`${out}: ${added} jobs added, ${total} in all`);
      }
    });
}
