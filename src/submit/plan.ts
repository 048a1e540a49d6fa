import { createHash } from 'node:crypto';
import type { PassAmount, ProductionInfoDoc, ProductionModule, Subjob } from '../model/documents.js';
import type { EventMode } from '../model/event-mode.js';
import { FILLED_BY_GASP, requestFields, type TemplateValues } from '../model/template.js';
import { jsonPath } from '../json-file.js';
import { didYouMean } from '../words.js';
import type { JobsRequest, RequestEntry } from './request.js';

/** Live-time units as requests write them, in seconds. */
const TIME_UNITS: Readonly<Record<string, number>> = Object.fromEntries(
  (
    [
      [['s', 'sec', 'secs', 'second', 'seconds'], 1],
      [['min', 'mins', 'minute', 'minutes'], 60],
      [['h', 'hr', 'hrs', 'hour', 'hours'], 3_600],
      [['d', 'day', 'days'], 86_400],
    ] as const
  ).flatMap(([names, seconds]) => names.map((name) => [name, seconds])),
);

/** The fields each request format needs; any other amount field does not belong. */
const FORMAT_FIELDS: Readonly<Record<EventMode, ReadonlyArray<keyof RequestEntry>>> = {
  time: ['t_run', 't_format', 'n_runs'],
  number: ['n_ev', 'ev_per_run'],
  run: ['n_runs', 'run_numbers'],
  run_number: ['n_ev', 'ev_per_run', 'run_numbers'],
};
const AMOUNT_FIELDS: ReadonlyArray<keyof RequestEntry> = [
  't_run',
  't_format',
  'n_runs',
  'n_ev',
  'ev_per_run',
  'run_numbers',
];

export interface PlannedJob {
  entry: number;
  /** Which job of its entry, from 0: with `entry`, what identifies it across resubmissions. */
  index: number;
  /** Set for run-by-run formats; generic (time, number) jobs get the next free runs when written. */
  run?: number;
  amount: PassAmount;
  subjobs?: Subjob[];
}

export interface PlannedEntry {
  entry: number;
  module: string;
  label: string;
  priority: number;
  eventMode: EventMode;
  template: TemplateValues;
  macroSha256: string;
  jobs: PlannedJob[];
}

export interface SubmitPlan {
  ratVersion: string;
  ratdbTag?: string;
  entries: PlannedEntry[];
}

export interface PlanOptions {
  /** From -L: run numbers for run-by-run entries that list none. */
  runList?: readonly number[];
  ratdbTag?: string;
  /** From --priority: every pass gets it, whatever the file says. */
  priority?: number;
  /** The label of entries for which the file names none (--label, or the one gasp makes). */
  label?: string;
}

/** What the job wrapper accepts as a RATDB tag (bin/gasp-job RATDB_TAG). */
const RATDB_TAG = /^[A-Za-z0-9][A-Za-z0-9._+:-]*$/;

/** More than this in one entry is a typo (an ev_per_run of 1), not a request. */
export const MAX_JOBS_PER_ENTRY = 100_000;

function countJobs(format: EventMode | undefined, entry: RequestEntry, runs: readonly number[] | undefined): number {
  const parts = Math.ceil((entry.n_ev ?? 0) / (entry.ev_per_run ?? 1));
  if (format === 'time') return entry.n_runs ?? 0;
  if (format === 'number') return parts;
  if (format === 'run') return runs?.length ?? 0;
  if (format === 'run_number') return (runs?.length ?? 0) * parts;
  return 0;
}

function noModule(name: string, info: ProductionInfoDoc, names: readonly string[]): string {
  return `no module "${name}" in production information ${info.rat_version}${didYouMean(name, names)}`;
}

/** Which format an entry is written in, from the fields it has (and the module's mode where both would fit). */
function formatOf(entry: RequestEntry, moduleMode: EventMode | undefined): EventMode | undefined {
  if (entry.t_run !== undefined || entry.t_format !== undefined) return 'time';
  if (entry.n_ev !== undefined || entry.ev_per_run !== undefined) {
    return entry.run_numbers !== undefined || moduleMode === 'run_number' ? 'run_number' : 'number';
  }
  if (entry.n_runs !== undefined || entry.run_numbers !== undefined) return 'run';
  return undefined;
}

