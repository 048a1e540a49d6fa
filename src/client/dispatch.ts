import PQueue from 'p-queue';
import { BackendError, type PreparedJob } from '../backends/backend.js';
import { jobName, prepareJob, subjobInput, type JobToPrepare } from '../backends/prepare.js';
import { failedBefore, type PolicyDoc } from '../model/policy.js';
import { otherSuffixes } from '../model/outputs.js';
import { NotFoundError } from '../db/errors.js';
import {
  processingInfoId,
  productionInfoId,
  type JobDoc,
  type Pass,
  type ProcessingInfoDoc,
  type ProductionInfoDoc,
  type Subjob,
} from '../model/documents.js';
import type { ClaimedPass } from './claim.js';
import type { ClientContext } from './context.js';
import { failSubmission, recordSubmission, subjobsOf } from '../passes/transitions.js';
import { transitionChange, updatePasses } from '../passes/store.js';
import { byLabel } from '../model/label.js';

const CONCURRENT_SUBMITS = 4;
const PREPARE_AT_ONCE = 64;

async function information(ctx: ClientContext, id: string): Promise<ProductionInfoDoc | ProcessingInfoDoc | undefined> {
  const known = ctx.info.get(id);
  if (known !== undefined) return known;
  try {
    const doc = await ctx.db.get<ProductionInfoDoc | ProcessingInfoDoc>(id);
    ctx.info.set(id, doc);
    return doc;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/**
 * What a pass's job runs: a production module, or a processing module (its macro, reading the
 * subjob's file where it names one, else the run). Both kinds of information are read from the
 * client's database: a production client runs processing passes when its database has them. Undefined when the information lacks the module.
 */
async function moduleFor(
  ctx: ClientContext,
  doc: JobDoc,
  pass: Pass,
  subjob: Subjob,
): Promise<Pick<JobToPrepare, 'production' | 'ratArgs' | 'type' | 'fields' | 'input'> | undefined> {
  if (pass.level === undefined) {
    const info = (await information(ctx, productionInfoId(pass.rat_version))) as ProductionInfoDoc | undefined;
    const production = info?.modules[doc.module];
    return production === undefined ? undefined : { production };
  }
  const info = (await information(ctx, processingInfoId(pass.rat_version))) as ProcessingInfoDoc | undefined;
  const processing = info?.modules[doc.module];
  if (processing === undefined) return undefined;
  const otherSuffix = otherSuffixes(processing.outputs, processing.other_suffix);
  // a sub_run pass's subjob names its raw file; a pass over production output names its file for any level
  // (a root:// file through a copy the wrapper makes in the job's folder)
  const input = subjobInput(subjob);
  return {
    production: {
      path: processing.path,
      phase: 'processing',
      event_mode: 'run',
      outputs: processing.outputs,
      ...(otherSuffix !== undefined && { other_suffix: otherSuffix }),
      template: [],
      sha256: '',
    },
    ratArgs: input !== undefined ? ['-i', input.path] : ['-r', String(doc.run)],
    ...(processing.type === 'script' && { type: 'script' as const }),
    ...(input !== undefined && { fields: { INPUT: input.path } }),
    ...(input?.copy !== undefined && { input: input.copy }),
  };
}

/** When the oldest of these claims was made: a job submitted under one is no older (a lookup's search window). */
export function claimedAt(passes: readonly Pass[]): Date | undefined {
  const times = passes
    .flatMap((pass) => (pass.claim === undefined ? [] : [Date.parse(pass.claim.at)]))
    .filter((time) => !Number.isNaN(time));
  return times.length === 0 ? undefined : new Date(Math.min(...times));
}

/**
 * Backend ids of a held pass's jobs that reached the backend without their id being recorded (a
 * submit whose answer was lost), found by the names its claim token gave them: before such a pass
 * is stopped or run again, these are stopped too, so its work never runs twice.
 */
export async function unrecordedJobs(ctx: Pick<ClientContext, 'backend'>, doc: JobDoc, pass: Pass): Promise<string[]> {
  const token = pass.claim?.token;
  const names =
    token === undefined
      ? []
      : subjobsOf(pass).flatMap((subjob) =>
          subjob.backend_id === undefined ? [jobName(doc.module, doc.run, pass.pass, subjob.index, token)] : [],
        );
  return names.length === 0 ? [] : [...(await ctx.backend.lookup(names, claimedAt([pass]))).values()];
}

export interface DispatchResult {
  /** Jobs handed to the backend now. */
  submitted: number;
  /** Jobs found in the backend by name (submitted before a crash) and recorded. */
  recovered: number;
  /** Passes failed because the site cannot run them. */
  failed: number;
}

const keyOf = (doc: JobDoc, pass: Pass) => `${doc._id}#${pass.pass}`;

/** What one dispatch found out: backend ids by pass and subjob, and the passes the site cannot run. */
class Dispatch {
  readonly ids = new Map<string, Map<number, string>>();
  readonly failures = new Map<string, string>();
  submitted = 0;
  recovered = 0;

  record(doc: JobDoc, pass: Pass, subjob: number, id: string): void {
    const perPass = this.ids.get(keyOf(doc, pass)) ?? new Map<number, string>();
    perPass.set(subjob, id);
    this.ids.set(keyOf(doc, pass), perPass);
  }

  fail(doc: JobDoc, pass: Pass, reason: string): void {
    this.failures.set(keyOf(doc, pass), reason);
  }
}

interface Work {
  doc: JobDoc;
  pass: Pass;
  subjob: number;
  job: PreparedJob;
}

/** Each unsubmitted job's folder and definition; a pass whose module the site has no information for fails. */
async function prepareAll(
  ctx: ClientContext,
  claimed: readonly ClaimedPass[],
  policies: ReadonlyMap<string, PolicyDoc>,
  dispatch: Dispatch,
): Promise<Work[]> {
  const toPrepare: Array<{ doc: JobDoc; pass: Pass; subjob: number; prepare: () => Promise<PreparedJob> }> = [];
  for (const { doc, pass } of claimed) {
    for (const subjob of subjobsOf(pass).filter((candidate) => candidate.backend_id === undefined)) {
      const definition = await moduleFor(ctx, doc, pass, subjob);
      if (definition === undefined) {
        const kind = pass.level === undefined ? 'production' : 'processing';
        dispatch.fail(doc, pass, `no ${kind} information for ${doc.module} in RAT ${pass.rat_version}`);
        break;
      }
      const job: JobToPrepare = { module: doc.module, run: doc.run, pass, subjob: subjob.index, ...definition };
      // a retry after failures asks for more memory, by the label's policy
      const extraMemoryMb = (byLabel(policies, pass.label)?.retry_memory_mb ?? 0) * failedBefore(pass);
      const prepare = async () => ({
        ...(await prepareJob(ctx.site, job, ctx.workRoot, pass.claim?.token, { write: ctx.backend.runsWrapper })),
        ...(extraMemoryMb > 0 && { extraMemoryMb }),
      });
      toPrepare.push({ doc, pass, subjob: subjob.index, prepare });
    }
  }
  const work: Work[] = [];
  // job folders are written many at a time: one at a time, they were most of a cycle's cost
  for (let start = 0; start < toPrepare.length; start += PREPARE_AT_ONCE) {
    const batch = toPrepare.slice(start, start + PREPARE_AT_ONCE);
    const prepared = await Promise.allSettled(batch.map((item) => item.prepare()));
    prepared.forEach((outcome, offset) => {
      const item = batch[offset];
      if (item === undefined) return;
      if (outcome.status === 'fulfilled')
        work.push({ doc: item.doc, pass: item.pass, subjob: item.subjob, job: outcome.value });
      else if (outcome.reason instanceof BackendError) dispatch.fail(item.doc, item.pass, outcome.reason.message);
      else throw outcome.reason;
    });
  }
  return work;
}

/** Hands the jobs to the backend a few at a time; a job of a pass claimed earlier that the backend knows by name is recorded, not submitted again. */
async function submitAll(
  ctx: ClientContext,
  claimed: readonly ClaimedPass[],
  work: readonly Work[],
  dispatch: Dispatch,
): Promise<void> {
  const earlierPasses = claimed.filter((item) => item.earlier === true);
  const earlier = new Set(earlierPasses.map((item) => keyOf(item.doc, item.pass)));
  const names = work.filter((item) => earlier.has(keyOf(item.doc, item.pass))).map((item) => item.job.name);
  const known =
    names.length === 0
      ? new Map<string, string>()
      : await ctx.backend.lookup(names, claimedAt(earlierPasses.map((item) => item.pass)));
  const queue = new PQueue({ concurrency: CONCURRENT_SUBMITS });
  for (const { doc, pass, subjob, job } of work) {
    const found = known.get(job.name);
    if (found !== undefined) {
      dispatch.record(doc, pass, subjob, found);
      dispatch.recovered += 1;
      continue;
    }
    void queue.add(async () => {
      try {
        const [id] = await ctx.backend.submit([job]);
        if (id === undefined) return;
        dispatch.record(doc, pass, subjob, id);
        dispatch.submitted += 1;
      } catch (error) {
        if (error instanceof BackendError) dispatch.fail(doc, pass, error.message);
        else
          ctx.log.warn(
            { job: doc._id, pass: pass.pass, error: (error as Error).message },
            'submit failed; trying again next cycle',
          );
      }
    });
  }
  await queue.onIdle();
}

/**
 * A pass that failed part-way (one subjob refused) must not leave its other jobs running unwatched,
 * nor those whose submit answer was lost this cycle (found by name): they are stopped.
 */
async function stopFailedJobs(ctx: ClientContext, claimed: readonly ClaimedPass[], dispatch: Dispatch): Promise<void> {
  const failedPasses = claimed.filter(({ doc, pass }) => dispatch.failures.has(keyOf(doc, pass)));
  const lostAnswers = await Promise.all(
    failedPasses.map(({ doc, pass }) =>
      unrecordedJobs(ctx, doc, pass).catch((error: unknown) => {
        ctx.log.warn(
          { job: doc._id, pass: pass.pass, error: (error as Error).message },
          'could not look up the jobs of a pass that failed part-way; one whose submit answer was lost may still run',
        );
        return [];
      }),
    ),
  );
  const recorded = failedPasses.flatMap(({ doc, pass }) => [...(dispatch.ids.get(keyOf(doc, pass))?.values() ?? [])]);
  const orphans = [...new Set([...recorded, ...lostAnswers.flat()])];
  if (orphans.length === 0) return;
  await ctx.backend
    .cancel(orphans)
    .catch((error: unknown) =>
      ctx.log.warn(
        { jobs: orphans, error: (error as Error).message },
        'could not cancel the jobs of a pass that failed part-way; they may still run',
      ),
    );
}

/**
 * Submits claimed passes' jobs to the backend, a few at a time (p-queue), then records each
 * backend id. The claim (with its token) is already written, so a job is only ever submitted for a
 * pass this site holds. A batch system that does not answer leaves the pass claimed for the next
 * cycle; a site problem (BackendError) fails the pass with the reason.
 */
export async function dispatchPasses(
  ctx: ClientContext,
  claimed: readonly ClaimedPass[],
  policies: ReadonlyMap<string, PolicyDoc> = new Map(),
): Promise<DispatchResult> {
  const dispatch = new Dispatch();
  const work = await prepareAll(ctx, claimed, policies, dispatch);
  await submitAll(ctx, claimed, work, dispatch);
  await stopFailedJobs(ctx, claimed, dispatch);
  const now = ctx.now();
  const changes = claimed.flatMap(({ doc, pass }) => {
    const reason = dispatch.failures.get(keyOf(doc, pass));
    const backendIds = dispatch.ids.get(keyOf(doc, pass));
    if (reason === undefined && backendIds === undefined) return [];
    const token = pass.claim?.token;
    const ids = backendIds ?? new Map<number, string>();
    return [
      transitionChange(doc._id, pass.pass, (stored) =>
        stored.site !== ctx.site.name
          ? { changed: false, reason: 'another site holds it' }
          : reason !== undefined
            ? failSubmission(stored, { token, reason, backendIds: ids }, now)
            : recordSubmission(stored, { token, backendIds: ids }, now),
      ),
    ];
  });
  // the documents were just written by the claim (or read fresh for an earlier one): no second read
  await updatePasses(ctx, changes, new Map(claimed.map(({ doc }) => [doc._id, doc])));
  for (const [pass, reason] of dispatch.failures) ctx.log.error({ pass }, reason);
  return { submitted: dispatch.submitted, recovered: dispatch.recovered, failed: dispatch.failures.size };
}
