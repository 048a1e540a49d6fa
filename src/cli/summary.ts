import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { summarize, type Summary } from '../shifter/summary.js';
import { RAT_VERSION } from '../sites/rat.js';
import { checkLabel } from '../submit/request.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { plural } from '../words.js';

const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');

/** Whole seconds, but a tenth below 10 s: a job of 0.1 s does not read as 0 s. */
const seconds = (value: number) => (value < 10 ? String(Number(value.toFixed(1))) : value.toFixed(0));

function describe(summary: Summary): string[] {
  const percent = (part: number, whole: number) => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`);
  const lines = [
    `${summary.scope}: ${plural(summary.passes, 'pass', 'passes')} (${counts(summary.byStatus) || 'none'})`,
  ];
  lines.push(
    `  success rate: ${summary.successRate === null ? '- (nothing ended yet)' : `${(100 * summary.successRate).toFixed(1)}% of ended passes completed`}`,
  );
  if (summary.events.requested > 0)
    lines.push(
      `  events: ${summary.events.produced} of ${summary.events.requested} requested (${percent(summary.events.produced, summary.events.requested)})`,
    );
  if (summary.liveSeconds.requested > 0)
    lines.push(
      `  live time: ${(summary.liveSeconds.produced / 86_400).toFixed(2)} of ${(summary.liveSeconds.requested / 86_400).toFixed(2)} days requested (${percent(summary.liveSeconds.produced, summary.liveSeconds.requested)})`,
    );
  if (summary.runSeconds !== null)
    lines.push(
      `  run time: mean ${seconds(summary.runSeconds.mean)} s, spread ${seconds(summary.runSeconds.spread)} s over ${plural(summary.runSeconds.passes, 'ended pass', 'ended passes')}`,
    );
  lines.push('  by module:');
  const sorted = (record: Record<string, Record<string, number>>) =>
    Object.entries(record).sort(([a], [b]) => (a === '-' ? 1 : b === '-' ? -1 : a.localeCompare(b)));
  for (const [module, statuses] of sorted(summary.byModule)) lines.push(`    ${module}: ${counts(statuses)}`);
  lines.push('  by site:');
  for (const [site, statuses] of sorted(summary.bySite)) {
    const quarantine = summary.quarantined[site];
    lines.push(
      `    ${site === '-' ? '(no site yet)' : site}: ${counts(statuses)}${quarantine === undefined ? '' : `; QUARANTINED ${quarantine}`}`,
    );
  }
  return lines;
}

export function registerSummary(program: Command): void {
  program
    .command('summary')
    .description(
      'a campaign at a glance: passes per status, module and site; success rate; events and live time produced vs requested; run time',
    )
    .option('--label <label>', 'the passes of this label')
    .option('--module <glob>', 'the passes of modules matching this glob')
    .option('--rat <version>', 'only passes of this RAT version')
    .option('--json', 'print the summary as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      '\nRead from the summary/passes reduce view, or on the embedded server from the tally gasp serve keeps of it: no job document is read.\n\nExamples:\n  gasp summary --label mc-2026-bi214\n  gasp summary --module Water* --rat 7.0.8',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<
        ConfigOptions & { label?: string; module?: string; rat?: string; json?: boolean }
      >();
      const problems: string[] = [];
      if ((options.label === undefined) === (options.module === undefined))
        problems.push('summary: give --label or --module (one of them)');
      checkLabel('--label', options.label, problems);
      if (options.rat !== undefined && !RAT_VERSION.test(options.rat))
        problems.push(`--rat: "${options.rat}" is not a RAT version (expected such as 7.0.8)`);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const scope = options.label !== undefined ? { label: options.label } : { module: options.module ?? '' };
      const summary = await summarize(db, { ...scope, ...(options.rat !== undefined && { rat: options.rat }) });
      if (options.json === true) print(JSON.stringify(summary, null, 2));
      else for (const line of describe(summary)) print(line);
    });
}
