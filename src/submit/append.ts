import type { Database } from '../db/database.js';
import { DbError } from '../db/errors.js';
import { jobId, type JobDoc, type Pass } from '../model/documents.js';

/** One pass to add to the job document of (module, run). */
export interface PassToAdd {
  module: string;
  /** Absent for generic jobs: the next free run of the module is taken. */
  run?: number;
  /** Whether a stored pass is this one, written by an earlier try. */
  isOurs(pass: Pass): boolean;
  make(passNumber: number): Pass;
  /** Filled in: where the pass went, and whether it was there before this call. */
  placed?: { run: number; pass: number; existing?: boolean };
}

export interface AppendOptions {
  batchSize?: number;
  /** Read and number everything; write nothing. */
  dryRun?: boolean;
  /** Called after each batch; a returned promise is awaited. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /** Checked before each batch: once aborted, no further batch is written. */
  signal?: AbortSignal;
}

const MAX_CONFLICT_ROUNDS = 5;

export interface AppendResult {
  /** Passes this call wrote (or, in a dry run, would write). */
  written: number;
  /** Passes found already there before writing: an earlier run wrote them. */
  existing: number;
  /** The signal stopped it between batches: the rest is not written. */
  interrupted?: boolean;
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
  const result = await db.view<[string, number]>('jobs', 'by_module', {
    startkey: [module, {}],
    endkey: [module],
    descending: true,
    limit: 1,
  });
  return result.rows[0]?.key[1] ?? 0;
}

/**
 * Adds passes to job documents in `_bulk_docs` batches: a new document per new (module, run), the
 * next pass number on an existing one. A conflict (another writer on the document) is re-read and
 * tried again; a pass an earlier try already wrote counts as written; a generic run someone else
 * took meanwhile is replaced by the next free one.
 */
export async function appendPasses(
  db: Database,
  additions: readonly PassToAdd[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  const allocated = new Set<PassToAdd>();
  const nextRun = new Map<string, number>();
  /** Modules whose highest run was read in this round: read once a round, then counted here. */
  let readThisRound = new Set<string>();
  const allocate = async (module: string): Promise<number> => {
    const last = readThisRound.has(module) ? 0 : await highestRun(db, module);
    readThisRound.add(module);
    const run = Math.max(last, nextRun.get(module) ?? 0) + 1;
    nextRun.set(module, run);
    return run;
  };
  const runOf = (item: PassToAdd) => item.placed?.run ?? item.run ?? 0;
  for (const item of additions) {
    if (item.run !== undefined) continue;
    item.placed = { run: await allocate(item.module), pass: 0 };
    allocated.add(item);
  }

  const build = async (items: readonly PassToAdd[], first: boolean) => {
    const idOf = (item: PassToAdd) => jobId(item.module, runOf(item));
    let stored = await fetchJobs(db, [...new Set(items.map(idOf))]);
    const taken = items.filter(
      (item) =>
        allocated.has(item) &&
        stored.has(idOf(item)) &&
        !stored.get(idOf(item))?.passes.some((pass) => item.isOurs(pass)),
    );
    if (taken.length > 0) {
      readThisRound = new Set();
      for (const item of taken) item.placed = { run: await allocate(item.module), pass: 0 };
      stored = new Map([...stored, ...(await fetchJobs(db, [...new Set(taken.map(idOf))]))]);
    }
    const docs = new Map<string, { doc: JobDoc; items: PassToAdd[] }>();
    let landed = 0;
    for (const item of items) {
      const id = idOf(item);
      let target = docs.get(id);
      if (target === undefined) {
        const doc: JobDoc = stored.get(id) ?? {
          _id: id,
          type: 'job',
          module: item.module,
          run: runOf(item),
          passes: [],
        };
        target = { doc: { ...doc, passes: [...doc.passes] }, items: [] };
        docs.set(id, target);
      }
      const ours = target.doc.passes.find((pass) => item.isOurs(pass));
      if (ours !== undefined) {
        item.placed = { run: runOf(item), pass: ours.pass, existing: first };
        landed += 1;
        continue;
      }
      const number = target.doc.passes.reduce((highest, pass) => Math.max(highest, pass.pass), 0) + 1;
      item.placed = { run: runOf(item), pass: number };
      target.doc.passes.push(item.make(number));
      target.items.push(item);
    }
    return { targets: [...docs.values()].filter((target) => target.items.length > 0), landed };
  };

  let { targets, landed } = await build(additions, true);
  const existing = landed;
  if (options.dryRun === true)
    return { written: targets.reduce((sum, target) => sum + target.items.length, 0), existing };
  const batchSize = options.batchSize ?? 500;
  let written = 0;
  for (let round = 1; targets.length > 0; round++) {
    const conflicted: PassToAdd[] = [];
    for (let start = 0; start < targets.length; start += batchSize) {
      if (options.signal?.aborted === true) return { written, existing, interrupted: true };
      const batch = targets.slice(start, start + batchSize);
      const answers = await db.bulkDocs(batch.map((target) => target.doc));
      answers.forEach((answer, position) => {
        const target = batch[position];
        if (target === undefined) return;
        if (answer.ok) written += target.items.length;
        else if (answer.error === 'conflict') conflicted.push(...target.items);
        else
          throw new DbError({
            statusCode: 400,
            error: answer.error,
            reason: answer.reason,
            request: `POST ${db.couch.url}/${db.name}/_bulk_docs (${answer.id})`,
          });
      });
      await options.onProgress?.(written + existing, additions.length);
    }
    if (conflicted.length === 0) break;
    if (round >= MAX_CONFLICT_ROUNDS) {
      throw new DbError(
        { request: `POST ${db.couch.url}/${db.name}/_bulk_docs` },
        `${conflicted.length} passes met conflicts ${MAX_CONFLICT_ROUNDS} times (other writers on the same documents); run the same command again to complete them`,
      );
    }
    // a conflicted pass found there now was written by this call's own earlier try
    ({ targets, landed } = await build(conflicted, false));
    written += landed;
  }
  return { written, existing };
}
