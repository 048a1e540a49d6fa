import type { Database } from '../db/database.js';
import { InterruptedError } from '../errors.js';
import type { Pass } from '../model/documents.js';
import { appendPasses, type AppendResult, type PassToAdd } from './append.js';
import { Lease } from './lease.js';
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
  /** Called once what is there is known, before the first write (not in a dry run). */
  onStart?: (start: WriteStart) => void;
  /** Aborted (Ctrl-C): the batch being written completes, then it stops with an InterruptedError. */
  signal?: AbortSignal;
}

export interface WriteStart {
  generation: number;
  /** Jobs of the request (generation). */
  total: number;
  /** Of them, written by an earlier run. */
  present: number;
}

interface RequestRowValue {
  module: string;
  run: number;
  pass: number;
}

type RequestKey = [string, number, number, number];

const keyOf = (entry: number, index: number) => `${entry}:${index}`;

/**
 * Writes a plan's jobs: one document per (module, run), a new pass on an existing one. Safe to
 * repeat: what a request (generation) already wrote is found through the jobs/by_request view and
 * skipped, so an interrupted submit run again completes what is missing and duplicates nothing.
 */
export async function submitPlan(db: Database, plan: SubmitPlan, options: SubmitOptions): Promise<SubmitResult> {
  const { requestId } = options;
  // one submit of a request at a time: a second waits rather than racing the first
  const lease = options.dryRun === true ? undefined : await Lease.take(db, `submit:${requestId}`);
  try {
    return await writeRequest(db, plan, options, lease);
  } finally {
    await lease?.release();
  }
}

/** What a request (generation) has written already, from the jobs/by_request view. */
interface Written {
  /** The generation this submit writes: the latest, or a new one for --new-pass. */
  generation: number;
  /** By `entry:index`: the jobs of that generation already there. */
  done: Map<string, RequestRowValue>;
  /** By `entry:index`: the run each job got in generation 1. */
  firstRuns: Map<string, number>;
}

/** One planned job and the entry it belongs to. */
interface EntryJob {
  entry: PlannedEntry;
  job: PlannedJob;
}

async function writeRequest(
  db: Database,
  plan: SubmitPlan,
  options: SubmitOptions,
  lease: Lease | undefined,
): Promise<SubmitResult> {
  const { requestId } = options;
  const planned = plan.entries.reduce((sum, entry) => sum + entry.jobs.length, 0);
  const written = await writtenBefore(db, requestId, planned, options.newPass === true);
  const { generation } = written;
  const created = (options.now ?? new Date()).toISOString();
  const all = plan.entries.flatMap((entry) => entry.jobs.map((job) => ({ job, entry })));
  const additions = new Map<string, PassToAdd>();
  for (const { job, entry } of all) {
    const key = keyOf(job.entry, job.index);
    if (written.done.has(key)) continue;
    // --new-pass puts generic jobs on the runs the request first got
    const run = job.run ?? written.firstRuns.get(key);
    additions.set(key, {
      module: entry.module,
      ...(run !== undefined && { run }),
      isOurs: (pass) =>
        pass.request === requestId &&
        (pass.request_generation ?? 1) === generation &&
        pass.request_entry === job.entry &&
        pass.request_index === job.index,
      make: (number) => makePass(plan, { requestId, generation, created }, { entry, job }, number),
    });
  }
  if (options.dryRun !== true) options.onStart?.({ generation, total: planned, present: planned - additions.size });
  const count = await appendWithLease(db, [...additions.values()], options, lease);
  if (count.interrupted === true) {
    const present = planned - additions.size + count.existing + count.written;
    throw new InterruptedError(
      `interrupted: ${present} of ${planned} jobs of request ${requestId} are in ${db.name}, ${count.written} of them written by this run; run the same command again to write the other ${planned - present} (none is written twice)`,
    );
  }
  return {
    requestId,
    generation,
    alreadySubmitted: additions.size === 0,
    written: count.written,
    jobs: submittedJobs(all, written.done, additions),
  };
}

/** Reads what the request wrote before and decides the generation to write. */
async function writtenBefore(db: Database, requestId: string, planned: number, newPass: boolean): Promise<Written> {
  const rows = (
    await db.view<RequestKey, RequestRowValue>('jobs', 'by_request', { startkey: [requestId], endkey: [requestId, {}] })
  ).rows;
  const latest = rows.reduce((highest, row) => Math.max(highest, row.key[1]), 0);
  const latestComplete = rows.filter((row) => row.key[1] === latest).length >= planned;
  // --new-pass after an interrupted --new-pass completes that generation instead of starting another
  const generation = newPass && (latest === 0 || latestComplete) ? latest + 1 : Math.max(latest, 1);
  const done = new Map<string, RequestRowValue>();
  const firstRuns = new Map<string, number>();
  for (const row of rows) {
    if (row.key[1] === generation) done.set(keyOf(row.key[2], row.key[3]), row.value);
    if (row.key[1] === 1) firstRuns.set(keyOf(row.key[2], row.key[3]), row.value.run);
  }
  return { generation, done, firstRuns };
}

/** A new pass from a request: it starts waiting. */
function makePass(
  plan: SubmitPlan,
  request: { requestId: string; generation: number; created: string },
  { entry, job }: EntryJob,
  number: number,
): Pass {
  return {
    pass: number,
    status: 'waiting',
    rat_version: plan.ratVersion,
    label: entry.label,
    priority: entry.priority,
    created: request.created,
    event_mode: entry.eventMode,
    amount: job.amount,
    template: entry.template,
    macro_sha256: entry.macroSha256,
    ...(plan.ratdbTag !== undefined && { ratdb_tag: plan.ratdbTag }),
    request: request.requestId,
    request_generation: request.generation,
    request_entry: job.entry,
    request_index: job.index,
    attempts: [],
    ...(job.subjobs !== undefined && { subjobs: job.subjobs }),
  };
}

/** Appends the passes, renewing the submit lease after each batch. */
async function appendWithLease(
  db: Database,
  additions: readonly PassToAdd[],
  options: SubmitOptions,
  lease: Lease | undefined,
): Promise<AppendResult> {
  if (additions.length === 0) return { written: 0, existing: 0 };
  const progress = options.onProgress;
  return appendPasses(db, additions, {
    ...options,
    onProgress: async (done, total) => {
      await lease?.renew();
      await progress?.(done, total);
    },
  });
}

/** Every job of the request (generation), where it went, in plan order. */
function submittedJobs(
  all: readonly EntryJob[],
  done: ReadonlyMap<string, RequestRowValue>,
  additions: ReadonlyMap<string, PassToAdd>,
): SubmittedJob[] {
  return all.flatMap(({ job, entry }) => {
    const key = keyOf(job.entry, job.index);
    const placed = done.get(key) ?? additions.get(key)?.placed;
    return placed === undefined
      ? []
      : [
          {
            entry: job.entry,
            index: job.index,
            module: entry.module,
            run: placed.run,
            pass: placed.pass,
            label: entry.label,
          },
        ];
  });
}
