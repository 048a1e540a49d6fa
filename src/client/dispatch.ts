import PQueue from 'p-queue';
import { BackendError, type PreparedJob } from '../backends/backend.js';
import { jobName, prepareJob, type JobToPrepare } from '../backends/prepare.js';
import { failedBefore, type PolicyDoc } from '../model/policy.js';
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
import { updatePasses } from './update.js';

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
 * subjob's raw file for sub_run, else the run). Undefined when the information lacks the module.
 */
async function moduleFor(
  ctx: ClientContext,
  doc: JobDoc,
  pass: Pass,
  subjob: Subjob,
): Promise<Pick<JobToPrepare, 'production' | 'ratArgs'> | undefined> {
  if (pass.level === undefined) {
    const info = (await information(ctx, productionInfoId(pass.rat_version))) as ProductionInfoDoc | undefined;
    const production = info?.modules[doc.module];
    return production === undefined ? undefined : { production };
  }
  const info = (await information(ctx, processingInfoId(pass.rat_version))) as ProcessingInfoDoc | undefined;
  const processing = info?.modules[doc.module];
  if (processing === undefined) return undefined;
  return {
    production: {
      path: processing.path,
      phase: 'processing',
      event_mode: 'run',
      outputs: processing.outputs,
      template: [],
      sha256: '',
    },
    ratArgs: pass.level === 'sub_run' && subjob.file !== undefined ? ['-i', subjob.file] : ['-r', String(doc.run)],
  };
}

/** The subjobs of a pass: those it lists, or one for the whole job. */
export const subjobsOf = (pass: Pass) => pass.subjobs ?? [{ index: 0 }];

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

/**
 * Submits claimed passes' jobs to the backend, a few at a time (p-queue), then records each
 * backend id. The claim (with its token) is already written, so a job is only ever submitted for a
 * pass this site holds. A batch system that does not answer leaves the pass claimed for the next
 * cycle; a site problem (BackendError) fails the pass with the reason.
 */
export interface DispatchResult {
  /** Jobs handed to the backend now. */
  submitted: number;
  /** Jobs found in the backend by name (submitted before a crash) and recorded. */
  recovered: number;
  /** Passes failed because the site cannot run them. */
  failed: number;
}

