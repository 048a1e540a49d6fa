import { lastOfEachWork } from '../model/pass-work.js';
import { Option, type Command } from 'commander';
import type { Database } from '../db/database.js';
import { jobId, type JobDoc, type Pass } from '../model/documents.js';
import { PASS_STATUSES, type PassStatus } from '../model/status.js';
import { readExactly } from '../submit/exactly.js';
import { checkLabel, readRunList } from '../submit/request.js';
import { globToRegExp } from '../glob.js';
import { didYouMean } from '../words.js';
import { knownLabels } from './summary.js';
import { hasLabel } from '../model/label.js';

/** Which passes a shifter tool works on: the same options for every tool. */
export interface Selection {
  label?: string;
  /** A glob such as `Water*` (`*` any text, `?` one character). */
  module?: string;
  runs?: { first: number; last: number } | ReadonlySet<number>;
  exactly?: ReadonlyArray<{ module: string; run: number; pass: number }>;
  pass?: number | 'last';
  statuses: readonly PassStatus[];
  site?: string;
  rat?: string;
}

export interface SelectionOptions {
  label?: string;
  module?: string;
  run?: string;
  runlist?: string;
  exactly?: string;
  pass?: string;
  lastPass?: boolean;
  allPasses?: boolean;
  status?: string;
  site?: string;
  rat?: string;
}

/** Adds the selection options to a tool, with its default statuses in the help. */
export function selectionOptions(command: Command, defaultStatuses: readonly PassStatus[]): Command {
  return command
    .option('--label <label>', 'passes of this label')
    .option('--module <glob>', 'modules matching this glob (* any text, ? one character)')
    .option('--run <range>', 'runs A-B, or one run')
    .option('-L, --runlist <file>', 'runs listed in a file, one per line')
    .option('--exactly <file>', 'the passes an .exactly file lists (module, run, pass)')
    .option('--pass <n>', 'only this pass of each job')
    .addOption(new Option('--last-pass', "only each job's last pass (the default)").conflicts(['pass', 'allPasses']))
    .option('--all-passes', 'every pass of each job, not only the last')
    .option('--status <list>', `statuses, comma-separated (default: ${defaultStatuses.join(',')})`)
    .option('--site <site>', 'passes held by, or last run at, this site')
    .option('--rat <version>', 'passes of this RAT version');
}

/** Reads the selection options; problems are added one line each (the caller exits 2 with them all). */
export function readSelection(
  options: SelectionOptions,
  defaultStatuses: readonly PassStatus[],
  problems: string[],
): Selection {
  const selection: Selection = { statuses: defaultStatuses };
  if (options.label !== undefined) {
    checkLabel('--label', options.label, problems);
    selection.label = options.label;
  }
  if (options.module !== undefined) selection.module = options.module;
  if (options.run !== undefined && options.runlist !== undefined)
    problems.push('--run: does not go with -L (expected one of them)');
  if (options.run !== undefined) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(options.run);
    const [first, last] = [Number(match?.[1]), Number(match?.[2] ?? match?.[1])];
    if (match === null || last < first)
      problems.push(`--run: "${options.run}" is not a run or a range (expected such as 300000 or 300000-300100)`);
    else selection.runs = { first, last };
  }
  try {
    if (options.runlist !== undefined) selection.runs = new Set(readRunList(options.runlist));
    if (options.exactly !== undefined) selection.exactly = readExactly(options.exactly);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (options.pass !== undefined) {
    if (!/^[1-9]\d*$/.test(options.pass))
      problems.push(`--pass: "${options.pass}" is not a pass number (expected 1, 2, …)`);
    selection.pass = Number(options.pass);
  } else if (options.allPasses !== true && options.exactly === undefined) {
    selection.pass = 'last';
  }
  if (options.status !== undefined) {
    const statuses = options.status.split(',').map((status) => status.trim());
    const unknown = statuses.filter((status) => !(PASS_STATUSES as readonly string[]).includes(status));
    if (unknown.length > 0)
      problems.push(
        `--status: ${unknown.map((status) => `"${status}"`).join(', ')} is not a status (expected ${PASS_STATUSES.join(', ')})`,
      );
    selection.statuses = statuses as PassStatus[];
  }
  if (options.site !== undefined) selection.site = options.site;
  if (options.rat !== undefined) selection.rat = options.rat;
  if (
    selection.label === undefined &&
    selection.module === undefined &&
    selection.runs === undefined &&
    selection.exactly === undefined
  ) {
    problems.push(
      'no selection: give --label, --module, --run, -L or --exactly (a tool never works on every job by default)',
    );
  }
  return selection;
}

