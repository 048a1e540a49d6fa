import type { Database } from '../db/database.js';
import {
  jobId,
  type JobDoc,
  type Pass,
  type PassRef,
  type ProcessingInfoDoc,
  type ProcessingModule,
  type RunDoc,
} from '../model/documents.js';
import { appendPasses, type PassToAdd } from '../submit/append.js';
import { addLateSubfiles, subjobOf, type LatePolicy } from './late-subfiles.js';

export type { LatePolicy };

export interface ProcessOptions {
  label: string;
  priority: number;
  /** `latest`: the prerequisite's pass for this RAT version if there is one, else its highest; or a pass number. */
  prereqPass: 'latest' | number;
  dryRun?: boolean;
  /** Subfiles that reach a run after its sub_run pass was taken: a new pass of only them (default), or left out with a line. */
  late?: LatePolicy;
  now?: Date;
}

export interface ProcessedJob {
  module: string;
  run: number;
  pass: number;
  /** Written now (false: this run had it already). */
  created: boolean;
}

export interface ProcessResult {
  jobs: ProcessedJob[];
  /** One line per run or module that got no job, and why. */
  skipped: string[];
}

/** The request a processing pass belongs to: one pass per (module, run) and RAT version. */
export const processRequest = (ratVersion: string) => `process:${ratVersion}`;

/** Modules in an order where every prerequisite comes first, grouped by depth. */
function levels(modules: readonly string[], info: ProcessingInfoDoc): string[][] {
  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const prerequisites = (info.modules[name]?.prerequisites ?? []).filter((other) => modules.includes(other));
    const value = prerequisites.length === 0 ? 0 : 1 + Math.max(...prerequisites.map(depthOf));
    depth.set(name, value);
    return value;
  };
  const grouped: string[][] = [];
  for (const name of modules) (grouped[depthOf(name)] ??= []).push(name);
  return grouped.filter((group) => group !== undefined);
}

interface RunWork {
  run: RunDoc;
  modules: string[];
}

type Addition = PassToAdd & { module: string; run: number };

/** One call of processRuns: what it was given, and what it has placed and skipped so far. */
interface Processing {
  db: Database;
  info: ProcessingInfoDoc;
  options: ProcessOptions;
  request: string;
  created: string;
  work: RunWork[];
  /** By `module:run`: the pass it has, and whether this call wrote it. */
  placed: Map<string, { pass: number; created: boolean }>;
  skipped: string[];
  /** Passes written for subfiles that came after their run's pass was taken. */
  late: ProcessedJob[];
}

const placeKey = (module: string, run: number) => `${module}:${run}`;

/**
 * Creates the processing jobs of runs from the processing information: for each run, the modules
 * its run type needs, one subjob per raw subfile for `sub_run` modules, and prerequisites pointing
 * at the specific pass of the prerequisite module on the same run. Prerequisites are written first,
 * so their pass numbers are known. Running it again for the same runs and version creates nothing.
 */
export async function processRuns(
  db: Database,
  runs: readonly RunDoc[],
  info: ProcessingInfoDoc,
  options: ProcessOptions,
): Promise<ProcessResult> {
  const skipped: string[] = [];
  const processing: Processing = {
    db,
    info,
    options,
    request: processRequest(info.rat_version),
    created: (options.now ?? new Date()).toISOString(),
    work: runsWithModules(runs, info, skipped),
    placed: new Map(),
    skipped,
    late: [],
  };
  const depth = Math.max(0, ...processing.work.map(({ modules }) => levels(modules, info).length));
  for (let level = 0; level < depth; level++) await processLevel(processing, level);
  processing.skipped.push(...lateNotInDependents(processing));
  const jobs = [...processing.placed].map(([name, value]) => {
    const [module = '', run = '0'] = name.split(':');
    return { module, run: Number(run), pass: value.pass, created: value.created };
  });
  return {
    jobs: [...jobs, ...processing.late].sort(
      (a, b) => a.run - b.run || a.module.localeCompare(b.module) || a.pass - b.pass,
    ),
    skipped,
  };
}

/** A line for each pass that needs a module whose run got late subfiles: it reads the run without them. */
function lateNotInDependents(processing: Processing): string[] {
  const { info, placed, work } = processing;
  return processing.late.flatMap((late) => {
    const main = placed.get(placeKey(late.module, late.run))?.pass;
    const modules = work.find((item) => item.run.run === late.run)?.modules ?? [];
    return modules.flatMap((module) => {
      const dependent = placed.get(placeKey(module, late.run));
      if (dependent === undefined || !(info.modules[module]?.prerequisites ?? []).includes(late.module)) return [];
      return [
        `run ${late.run}: ${module} pass ${dependent.pass} needs ${late.module} pass ${main ?? '?'}; the late subfiles in ${late.module} pass ${late.pass} are not in it`,
      ];
    });
  });
}

