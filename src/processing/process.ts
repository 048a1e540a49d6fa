import type { Database } from '../db/database.js';
import {
  jobId,
  type JobDoc,
  type Pass,
  type PassRef,
  type ProcessingInfoDoc,
  type RunDoc,
} from '../model/documents.js';
import { appendPasses, type PassToAdd } from '../submit/append.js';

export interface ProcessOptions {
  label: string;
  priority: number;
  /** `latest`: the prerequisite's pass for this RAT version if there is one, else its highest; or a pass number. */
  prereqPass: 'latest' | number;
  dryRun?: boolean;
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
  const request = processRequest(info.rat_version);
  const created = (options.now ?? new Date()).toISOString();
  const skipped: string[] = [];
  const placed = new Map<string, { pass: number; created: boolean }>();
  const key = (module: string, run: number) => `${module}:${run}`;
  const work: Array<{ run: RunDoc; modules: string[] }> = [];
  for (const run of runs) {
    const modules = info.run_types[run.run_type];
    if (modules === undefined) {
      skipped.push(
        `run ${run.run}: run type "${run.run_type}" has no modules in the processing information for RAT ${info.rat_version}`,
      );
      continue;
    }
    work.push({ run, modules });
  }
  const depth = Math.max(0, ...work.map(({ modules }) => levels(modules, info).length));
  for (let level = 0; level < depth; level++) {
    const additions: Array<PassToAdd & { module: string; run: number }> = [];
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
    for (const { run, modules } of work) {
      for (const module of levels(modules, info)[level] ?? []) {
        const definition = info.modules[module];
        if (definition === undefined) continue;
        const prerequisites: PassRef[] = [];
        const missing: string[] = [];
        for (const other of definition.prerequisites) {
          const here = placed.get(key(other, run.run));
          const passes = stored.get(jobId(other, run.run))?.passes ?? [];
          const pass =
            options.prereqPass === 'latest'
              ? (here?.pass ?? passes.find((candidate) => candidate.request === request)?.pass ?? passes.at(-1)?.pass)
              : [here?.pass, ...passes.map((candidate) => candidate.pass)].includes(options.prereqPass)
                ? options.prereqPass
                : undefined;
          if (pass === undefined) missing.push(other);
          else prerequisites.push({ module: other, run: run.run, pass });
        }
        if (missing.length > 0) {
          const which = options.prereqPass === 'latest' ? 'no pass' : `no pass ${options.prereqPass}`;
          skipped.push(`run ${run.run}: ${module} needs ${missing.join(', ')}, which has ${which} on this run; no job`);
          continue;
        }
        additions.push({
          module,
          run: run.run,
          isOurs: (pass) => pass.request === request,
          make: (number): Pass => ({
            pass: number,
            status: 'waiting',
            rat_version: info.rat_version,
            label: options.label,
            priority: options.priority,
            created,
            level: definition.level,
            request,
            request_generation: 1,
            request_entry: 0,
            request_index: run.run,
            prerequisites,
            attempts: [],
            ...(definition.level === 'sub_run' && {
              subjobs: run.subfiles.map((file, index) => ({ index, file: file.name })),
            }),
          }),
        });
      }
    }
    if (additions.length === 0) continue;
    await appendPasses(db, additions, { ...(options.dryRun !== undefined && { dryRun: options.dryRun }) });
    for (const item of additions) {
      if (item.placed !== undefined)
        placed.set(key(item.module, item.run), { pass: item.placed.pass, created: item.placed.existing !== true });
    }
    const existing = additions.filter(
      (item) => item.placed?.existing === true && info.modules[item.module]?.level === 'sub_run',
    );
    if (existing.length > 0 && options.dryRun !== true)
      skipped.push(...(await addNewSubfiles(db, existing, work, request)));
  }
  const jobs = [...placed].map(([name, value]) => {
    const [module = '', run = '0'] = name.split(':');
    return { module, run: Number(run), pass: value.pass, created: value.created };
  });
  return { jobs: jobs.sort((a, b) => a.run - b.run || a.module.localeCompare(b.module)), skipped };
}

/**
 * A run registered again with more subfiles: a sub_run pass still waiting gets subjobs for the new
 * ones (the _rev check keeps this from racing a client claiming it); a pass already taken is left,
 * with a line saying so.
 */
async function addNewSubfiles(
  db: Database,
  items: ReadonlyArray<{ module: string; run: number }>,
  work: ReadonlyArray<{ run: RunDoc }>,
  request: string,
): Promise<string[]> {
  const lines: string[] = [];
  const found = await db.allDocs<JobDoc>({
    keys: items.map((item) => jobId(item.module, item.run)),
    include_docs: true,
  });
  const updates: JobDoc[] = [];
  for (const row of found.rows) {
    const doc = row.doc;
    if (doc === undefined || doc === null) continue;
    const run = work.find((candidate) => candidate.run.run === doc.run)?.run;
    const pass = doc.passes.find((candidate) => candidate.request === request);
    if (run === undefined || pass === undefined) continue;
    const known = new Set((pass.subjobs ?? []).map((subjob) => subjob.file));
    const fresh = run.subfiles.filter((file) => !known.has(file.name));
    if (fresh.length === 0) continue;
    if (pass.status !== 'waiting') {
      lines.push(
        `run ${run.run}: ${doc.module} pass ${pass.pass} is ${pass.status}; ${fresh.length} new subfiles are not in it (retry the pass to include them)`,
      );
      continue;
    }
    const start = pass.subjobs?.length ?? 0;
    const subjobs = [
      ...(pass.subjobs ?? []),
      ...fresh.map((file, offset) => ({ index: start + offset, file: file.name })),
    ];
    updates.push({
      ...doc,
      passes: doc.passes.map((candidate) => (candidate === pass ? { ...pass, subjobs } : candidate)),
    });
  }
  if (updates.length > 0) {
    const answers = await db.bulkDocs(updates);
    for (const answer of answers) {
      if (!answer.ok)
        lines.push(`${answer.id}: changed meanwhile; its new subfiles were not added (run process again)`);
    }
  }
  return lines;
}
