import type { Database } from '../db/database.js';
import { DbError } from '../db/errors.js';
import { jobId, type JobDoc, type Pass } from '../model/documents.js';
import type { PlannedEntry, PlannedJob, SubmitPlan } from './plan.js';

export interface SubmittedJob {
  entry: number;
  index: number;
  module: string;
  run: number;
  pass: number;
  label: string;
}

export interface SubmitResult {
  requestId: string;
  generation: number;
  /** Everything was there already: nothing was written. */
  alreadySubmitted: boolean;
  /** Every job of this request (and generation), written now or before, by entry and index. */
  jobs: SubmittedJob[];
  /** Jobs written by this run (or, in a dry run, that would be). */
  written: number;
}

export interface SubmitOptions {
  requestId: string;
  /** Add another pass to every job of the request even though it was submitted. */
  newPass?: boolean;
  /** Read, plan and report; write nothing. */
  dryRun?: boolean;
  batchSize?: number;
  now?: Date;
  /** Called after each batch; a returned promise is awaited. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
}

interface RequestRowValue {
  module: string;
  run: number;
  pass: number;
}

type RequestKey = [string, number, number, number];

const keyOf = (entry: number, index: number) => `${entry}:${index}`;
const MAX_CONFLICT_ROUNDS = 5;

/** A planned job on its way to a document: where it goes and what pass it becomes. */
interface Pending {
  job: PlannedJob;
  entry: PlannedEntry;
  run?: number;
  pass?: number;
  /** The run was allocated here (not fixed by the request, not reused from generation 1). */
  allocated: boolean;
}

async function fetchJobs(db: Database, ids: readonly string[]): Promise<Map<string, JobDoc>> {
  const found = new Map<string, JobDoc>();
  for (let start = 0; start < ids.length; start += 500) {
    const result = await db.allDocs<JobDoc>({ keys: ids.slice(start, start + 500), include_docs: true });
    for (const row of result.rows) if (row.doc !== undefined && row.doc !== null) found.set(row.doc._id, row.doc);
  }
  return found;
}

/** The highest run any job of the module has, 0 if none: generic runs continue after it. */
async function highestRun(db: Database, module: string): Promise<number> {
  const result = await db.view<[string, number]>('jobs', 'by_module', { startkey: [module, {}], endkey: [module], descending: true, limit: 1 });
  return result.rows[0]?.key[1] ?? 0;
}

function hasOurPass(doc: JobDoc | undefined, requestId: string, generation: number, job: PlannedJob): Pass | undefined {
  return doc?.passes.find(
    (pass) => pass.request === requestId && (pass.request_generation ?? 1) === generation && pass.request_entry === job.entry && pass.request_index === job.index,
  );
}

/**
 * Writes a plan's jobs: one document per (module, run), a new pass on an existing one. Safe to
 * repeat: what a request (generation) already wrote is found through the jobs/by_request view and
 * skipped, so an interrupted submit run again completes what is missing and duplicates nothing.
 * Conflicts (another writer on the same document) are re-read and tried again.
 */
export async function submitPlan(db: Database, plan: SubmitPlan, options: SubmitOptions): Promise<SubmitResult> {
  const { requestId } = options;
  const rows = (await db.view<RequestKey, RequestRowValue>('jobs', 'by_request', { startkey: [requestId], endkey: [requestId, {}] })).rows;
  const latest = rows.reduce((highest, row) => Math.max(highest, row.key[1]), 0);
  const generation = options.newPass === true ? latest + 1 : Math.max(latest, 1);
  const done = new Map<string, RequestRowValue>();
  const firstRuns = new Map<string, number>();
  for (const row of rows) {
    if (row.key[1] === generation) done.set(keyOf(row.key[2], row.key[3]), row.value);
    if (row.key[1] === 1) firstRuns.set(keyOf(row.key[2], row.key[3]), row.value.run);
  }
  const allJobs = plan.entries.flatMap((entry) => entry.jobs.map((job) => ({ job, entry })));
  const pending: Pending[] = allJobs
    .filter(({ job }) => !done.has(keyOf(job.entry, job.index)))
    .map(({ job, entry }) => {
      const run = job.run ?? firstRuns.get(keyOf(job.entry, job.index));
      return { job, entry, allocated: run === undefined, ...(run !== undefined && { run }) };
    });
  const pendingByKey = new Map(pending.map((item) => [keyOf(item.job.entry, item.job.index), item]));
  const result = (written: number): SubmitResult => ({
    requestId,
    generation,
    alreadySubmitted: pending.length === 0,
    written,
    jobs: allJobs.flatMap(({ job, entry }) => {
      const key = keyOf(job.entry, job.index);
      const stored = done.get(key);
      const fresh = pendingByKey.get(key);
      const run = stored?.run ?? fresh?.run;
      const pass = stored?.pass ?? fresh?.pass;
      return run === undefined || pass === undefined ? [] : [{ entry: job.entry, index: job.index, module: entry.module, run, pass, label: entry.label }];
    }),
  });
  if (pending.length === 0) return result(0);

  const nextRun = new Map<string, number>();
  const allocate = async (module: string, fresh = false): Promise<number> => {
    const last = fresh || !nextRun.has(module) ? await highestRun(db, module) : (nextRun.get(module) ?? 0);
    const run = Math.max(last, nextRun.get(module) ?? 0) + 1;
    nextRun.set(module, run);
    return run;
  };
  for (const item of pending) if (item.run === undefined) item.run = await allocate(item.entry.module);

  const created = (options.now ?? new Date()).toISOString();
  const makePass = (item: Pending, number: number): Pass => ({
    pass: number,
    status: 'waiting',
    rat_version: plan.ratVersion,
    label: item.entry.label,
    priority: item.entry.priority,
    created,
    event_mode: item.entry.eventMode,
    amount: item.job.amount,
    template: item.entry.template,
    macro_sha256: item.entry.macroSha256,
    ...(plan.ratdbTag !== undefined && { ratdb_tag: plan.ratdbTag }),
    request: requestId,
    request_generation: generation,
    request_entry: item.job.entry,
    request_index: item.job.index,
    attempts: [],
    ...(item.job.subjobs !== undefined && { subjobs: item.job.subjobs }),
  });

  /**
   * Puts each item's pass on its document, read fresh, numbering it after the highest pass there.
   * An item whose pass is there already (an earlier try landed) counts as written; an allocated
   * run someone else took meanwhile is replaced by the next free one.
   */
  const build = async (items: Pending[]): Promise<{ targets: Array<{ doc: JobDoc; items: Pending[] }>; landed: number }> => {
    const idOf = (item: Pending) => jobId(item.entry.module, item.run ?? 0);
    let stored = await fetchJobs(db, [...new Set(items.map(idOf))]);
    const taken = items.filter((item) => item.allocated && stored.has(idOf(item)) && hasOurPass(stored.get(idOf(item)), requestId, generation, item.job) === undefined);
    if (taken.length > 0) {
      for (const item of taken) item.run = await allocate(item.entry.module, true);
      stored = new Map([...stored, ...(await fetchJobs(db, [...new Set(taken.map(idOf))]))]);
    }
    const docs = new Map<string, { doc: JobDoc; items: Pending[] }>();
    let landed = 0;
    for (const item of items) {
      const id = idOf(item);
      let target = docs.get(id);
      if (target === undefined) {
        const doc: JobDoc = stored.get(id) ?? { _id: id, type: 'job', module: item.entry.module, run: item.run ?? 0, passes: [] };
        target = { doc: { ...doc, passes: [...doc.passes] }, items: [] };
        docs.set(id, target);
      }
      const ours = hasOurPass(target.doc, requestId, generation, item.job);
      if (ours !== undefined) {
        item.pass = ours.pass;
        landed += 1;
        continue;
      }
      item.pass = target.doc.passes.reduce((highest, pass) => Math.max(highest, pass.pass), 0) + 1;
      target.doc.passes.push(makePass(item, item.pass));
      target.items.push(item);
    }
    return { targets: [...docs.values()].filter((target) => target.items.length > 0), landed };
  };

  let { targets, landed } = await build(pending);
  if (options.dryRun === true) return result(pending.length);

  const batchSize = options.batchSize ?? 500;
  let written = landed;
  for (let round = 1; targets.length > 0; round++) {
    const conflicted: Pending[] = [];
    for (let start = 0; start < targets.length; start += batchSize) {
      const batch = targets.slice(start, start + batchSize);
      const answers = await db.bulkDocs(batch.map((target) => target.doc));
      answers.forEach((answer, position) => {
        const target = batch[position];
        if (target === undefined) return;
        if (answer.ok) written += target.items.length;
        else if (answer.error === 'conflict') conflicted.push(...target.items);
        else throw new DbError({ statusCode: 400, error: answer.error, reason: answer.reason, request: `POST ${db.couch.url}/${db.name}/_bulk_docs (${answer.id})` });
      });
      await options.onProgress?.(written, pending.length);
    }
    if (conflicted.length === 0) break;
    if (round >= MAX_CONFLICT_ROUNDS) {
      throw new DbError(
        { request: `POST ${db.couch.url}/${db.name}/_bulk_docs` },
        `${conflicted.length} jobs met conflicts ${MAX_CONFLICT_ROUNDS} times (other writers on the same documents); run the same submit again to complete them`,
      );
    }
    ({ targets, landed } = await build(conflicted));
    written += landed;
  }
  return result(written);
}
