import type { Database } from '../db/database.js';
import { fileNameOf } from '../model/storage-url.js';
import { jobId, type JobDoc, type Pass, type RawSubfileEntry, type RunDoc, type Subjob } from '../model/documents.js';

/** What to do with raw subfiles that reach a run after its sub_run pass was taken. */
export const LATE_POLICIES = ['new-pass', 'ignore'] as const;
export type LatePolicy = (typeof LATE_POLICIES)[number];

/** The subjob that reads a raw subfile: from where the run says it is, else by its name. */
export const subjobOf = (file: RawSubfileEntry, index: number): Subjob => ({
  index,
  file: file.url ?? file.name,
  checksum: file.checksum,
});

/** The file name a subjob reads, however it is given (name, path or URL; the runs schema makes a URL end in its subfile's name). */
const fileName = (subjob: Subjob) => fileNameOf(subjob.file ?? '') ?? subjob.file ?? '';

/** Passes whose run's new subfiles should not start new work: a person stopped them. */
const STOPPED: ReadonlyArray<Pass['status']> = ['canceled', 'deleted'];

export interface LateResult {
  /** Passes written for late subfiles. */
  passes: Array<{ module: string; run: number; pass: number; created: true }>;
  /** One line per run whose new subfiles were left out, and why. */
  lines: string[];
}

interface LateSettings {
  request: string;
  late: LatePolicy;
  created: string;
  /** Work out what would be written, and write nothing. */
  dryRun?: boolean;
}

/** How many times a job changed by someone else meanwhile is read again before giving up. */
const ROUNDS = 5;

/**
 * A run registered again with more subfiles. A sub_run pass of the request still waiting gets
 * subjobs for the new ones; when every pass of the request on the run is taken or finished, the new
 * subfiles become a new pass of only them (`late: new-pass`), or are left out with a line
 * (`ignore`). Every write carries the document's _rev, so none of this races a client claiming it;
 * a document changed meanwhile is read again and the subfiles placed in what it is now.
 */
export async function addLateSubfiles(
  db: Database,
  items: ReadonlyArray<{ module: string; run: number }>,
  work: ReadonlyArray<{ run: RunDoc }>,
  settings: LateSettings,
): Promise<LateResult> {
  const result: LateResult = { passes: [], lines: [] };
  const merge = (outcome: LateResult) => {
    result.passes.push(...outcome.passes);
    result.lines.push(...outcome.lines);
  };
  let pending = [...new Set(items.map((item) => jobId(item.module, item.run)))];
  for (let round = 1; pending.length > 0; round++) {
    const found = await db.allDocs<JobDoc>({ keys: pending, include_docs: true });
    const planned = new Map<string, { doc: JobDoc; outcome: LateResult }>();
    for (const row of found.rows) {
      const doc = row.doc;
      const run = work.find((candidate) => candidate.run.run === doc?.run)?.run;
      if (doc === undefined || doc === null || run === undefined) continue;
      const outcome: LateResult = { passes: [], lines: [] };
      const updated = withLateSubfiles(doc, run, settings, outcome);
      if (updated === undefined) merge(outcome);
      else planned.set(doc._id, { doc: updated, outcome });
    }
    pending = [];
    if (settings.dryRun === true) for (const plan of planned.values()) merge(plan.outcome);
    if (planned.size === 0 || settings.dryRun === true) break;
    for (const answer of await db.bulkDocs([...planned.values()].map((plan) => plan.doc))) {
      const plan = planned.get(answer.id);
      if (plan === undefined) continue;
      if (answer.ok) merge(plan.outcome);
      else if (round < ROUNDS) pending.push(answer.id);
      else
        result.lines.push(
          `${answer.id}: changed ${ROUNDS} times meanwhile; its new subfiles were not added (run process again)`,
        );
    }
  }
  return result;
}

/** The job with the run's new subfiles placed, or undefined when there is nothing to write. */
function withLateSubfiles(doc: JobDoc, run: RunDoc, settings: LateSettings, result: LateResult): JobDoc | undefined {
  const ours = doc.passes.filter((pass) => pass.request === settings.request);
  const first = ours[0];
  if (first === undefined) return undefined;
  const known = new Set(ours.flatMap((pass) => (pass.subjobs ?? []).map(fileName)));
  const fresh = run.subfiles.filter((file) => !known.has(file.name));
  if (fresh.length === 0) return undefined;
  const files = `${fresh.length} new subfile${fresh.length === 1 ? '' : 's'}`;
  const waiting = ours.findLast((pass) => pass.status === 'waiting');
  if (waiting !== undefined) {
    const start = waiting.subjobs?.length ?? 0;
    const subjobs = [...(waiting.subjobs ?? []), ...fresh.map((file, offset) => subjobOf(file, start + offset))];
    return { ...doc, passes: doc.passes.map((pass) => (pass === waiting ? { ...pass, subjobs } : pass)) };
  }
  if (ours.every((pass) => STOPPED.includes(pass.status))) {
    result.lines.push(`run ${run.run}: ${doc.module} pass ${first.pass} is ${first.status}; ${files} left out`);
    return undefined;
  }
  if (settings.late === 'ignore') {
    result.lines.push(
      `run ${run.run}: ${doc.module} pass ${first.pass} is ${first.status}; ${files} left out (--late ignore; --late new-pass makes a pass of them)`,
    );
    return undefined;
  }
  const number = Math.max(...doc.passes.map((pass) => pass.pass)) + 1;
  result.passes.push({ module: doc.module, run: run.run, pass: number, created: true });
  return { ...doc, passes: [...doc.passes, makeLatePass(first, number, fresh, settings.created)] };
}

/** A new pass like `first` reading only the late subfiles: it starts waiting. */
function makeLatePass(first: Pass, number: number, fresh: readonly RawSubfileEntry[], created: string): Pass {
  return {
    ...definitionOf(first),
    pass: number,
    status: 'waiting',
    created,
    late_of: first.pass,
    attempts: [],
    subjobs: fresh.map((file, index) => subjobOf(file, index)),
  };
}

/** What a pass was asked to do, without what happened to it (claim, site, attempts, subjob states). */
function definitionOf(pass: Pass): Omit<Pass, 'pass' | 'status' | 'created' | 'attempts'> {
  const {
    pass: _number,
    status: _status,
    created: _created,
    attempts: _attempts,
    site: _site,
    claim: _claim,
    subjobs: _subjobs,
    cancel_requested: _cancel,
    attempts_dropped: _dropped,
    late_of: _lateOf,
    ...definition
  } = pass;
  return definition;
}