/** The problem line when no pass has this label (naming a close one it may mean), else undefined: a typo is bad input, not an empty answer. */
export async function unknownLabel(db: Database, option: string, label: string): Promise<string | undefined> {
  const some = await db.view('jobs', 'by_label', { startkey: [label], endkey: [label, {}], limit: 1 });
  if (some.rows.length > 0) return undefined;
  return `${option}: no pass has label "${label}" in ${db.name}${didYouMean(label, await knownLabels(db))}`;
}

export interface Selected {
  doc: JobDoc;
  pass: Pass;
}

/** The ids of the job documents the selection can touch, from the narrowest view that serves it. */
async function candidateIds(db: Database, selection: Selection): Promise<string[]> {
  if (selection.exactly !== undefined)
    return [...new Set(selection.exactly.map((line) => jobId(line.module, line.run)))];
  if (selection.label !== undefined) {
    const rows = await db.view<[string, string, number, number]>('jobs', 'by_label', {
      startkey: [selection.label],
      endkey: [selection.label, {}],
    });
    return [...new Set(rows.rows.flatMap((row) => (row.id === undefined ? [] : [row.id])))];
  }
  // a module glob's literal head narrows the range of jobs/by_module
  const prefix = selection.module?.split(/[*?]/)[0] ?? '';
  const rows = await db.view<[string, number]>('jobs', 'by_module', {
    startkey: [prefix],
    endkey: [`${prefix}\ufff0`, {}],
  });
  return rows.rows.flatMap((row) => (row.id === undefined ? [] : [row.id]));
}

/** The passes the selection names, read fresh, in job order. */
export async function selectPasses(db: Database, selection: Selection): Promise<Selected[]> {
  const module = selection.module === undefined ? undefined : globToRegExp(selection.module);
  const exact =
    selection.exactly === undefined
      ? undefined
      : new Set(selection.exactly.map((line) => `${jobId(line.module, line.run)}#${line.pass}`));
  const inRuns = (run: number) =>
    selection.runs === undefined
      ? true
      : 'first' in selection.runs
        ? run >= selection.runs.first && run <= selection.runs.last
        : (selection.runs as ReadonlySet<number>).has(run);
  const ids = await candidateIds(db, selection);
  const selected: Selected[] = [];
  for (let start = 0; start < ids.length; start += 1_000) {
    const found = await db.allDocs<JobDoc>({ keys: ids.slice(start, start + 1_000), include_docs: true });
    for (const row of found.rows) {
      const doc = row.doc;
      if (!doc || doc.type !== 'job' || !Array.isArray(doc.passes)) continue;
      if (module !== undefined && !module.test(doc.module)) continue;
      if (!inRuns(doc.run)) continue;
      // the last pass of the label asked for, not of the job: a newer pass of another label hides nothing
      const last = lastOfEachWork(
        doc.passes.filter((pass) => selection.label === undefined || hasLabel(pass.label, selection.label)),
      );
      for (const pass of doc.passes) {
        if (selection.pass === 'last' && !last.has(pass.pass)) continue;
        if (typeof selection.pass === 'number' && pass.pass !== selection.pass) continue;
        if (exact !== undefined && !exact.has(`${doc._id}#${pass.pass}`)) continue;
        if (selection.label !== undefined && !hasLabel(pass.label, selection.label)) continue;
        if (!selection.statuses.includes(pass.status)) continue;
        if (selection.site !== undefined && (pass.site ?? pass.attempts.at(-1)?.site) !== selection.site) continue;
        if (selection.rat !== undefined && pass.rat_version !== selection.rat) continue;
        selected.push({ doc, pass });
      }
    }
  }
  return selected;
}
