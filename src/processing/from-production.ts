import { fileURLToPath } from 'node:url';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import { usableReplicas } from '../model/data.js';
import type { DataDoc, Pass, PassRef, ProcessingInfoDoc, ProcessingModule, Subjob } from '../model/documents.js';
import { dataDocsOf } from '../shifter/data-docs.js';
import { unknownLabel } from '../shifter/selection.js';
import { appendPasses, type PassToAdd } from '../submit/append.js';
import type { ProcessedJob } from './process.js';

/** The data type a processing module reads from a production pass: its RAT data structure files. */
export const INPUT_DATA_TYPE = 'ratds';

export interface FromProductionOptions {
  /** The production label whose completed passes are read. */
  source: string;
  module: string;
  label: string;
  priority: number;
  dryRun?: boolean;
  now?: Date;
}

export interface ReprocessedJob extends ProcessedJob {
  /** The production pass it reads. */
  from: PassRef;
  inputs: number;
}

export interface FromProductionResult {
  jobs: ReprocessedJob[];
  /** One line per completed pass that got no job, and why. */
  skipped: string[];
}

/** The request a pass reprocessing production output belongs to: one per (module, source pass) and RAT version. */
export const reprocessRequest = (ratVersion: string) => `reprocess:${ratVersion}`;

const sameRef = (a: PassRef | undefined, b: PassRef) =>
  a !== undefined && a.module === b.module && a.run === b.run && a.pass === b.pass;

/** The completed passes of a label, from jobs/by_label; bad input when the label has none. */
async function completedPasses(db: Database, source: string): Promise<PassRef[]> {
  const unknown = await unknownLabel(db, '--from-production', source);
  if (unknown !== undefined) throw new InputError([unknown]);
  const rows = await db.view<[string, string, number, number], string>('jobs', 'by_label', {
    startkey: [source],
    endkey: [source, {}],
  });
  // the newest completed pass of the label on each job: an older one it redid is not reprocessed
  const newest = new Map<string, PassRef>();
  for (const { key, value } of rows.rows) {
    const [, module, run, pass] = key;
    const known = newest.get(`${module}:${run}`);
    if (value === 'completed' && (known === undefined || known.pass < pass))
      newest.set(`${module}:${run}`, { module, run, pass });
  }
  const completed = [...newest.values()];
  if (completed.length === 0)
    throw new InputError([
      `--from-production: label "${source}" has no completed passes in ${db.name} (expected a production run to completion first)`,
    ]);
  return completed;
}

type Input = Pick<Subjob, 'file' | 'checksum'>;

/**
 * What a job reads of a file: the local path of its first usable file:// copy, else its first
 * usable root:// copy (the job wrapper copies it in); with the file's adler32, which the wrapper
 * checks a copy against. Undefined when it has no usable copy of either kind.
 */
function inputOf(file: DataDoc['files'][number]): Input | undefined {
  const usable = usableReplicas(file);
  const local = usable.find((replica) => replica.url.startsWith('file://'));
  const remote = usable.find((replica) => /^x?root:\/\//.test(replica.url));
  const checksum = `adler32:${file.adler32}`;
  if (local !== undefined) return { file: fileURLToPath(local.url), checksum };
  return remote === undefined ? undefined : { file: remote.url, checksum };
}

/**
 * Creates, in the production database, processing passes of `module` over the output of a
 * production label: one pass per completed pass of the label on its run (job `module:run`), one
 * subjob per ratds file reading its first usable file:// copy, else its root:// copy, with a
 * prerequisite on the pass it reads. Running it again creates nothing. Bad input (an unknown
 * label, one without completed passes, an input with no usable copy) writes nothing.
 */
export async function processFromProduction(
  db: Database,
  info: ProcessingInfoDoc,
  options: FromProductionOptions,
): Promise<FromProductionResult> {
  const definition = info.modules[options.module];
  if (definition === undefined)
    throw new InputError([
      `--module: "${options.module}" is not a module of the processing information for RAT ${info.rat_version} (expected one of ${Object.keys(info.modules).join(', ')})`,
    ]);
  const sources = await completedPasses(db, options.source);
  const docs = (await dataDocsOf(db, sources)).filter((doc) => doc.data_type === INPUT_DATA_TYPE);
  const skipped: string[] = [];
  const problems: string[] = [];
  const planned: Array<{ from: PassRef; inputs: Input[] }> = [];
  for (const from of sources) {
    const doc = docs.find((candidate) => sameRef(candidate, from));
    if (doc === undefined || doc.files.length === 0) {
      skipped.push(`${from.module} run ${from.run} pass ${from.pass}: no ${INPUT_DATA_TYPE} files recorded; no job`);
      continue;
    }
    const files = [...doc.files].sort((a, b) => a.subjob - b.subjob);
    const inputs = files.map(inputOf);
    files.forEach((file, index) => {
      if (inputs[index] === undefined)
        problems.push(
          `${file.lfn}: no usable copy to read (expected a file:// or root:// replica that gasp verify has not found missing)`,
        );
    });
    planned.push({ from, inputs: inputs.flatMap((input) => input ?? []) });
  }
  if (problems.length > 0) throw new InputError(problems);
  const request = reprocessRequest(info.rat_version);
  const created = (options.now ?? new Date()).toISOString();
  const additions = planned.map(({ from, inputs }): PassToAdd & { run: number } => ({
    module: options.module,
    run: from.run,
    isOurs: (pass: Pass) => pass.request === request && sameRef(pass.prerequisites?.[0], from),
    make: (number: number) => makePass(definition, info, options, { from, inputs, request, created, number }),
  }));
  await appendPasses(db, additions, { ...(options.dryRun === true && { dryRun: true }) });
  const jobs = additions.flatMap((item, index) => {
    const plan = planned[index];
    if (item.placed === undefined || plan === undefined) return [];
    const { pass, existing } = item.placed;
    return [
      { module: item.module, run: item.run, pass, created: existing !== true, ...plan, inputs: plan.inputs.length },
    ];
  });
  return { jobs, skipped };
}

/** A new pass reading a production pass's files: it starts waiting, its prerequisite already completed. */
function makePass(
  definition: ProcessingModule,
  info: ProcessingInfoDoc,
  options: FromProductionOptions,
  made: { from: PassRef; inputs: Input[]; request: string; created: string; number: number },
): Pass {
  return {
    pass: made.number,
    status: 'waiting',
    rat_version: info.rat_version,
    label: options.label,
    priority: options.priority,
    created: made.created,
    level: definition.level,
    request: made.request,
    request_generation: 1,
    request_entry: 0,
    request_index: made.from.run,
    prerequisites: [made.from],
    attempts: [],
    ...(definition.nhit_cut !== undefined && { template: { nhit_cut: definition.nhit_cut } }),
    // one subjob per input file, whatever the module's level: the client gives each `rat -i FILE`
    subjobs: made.inputs.map((input, index) => ({ index, ...input })),
  };
}