/** The complete runs whose run type names modules, each with them; a line in skipped for every other run. */
function runsWithModules(runs: readonly RunDoc[], info: ProcessingInfoDoc, skipped: string[]): RunWork[] {
  const work: RunWork[] = [];
  for (const run of runs) {
    if (run.complete === false) {
      skipped.push(`run ${run.run}: still being written (complete: false); no jobs until it is complete`);
      continue;
    }
    const modules = info.run_types[run.run_type];
    if (modules === undefined) {
      skipped.push(
        `run ${run.run}: run type "${run.run_type}" has no modules in the processing information for RAT ${info.rat_version}`,
      );
      continue;
    }
    work.push({ run, modules });
  }
  return work;
}

/** Writes the passes of one depth of modules, whose prerequisites are all placed or stored already. */
async function processLevel(processing: Processing, level: number): Promise<void> {
  const { db, info, options, placed, work, request } = processing;
  const stored = await outsidePrerequisites(processing, level);
  const additions = work.flatMap(({ run, modules }) =>
    (levels(modules, info)[level] ?? []).flatMap((module) => additionFor(processing, run, module, stored) ?? []),
  );
  if (additions.length === 0) return;
  await appendPasses(db, additions, { ...(options.dryRun !== undefined && { dryRun: options.dryRun }) });
  for (const item of additions) {
    if (item.placed !== undefined)
      placed.set(placeKey(item.module, item.run), { pass: item.placed.pass, created: item.placed.existing !== true });
  }
  const existing = additions.filter(
    (item) => item.placed?.existing === true && info.modules[item.module]?.level === 'sub_run',
  );
  if (existing.length > 0) {
    const late = await addLateSubfiles(db, existing, work, {
      request,
      late: options.late ?? 'new-pass',
      created: processing.created,
      ...(options.dryRun === true && { dryRun: true }),
    });
    processing.late.push(...late.passes);
    processing.skipped.push(...late.lines);
  }
}

/** The stored jobs of prerequisites that the run's own run type does not process, by id. */
async function outsidePrerequisites(processing: Processing, level: number): Promise<Map<string, JobDoc>> {
  const { db, info, work } = processing;
  const outsiders = work.flatMap(({ run, modules }) =>
    (levels(modules, info)[level] ?? []).flatMap((module) =>
      (info.modules[module]?.prerequisites ?? [])
        .filter((other) => !modules.includes(other))
        .map((other) => jobId(other, run.run)),
    ),
  );
  const stored = new Map<string, JobDoc>();
  if (outsiders.length > 0) {
    const found = await db.allDocs<JobDoc>({ keys: [...new Set(outsiders)], include_docs: true });
    for (const row of found.rows) if (row.doc) stored.set(row.doc._id, row.doc);
  }
  return stored;
}

/** The pass to add for a module on a run, or undefined (and a line in skipped) when a prerequisite has no pass. */
function additionFor(
  processing: Processing,
  run: RunDoc,
  module: string,
  stored: ReadonlyMap<string, JobDoc>,
): Addition | undefined {
  const { info, options, request } = processing;
  const definition = info.modules[module];
  if (definition === undefined) return undefined;
  const prerequisites: PassRef[] = [];
  const missing: string[] = [];
  for (const other of definition.prerequisites) {
    const pass = prerequisitePass(processing, other, run.run, stored);
    if (pass === undefined) missing.push(other);
    else prerequisites.push({ module: other, run: run.run, pass });
  }
  if (missing.length > 0) {
    const which = options.prereqPass === 'latest' ? 'no pass' : `no pass ${options.prereqPass}`;
    processing.skipped.push(
      `run ${run.run}: ${module} needs ${missing.join(', ')}, which has ${which} on this run; no job`,
    );
    return undefined;
  }
  return {
    module,
    run: run.run,
    isOurs: (pass) => pass.request === request,
    make: (number) => makePass(processing, run, definition, prerequisites, number),
  };
}

/** Which pass of a prerequisite module on the run a new pass points at (see ProcessOptions.prereqPass). */
function prerequisitePass(
  processing: Processing,
  module: string,
  run: number,
  stored: ReadonlyMap<string, JobDoc>,
): number | undefined {
  const { options, request } = processing;
  const here = processing.placed.get(placeKey(module, run));
  const passes = stored.get(jobId(module, run))?.passes ?? [];
  if (options.prereqPass === 'latest')
    return here?.pass ?? passes.find((candidate) => candidate.request === request)?.pass ?? passes.at(-1)?.pass;
  return [here?.pass, ...passes.map((candidate) => candidate.pass)].includes(options.prereqPass)
    ? options.prereqPass
    : undefined;
}

/** A new processing pass: it starts waiting. */
function makePass(
  processing: Processing,
  run: RunDoc,
  definition: ProcessingModule,
  prerequisites: PassRef[],
  number: number,
): Pass {
  const { info, options, request } = processing;
  return {
    pass: number,
    status: 'waiting',
    rat_version: info.rat_version,
    label: options.label,
    priority: options.priority,
    created: processing.created,
    level: definition.level,
    request,
    request_generation: 1,
    request_entry: 0,
    request_index: run.run,
    prerequisites,
    attempts: [],
    // the module's nhit cut fills the macro's ${nhit_cut}, recorded in the pass like a request's template
    ...(definition.nhit_cut !== undefined && { template: { nhit_cut: definition.nhit_cut } }),
    ...(definition.level === 'sub_run' && {
      subjobs: run.subfiles.map((file, index) => subjobOf(file, index)),
    }),
  };
}