function split(total: number, per: number): number[] {
  const count = Math.ceil(total / per);
  return Array.from({ length: count }, (_, index) => (index === count - 1 ? total - per * (count - 1) : per));
}

/** Where an entry's field is in the file, for a problem line: `jobs.json: modules[2].n_ev`. */
type FieldAt = (...path: PropertyKey[]) => string;

/**
 * Checks a request against the production information and turns it into jobs. Pure: every
 * problem, each with its path in the file, and no I/O.
 */
export function planRequest(
  request: JobsRequest,
  info: ProductionInfoDoc,
  options: PlanOptions = {},
): { plan: SubmitPlan; problems: string[] } {
  const problems: string[] = [];
  // the job wrapper writes it into the macro as one word
  if (options.ratdbTag !== undefined && !RATDB_TAG.test(options.ratdbTag)) {
    problems.push(
      `-t: "${options.ratdbTag}" is not a RATDB tag (expected one word of letters, digits and . _ + : -, such as water-physics-v2)`,
    );
  }
  const names = Object.keys(info.modules);
  for (const { index, module } of request.broken) {
    if (module === undefined || Object.hasOwn(info.modules, module)) continue;
    problems.push(`${request.file}: ${jsonPath(['modules', index, 'module'])}: ${noModule(module, info, names)}`);
  }
  const entries = request.entries.flatMap((entry, index) =>
    entry === undefined ? [] : (planEntry(request, info, options, entry, index, problems) ?? []),
  );
  return {
    plan: {
      ratVersion: info.rat_version,
      ...(options.ratdbTag !== undefined && { ratdbTag: options.ratdbTag }),
      entries,
    },
    problems,
  };
}

/** One entry's jobs, or undefined when it has problems (added to problems). */
function planEntry(
  request: JobsRequest,
  info: ProductionInfoDoc,
  options: PlanOptions,
  entry: RequestEntry,
  index: number,
  problems: string[],
): PlannedEntry | undefined {
  const at: FieldAt = (...path) => `${request.file}: ${jsonPath(['modules', index, ...path])}`;
  const before = problems.length;
  // own properties only: "constructor" is not a module
  const module = Object.hasOwn(info.modules, entry.module) ? info.modules[entry.module] : undefined;
  if (module === undefined)
    problems.push(`${at('module')}: ${noModule(entry.module, info, Object.keys(info.modules))}`);
  else if (module.unnameable !== undefined) {
    problems.push(
      `${at('module')}: ${entry.module} cannot run: its outputs cannot be named (${module.unnameable}; production information ${info.rat_version})`,
    );
  }
  const label = entry.label ?? request.label ?? options.label;
  if (label === undefined)
    problems.push(`${at('label')}: is missing (expected a label here or at the top level, or --label)`);

  const format = formatOf(entry, module?.event_mode);
  problems.push(...amountProblems(entry, format, module, options, at));
  const runs = format === 'run' || format === 'run_number' ? (entry.run_numbers ?? options.runList) : undefined;
  if (entry.run_numbers !== undefined && new Set(entry.run_numbers).size !== entry.run_numbers.length) {
    problems.push(`${at('run_numbers')}: lists a run twice (expected each run once)`);
  }
  const jobCount = countJobs(format, entry, runs);
  if (jobCount > MAX_JOBS_PER_ENTRY) {
    problems.push(
      `${at()}: makes ${jobCount} jobs (expected at most ${MAX_JOBS_PER_ENTRY} per entry; raise ev_per_run or t_run, or split the request)`,
    );
  }
  const template = entry.template ?? {};
  if (module !== undefined) problems.push(...templateProblems(entry.module, module, template, at));
  if (problems.length > before || module === undefined || format === undefined || label === undefined) return undefined;
  return {
    entry: index,
    module: entry.module,
    label,
    priority: options.priority ?? entry.priority ?? 0,
    eventMode: format,
    template,
    macroSha256: module.sha256,
    jobs: plannedJobs(format, entry, index, runs),
  };
}

