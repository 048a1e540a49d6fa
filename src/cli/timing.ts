import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { makeUserFolder } from '../files.js';
import { readSelection, selectionOptions, selectPasses, type SelectionOptions } from '../shifter/selection.js';
import { jobTimes, timingTable, type Spread, type TimingRow } from '../timing/timing.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

interface TimingOptions extends ConfigOptions, SelectionOptions {
  csv?: boolean;
  plots?: string;
}

const DEFAULT_STATUSES = ['completed', 'failed', 'partFail'] as const;

const number = (value: number | undefined) =>
  value === undefined
    ? '-'
    : value === 0
      ? '0'
      : value >= 100
        ? value.toFixed(0)
        : value >= 1
          ? value.toFixed(1)
          : value.toPrecision(2);
const codes = (row: TimingRow) =>
  Object.entries(row.exitCodes)
    .map(([code, n]) => `${code} ×${n}`)
    .join(', ') || '-';

const COLUMNS = [
  'module',
  'site',
  'jobs',
  'failed',
  'wall s mean',
  'wall s median',
  'wall s p90',
  'wall s max',
  's/event median',
  's/event p90',
  'queue s median',
  'queue s p90',
  'exit codes',
];

function cells(row: TimingRow): string[] {
  const s = (value: Spread | null, field: keyof Spread) => number(value?.[field]);
  return [
    row.module,
    row.site,
    String(row.jobs),
    String(row.failed),
    s(row.wall, 'mean'),
    s(row.wall, 'median'),
    s(row.wall, 'p90'),
    s(row.wall, 'max'),
    s(row.perEvent, 'median'),
    s(row.perEvent, 'p90'),
    s(row.queue, 'median'),
    s(row.queue, 'p90'),
    codes(row),
  ];
}

const csvCell = (value: string) => (/[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

export function registerTiming(program: Command): void {
  const command = program
    .command('timing')
    .description(
      'how long jobs take, per module and site: wall time, time per event, queue wait (claim to start), failures by exit code; as a table, CSV, or SVG plots',
    );
  selectionOptions(command, DEFAULT_STATUSES)
    .option('--csv', 'print the table as CSV')
    .option('--plots <folder>', 'also write time-per-event.svg and wall-time-by-site.svg into this folder')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      "\nTimes come from each job's record: the wrapper's own start and end (manifest.json), else submission to the end the client saw; queue wait needs the wrapper's start.\n\nExamples:\n  gasp timing --label mc-2026-bi214\n  gasp timing --module Water* --csv > water.csv\n  gasp timing --label mc-2026-bi214 --plots plots/",
    )
    .action(async (_options: unknown, cmd: Command) => {
      const options = cmd.optsWithGlobals<TimingOptions>();
      const problems: string[] = [];
      const selection = readSelection(options, DEFAULT_STATUSES, problems);
      if (problems.length > 0) throw new InputError(problems);
      if (options.plots !== undefined) makeUserFolder('--plots', options.plots);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const times = jobTimes(await selectPasses(db, selection));
      const table = timingTable(times);
      if (options.csv === true) {
        for (const line of [COLUMNS, ...table.map(cells)]) print(line.map(csvCell).join(','));
      } else if (table.length === 0) {
        print('timing: no ended jobs match');
      } else {
        const rows = [COLUMNS, ...table.map(cells)];
        const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
        for (const row of rows)
          print(
            row
              .map((cell, column) =>
                column < 2 || column === row.length - 1
                  ? cell.padEnd(widths[column] ?? 0)
                  : cell.padStart(widths[column] ?? 0),
              )
              .join('  ')
              .trimEnd(),
          );
      }
      if (options.plots !== undefined) {
        // ECharts is loaded only to draw: every other command (the months-long enqueue) starts without it
        const { writePlots } = await import('../timing/plots.js');
        for (const path of writePlots(options.plots, times))
          (options.csv === true ? (line: string) => process.stderr.write(`${line}\n`) : print)(`wrote ${path}`);
      }
    });
}
