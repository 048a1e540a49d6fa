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

/** A job document to write, and the passes this call adds to it. */
interface Target {
  doc: JobDoc;
  items: PassToAdd[];
}

const runOf = (item: PassToAdd) => item.placed?.run ?? item.run ?? 0;
const idOf = (item: PassToAdd) => jobId(item.module, runOf(item));

/** The runs this call gives generic passes: the next free run of each module. */
interface RunAllocator {
  /** Gives a generic pass the next free run of its module. */
  place(item: PassToAdd): Promise<void>;
  /** Whether this call chose the pass's run (the caller named none). */
  chose(item: PassToAdd): boolean;
  /** Someone else took runs meanwhile: read each module's highest run again. */
  readAgain(): void;
}

function runAllocator(db: Database): RunAllocator {
  const chosen = new Set<PassToAdd>();
  const nextRun = new Map<string, number>();
  /** Modules whose highest run was read in this round: read once a round, then counted here. */
  let readThisRound = new Set<string>();
  return {
    async place(item) {
      const last = readThisRound.has(item.module) ? 0 : await highestRun(db, item.module);
      readThisRound.add(item.module);
      const run = Math.max(last, nextRun.get(item.module) ?? 0) + 1;
      nextRun.set(item.module, run);
      item.placed = { run, pass: 0 };
      chosen.add(item);
    },
    chose: (item) => chosen.has(item),
    readAgain() {
      readThisRound = new Set();
    },
  };
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
  const runs = runAllocator(db);
  for (const item of additions) if (item.run === undefined) await runs.place(item);
  let { targets, landed } = placePasses(await storedJobs(db, runs, additions), additions, true);
  const existing = landed;
  if (options.dryRun === true)
    return { written: targets.reduce((sum, target) => sum + target.items.length, 0), existing };
  const tally = { written: 0, existing, total: additions.length };
  for (let round = 1; targets.length > 0; round++) {
    const { conflicted, interrupted } = await writeRound(db, targets, tally, options);
    if (interrupted) return { written: tally.written, existing, interrupted: true };
    if (conflicted.length === 0) break;
    if (round >= MAX_CONFLICT_ROUNDS) {
      throw new DbError(
        { request: `POST ${db.couch.url}/${db.name}/_bulk_docs` },
        `${conflicted.length} passes met conflicts ${MAX_CONFLICT_ROUNDS} times (other writers on the same documents); run the same command again to complete them`,
      );
    }
    // a conflicted pass found there now was written by this call's own earlier try
    ({ targets, landed } = placePasses(await storedJobs(db, runs, conflicted), conflicted, false));
    tally.written += landed;
  }
  return { written: tally.written, existing };
}

/** The stored job documents of the passes, after moving generic passes off runs someone else took meanwhile. */
async function storedJobs(db: Database, runs: RunAllocator, items: readonly PassToAdd[]): Promise<Map<string, JobDoc>> {
  const stored = await fetchJobs(db, [...new Set(items.map(idOf))]);
  const taken = items.filter(
    (item) =>
      runs.chose(item) && stored.has(idOf(item)) && !stored.get(idOf(item))?.passes.some((pass) => item.isOurs(pass)),
  );
  if (taken.length === 0) return stored;
  runs.readAgain();
  for (const item of taken) await runs.place(item);
  return new Map([...stored, ...(await fetchJobs(db, [...new Set(taken.map(idOf))]))]);
}

/**
 * Numbers each pass on its document (a pass already there is found, not added again) and gives the
 * documents that gain a pass. `first`: a pass found there was written before this call.
 */
function placePasses(
  stored: ReadonlyMap<string, JobDoc>,
  items: readonly PassToAdd[],
  first: boolean,
): { targets: Target[]; landed: number } {
  const docs = new Map<string, Target>();
  let landed = 0;
  for (const item of items) {
    const id = idOf(item);
    let target = docs.get(id);
    if (target === undefined) {
      const doc: JobDoc = stored.get(id) ?? { _id: id, type: 'job', module: item.module, run: runOf(item), passes: [] };
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
}

/** Writes the documents in batches, counting into tally; the passes whose document met a conflict. */
async function writeRound(
  db: Database,
  targets: readonly Target[],
  tally: { written: number; existing: number; total: number },
  options: AppendOptions,
): Promise<{ conflicted: PassToAdd[]; interrupted: boolean }> {
  const batchSize = options.batchSize ?? 500;
  const conflicted: PassToAdd[] = [];
  for (let start = 0; start < targets.length; start += batchSize) {
    if (options.signal?.aborted === true) return { conflicted, interrupted: true };
    const batch = targets.slice(start, start + batchSize);
    const answers = await db.bulkDocs(batch.map((target) => target.doc));
    answers.forEach((answer, position) => {
      const target = batch[position];
      if (target === undefined) return;
      if (answer.ok) tally.written += target.items.length;
      else if (answer.error === 'conflict') conflicted.push(...target.items);
      else
        throw new DbError({
          statusCode: 400,
          error: answer.error,
          reason: answer.reason,
          request: `POST ${db.couch.url}/${db.name}/_bulk_docs (${answer.id})`,
        });
    });
    await options.onProgress?.(tally.written + tally.existing, tally.total);
  }
  return { conflicted, interrupted: false };
}