export async function dispatchPasses(
  ctx: ClientContext,
  claimed: readonly ClaimedPass[],
  policies: ReadonlyMap<string, PolicyDoc> = new Map(),
): Promise<DispatchResult> {
  const queue = new PQueue({ concurrency: CONCURRENT_SUBMITS });
  const ids = new Map<string, Map<number, string>>();
  const failures = new Map<string, string>();
  const key = (doc: JobDoc, pass: Pass) => `${doc._id}#${pass.pass}`;
  const record = (doc: JobDoc, pass: Pass, subjob: number, id: string) => {
    const perPass = ids.get(key(doc, pass)) ?? new Map<number, string>();
    perPass.set(subjob, id);
    ids.set(key(doc, pass), perPass);
  };
  const work: Array<{ doc: JobDoc; pass: Pass; subjob: number; job: PreparedJob }> = [];
  const toPrepare: Array<{ doc: JobDoc; pass: Pass; subjob: number; prepare: () => Promise<PreparedJob> }> = [];
  for (const { doc, pass } of claimed) {
    for (const subjob of subjobsOf(pass).filter((candidate) => candidate.backend_id === undefined)) {
      const definition = await moduleFor(ctx, doc, pass, subjob);
      if (definition === undefined) {
        failures.set(
          key(doc, pass),
          `no ${pass.level === undefined ? 'production' : 'processing'} information for ${doc.module} in RAT ${pass.rat_version}`,
        );
        break;
      }
      const job: JobToPrepare = { module: doc.module, run: doc.run, pass, subjob: subjob.index, ...definition };
      // a retry after failures asks for more memory, by the label's policy
      const extraMemoryMb = (policies.get(pass.label)?.retry_memory_mb ?? 0) * failedBefore(pass);
      const prepare = async () => ({
        ...(await prepareJob(ctx.site, job, ctx.workRoot, pass.claim?.token, { write: ctx.backend.runsWrapper })),
        ...(extraMemoryMb > 0 && { extraMemoryMb }),
      });
      toPrepare.push({ doc, pass, subjob: subjob.index, prepare });
    }
  }
  // job folders are written many at a time: one at a time, they were most of a cycle's cost
  for (let start = 0; start < toPrepare.length; start += PREPARE_AT_ONCE) {
    const prepared = await Promise.allSettled(
      toPrepare.slice(start, start + PREPARE_AT_ONCE).map((item) => item.prepare()),
    );
    prepared.forEach((outcome, offset) => {
      const item = toPrepare[start + offset];
      if (item === undefined) return;
      if (outcome.status === 'fulfilled')
        work.push({ doc: item.doc, pass: item.pass, subjob: item.subjob, job: outcome.value });
      else if (outcome.reason instanceof BackendError) failures.set(key(item.doc, item.pass), outcome.reason.message);
      else throw outcome.reason;
    });
  }
  // a pass claimed earlier may have reached the backend before its client died: find it by name, never submit it twice
  const earlier = new Set(claimed.filter((item) => item.earlier === true).map((item) => key(item.doc, item.pass)));
  const names = work.filter((item) => earlier.has(key(item.doc, item.pass))).map((item) => item.job.name);
  const known =
    names.length === 0
      ? new Map<string, string>()
      : await ctx.backend.lookup(
          names,
          claimedAt(claimed.filter((item) => item.earlier === true).map((item) => item.pass)),
        );
  let recovered = 0;
  let submitted = 0;
  for (const { doc, pass, subjob, job } of work) {
    const found = known.get(job.name);
    if (found !== undefined) {
      record(doc, pass, subjob, found);
      recovered += 1;
      continue;
    }
    void queue.add(async () => {
      try {
        const [id] = await ctx.backend.submit([job]);
        if (id !== undefined) {
          record(doc, pass, subjob, id);
          submitted += 1;
        }
      } catch (error) {
        if (error instanceof BackendError) failures.set(key(doc, pass), error.message);
        else
          ctx.log.warn(
            { job: doc._id, pass: pass.pass, error: (error as Error).message },
            'submit failed; trying again next cycle',
          );
      }
    });
  }
  await queue.onIdle();
  // a pass that failed part-way (one subjob refused) must not leave its other jobs running unwatched
  // (also those whose submit answer was lost this cycle: found by name)
  const failedPasses = claimed.filter(({ doc, pass }) => failures.has(key(doc, pass)));
  const lostAnswers = (
    await Promise.all(
      failedPasses.map(({ doc, pass }) =>
        unrecordedJobs(ctx, doc, pass).catch((error: unknown) => {
          ctx.log.warn(
            { job: doc._id, pass: pass.pass, error: (error as Error).message },
            'could not look up the jobs of a pass that failed part-way; one whose submit answer was lost may still run',
          );
          return [];
        }),
      ),
    )
  ).flat();
  const orphans = [
    ...new Set([...[...failures.keys()].flatMap((failed) => [...(ids.get(failed)?.values() ?? [])]), ...lostAnswers]),
  ];
  if (orphans.length > 0) {
    await ctx.backend
      .cancel(orphans)
      .catch((error: unknown) =>
        ctx.log.warn(
          { jobs: orphans, error: (error as Error).message },
          'could not cancel the jobs of a pass that failed part-way; they may still run',
        ),
      );
  }
  const now = ctx.now().toISOString();
  const changes = claimed.flatMap(({ doc, pass }) => {
    const failure = failures.get(key(doc, pass));
    const submitted = ids.get(key(doc, pass));
    if (failure === undefined && submitted === undefined) return [];
    return [
      {
        id: doc._id,
        pass: pass.pass,
        apply: (stored: Pass): Pass | undefined => {
          if (stored.site !== ctx.site.name || stored.claim?.token !== pass.claim?.token) return undefined;
          if (failure !== undefined) {
            // the jobs it did submit are recorded, canceled, so the pass says what ran
            const subjobs = subjobsOf(stored).map((subjob) => {
              const backendId = submitted?.get(subjob.index);
              return backendId === undefined
                ? subjob
                : { ...subjob, backend_id: backendId, state: 'failed' as const, started: now, finished: now };
            });
            return {
              ...stored,
              status: 'failed',
              ...(submitted !== undefined && { subjobs }),
              attempts: stored.attempts.map((attempt) =>
                attempt.token === pass.claim?.token
                  ? { ...attempt, status: 'failed', finished: now, reason: failure }
                  : attempt,
              ),
            };
          }
          const subjobs = subjobsOf(stored).map((subjob) => {
            const backendId = submitted?.get(subjob.index);
            return backendId === undefined
              ? subjob
              : { ...subjob, backend_id: backendId, state: 'submitted' as const, started: now };
          });
          return { ...stored, subjobs };
        },
      },
    ];
  });
  // the documents were just written by the claim (or read fresh for an earlier one): no second read
  await updatePasses(ctx, changes, new Map(claimed.map(({ doc }) => [doc._id, doc])));
  for (const [pass, reason] of failures) ctx.log.error({ pass }, reason);
  return { submitted, recovered, failed: failures.size };
}