/** What is wrong with the amount fields of an entry written in the format, for its module. */
function amountProblems(
  entry: RequestEntry,
  format: EventMode | undefined,
  module: ProductionModule | undefined,
  options: PlanOptions,
  at: FieldAt,
): string[] {
  if (format === undefined)
    return [`${at()}: has no amount (expected t_run, t_format, n_runs; or n_ev, ev_per_run; or n_runs, run_numbers)`];
  const problems: string[] = [];
  const needed = FORMAT_FIELDS[format];
  for (const field of needed) {
    if (entry[field] === undefined && !(field === 'run_numbers' && options.runList !== undefined)) {
      const hint = field === 'run_numbers' ? ', or -L RUNLIST' : '';
      problems.push(`${at(field)}: is missing (expected ${needed.join(', ')} for a ${format} request${hint})`);
    }
  }
  for (const field of AMOUNT_FIELDS) {
    if (entry[field] !== undefined && !needed.includes(field))
      problems.push(`${at(field)}: does not belong in a ${format} request (expected ${needed.join(', ')})`);
  }
  if (module !== undefined && module.event_mode !== format) {
    problems.push(
      `${at()}: a ${format} request for ${entry.module}, whose event mode is ${module.event_mode} (expected ${FORMAT_FIELDS[module.event_mode].join(', ')})`,
    );
  }
  if (entry.t_format !== undefined && TIME_UNITS[entry.t_format.trim().toLowerCase()] === undefined) {
    problems.push(`${at('t_format')}: "${entry.t_format}" is not a time unit (expected day, h, min or s)`);
  }
  return problems;
}

/** What is wrong with an entry's template values for the macro's fields. */
function templateProblems(name: string, module: ProductionModule, template: TemplateValues, at: FieldAt): string[] {
  const problems: string[] = [];
  const fields = requestFields(module.template);
  const missing = fields.filter((field) => !(field in template));
  if (missing.length > 0)
    problems.push(`${at('template')}: misses ${missing.join(', ')} (expected values for ${fields.join(', ')})`);
  for (const key of Object.keys(template)) {
    if ((FILLED_BY_GASP as readonly string[]).includes(key))
      problems.push(`${at('template', key)}: is filled in by gasp (leave it out)`);
    else if (!fields.includes(key)) {
      problems.push(
        `${at('template', key)}: is not a template field of ${name} (expected ${fields.length === 0 ? 'none' : fields.join(', ')})`,
      );
    }
  }
  return problems;
}

/** The jobs of a checked entry: one per run of a time request, per part of a number request, per listed run otherwise. */
function plannedJobs(
  format: EventMode,
  entry: RequestEntry,
  index: number,
  runs: readonly number[] | undefined,
): PlannedJob[] {
  if (format === 'time') {
    const seconds = (entry.t_run ?? 0) * (TIME_UNITS[(entry.t_format ?? '').trim().toLowerCase()] ?? 0);
    return Array.from({ length: entry.n_runs ?? 0 }, (_, job) => ({ entry: index, index: job, amount: { seconds } }));
  }
  if (format === 'number')
    return split(entry.n_ev ?? 0, entry.ev_per_run ?? 1).map((events, job) => ({
      entry: index,
      index: job,
      amount: { events },
    }));
  if (format === 'run')
    return (runs ?? []).map((run, job) => ({ entry: index, index: job, run, amount: { repeats: entry.n_runs ?? 1 } }));
  const parts = split(entry.n_ev ?? 0, entry.ev_per_run ?? 1);
  return (runs ?? []).map((run, job) => ({
    entry: index,
    index: job,
    run,
    amount: { events: entry.n_ev ?? 0 },
    subjobs: parts.map((events, part) => ({ index: part, events })),
  }));
}

/**
 * Derived from everything that shapes the jobs, so the same request gets the same id. Not from the
 * label given for unlabelled entries: a rerun with another --label must find the jobs it wrote.
 */
export function requestId(request: JobsRequest, options: PlanOptions): string {
  const canonical = JSON.stringify([
    request.raw,
    options.runList ?? null,
    options.ratdbTag ?? null,
    options.priority ?? null,
  ]);
  return `req-${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}
