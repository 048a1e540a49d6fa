import type { BackendStatus } from '../backends/backend.js';
import type { JobDoc, Pass } from '../model/documents.js';
import { renewalDue } from '../model/lease.js';
import type { PolicyDoc } from '../model/policy.js';
import { ACTIVE_STATUSES } from '../model/status.js';
import { readPasses, transitionChange, updatePasses, type HeldRow, type PassChange } from '../passes/store.js';
import { ENDED, finishCancel, heldByOldClient, observe, renewLease, type Outcome } from '../passes/transitions.js';
import { pauseFailingLabels } from './auto-pause.js';
import type { ClientContext, CycleStats } from './context.js';
import { unrecordedJobs } from './dispatch.js';
import { gatherFacts, storedOutputs, type Attachments } from './gather.js';
import { recordData, type PassOutputs } from './record.js';
import { byLabel, labelsOf } from '../model/label.js';
import { notifyFinished } from '../notify/events.js';

/**
 * Renews the leases of what this site holds, every cycle and before any backend call, whether or
 * not this cycle monitors (`--nomon`, `--steps`): a batch system that does not answer never costs
 * the claims. Only leases past half their time are written.
 */
export async function renewLeases(ctx: ClientContext, rows: readonly HeldRow[]): Promise<void> {
  const now = ctx.now();
  const due = rows.filter(
    (row) => row.token !== null && row.lease !== null && renewalDue(row.lease, now, ctx.leaseSeconds),
  );
  await updatePasses(
    ctx,
    due.map((row) =>
      transitionChange(row.id, row.pass, (stored) =>
        renewLease(stored, { token: row.token ?? undefined, leaseSeconds: ctx.leaseSeconds }, now),
      ),
    ),
  );
}

/** Passes whose documents are read and moved on at a time, so memory stays flat however many a site holds. */
const PAGE = 500;

/** The jobs of held passes still worth asking the backend about: submitted, not yet recorded as ended. */
const askable = (row: HeldRow) =>
  row.jobs.flatMap(([id, state]) => (id === null || ENDED.includes(state ?? undefined) ? [] : [id]));

/** Whether the backend's answer changes what the pass records: a job's state, its end, a lost job. */
function moved(row: HeldRow, statuses: ReadonlyMap<string, BackendStatus>): boolean {
  return (
    row.cancel ||
    row.jobs.some(
      ([id, state]) => id !== null && !ENDED.includes(state ?? undefined) && statuses.get(id)?.state !== state,
    )
  );
}

/**
 * One status call for every job of every pass this site holds, then each pass moves on: running;
 * completed (outputs verified and recorded), failed or partFail when all its jobs ended; back to
 * waiting, as a new attempt, when a job is lost (the backend forgot it and it left no manifest).
 * What to ask comes from the held rows; only the documents of passes whose jobs moved are read, a
 * page at a time. Returns the labels it paused.
 */
export async function monitorPasses(
  ctx: ClientContext,
  stats: CycleStats,
  rows: readonly HeldRow[],
  policies: ReadonlyMap<string, PolicyDoc> = new Map(),
): Promise<string[]> {
  if (rows.length === 0) return [];
  const now = ctx.now();
  const ids = rows.flatMap(askable);
  const statuses = ids.length === 0 ? new Map<string, BackendStatus>() : await ctx.backend.status(ids);
  const moving = rows.filter((row) => moved(row, statuses));
  // the others are queued or running as recorded: nothing to read or write
  stats.running += rows.length - moving.length;
  /** Labels with a pass that failed this cycle: each is checked for auto-pause. */
  const failing = new Set<string>();
  /** Labels with a pass that ended this cycle: each is checked for being finished (notifications). */
  const ended = new Set<string>();
  const unchecked: Unchecked = { unreachable: new Set(), passes: 0 };
  for (let start = 0; start < moving.length; start += PAGE) {
    const page = moving.slice(start, start + PAGE);
    const observed = await gather(ctx, await heldPasses(ctx, page), statuses, policies, now, unchecked);
    await write(ctx, observed, stats, { failing, ended });
  }
  if (unchecked.passes > 0) {
    stats.running += unchecked.passes;
    ctx.log.warn(
      { passes: unchecked.passes },
      `${unchecked.reason ?? 'storage unavailable'}: outputs of ${unchecked.passes} ended pass(es) not checked; they stay as they are until the next cycle`,
    );
  }
  const notifier = ctx.notifier;
  if (notifier !== undefined && ended.size > 0) notifier.background(() => notifyFinished(ctx.db, notifier, ended));
  return failing.size > 0 ? pauseFailingLabels(ctx.db, ctx.log, failing, `site ${ctx.site.name}`, notifier) : [];
}

/** The documents of these held passes, read fresh; a pass that moved on meanwhile (another token) is left out. */
function heldPasses(ctx: ClientContext, rows: readonly HeldRow[]) {
  const wanted = new Map(rows.map((row) => [`${row.id}#${row.pass}`, row.token]));
  return readPasses(
    ctx.db,
    rows.map((row) => row.id),
    (pass, doc) =>
      pass.site === ctx.site.name &&
      ACTIVE_STATUSES.includes(pass.status) &&
      !heldByOldClient(pass) &&
      wanted.get(`${doc._id}#${pass.pass}`) === (pass.claim?.token ?? null),
  );
}

/** Passes left as they are this cycle because a storage element did not answer when their outputs were checked. */
interface Unchecked {
  /** The SEs that did not answer (`root://host:port`): not asked again this cycle. */
  unreachable: Set<string>;
  passes: number;
  /** The first answer, for the one log line. */
  reason?: string;
}

interface Observed {
  doc: JobDoc;
  pass: Pass;
  outcome: Outcome;
  /** The same rule, applied again to the stored pass when it is written. */
  transition: (stored: Pass) => Outcome;
  attachments: Attachments;
  outputs: PassOutputs['manifests'];
}

/** Gather (backend answers, manifests, logs) and observe: what each held pass becomes. */
async function gather(
  ctx: ClientContext,
  held: ReadonlyArray<{ doc: JobDoc; pass: Pass }>,
  statuses: ReadonlyMap<string, BackendStatus>,
  policies: ReadonlyMap<string, PolicyDoc>,
  now: Date,
  unchecked: Unchecked,
): Promise<Observed[]> {
  const observed: Observed[] = [];
  const known = await storedOutputs(ctx, held, statuses, unchecked.unreachable);
  for (const { doc, pass } of held) {
    const token = pass.claim?.token;
    if (pass.cancel_requested !== undefined) {
      const transition = (stored: Pass) => finishCancel(stored, { token }, now);
      observed.push({ doc, pass, outcome: transition(pass), transition, attachments: {}, outputs: [] });
      continue;
    }
    const gathered = await gatherFacts(
      ctx,
      { doc, pass },
      statuses,
      byLabel(policies, pass.label),
      unchecked.unreachable,
      known,
    );
    if ('unchecked' in gathered) {
      unchecked.passes += 1;
      unchecked.reason ??= gathered.unchecked.message;
      continue;
    }
    const { facts, attachments } = gathered;
    const transition = (stored: Pass) => observe(stored, facts, now);
    const outcome = transition(pass);
    const outputs = outcome.changed
      ? (outcome.effects.outputs ?? []).flatMap((subjob) => {
          const manifest = facts.subjobs.get(subjob)?.manifest;
          return manifest === undefined ? [] : [{ subjob, manifest }];
        })
      : [];
    observed.push({ doc, pass, outcome, transition, attachments, outputs });
  }
  return observed;
}

/** Stops the jobs an outcome says to stop: those recorded, and those of its claim found by name. */
async function stopJobs(ctx: ClientContext, { doc, pass, outcome }: Observed): Promise<void> {
  if (!outcome.changed) return;
  const { cancel = [], unrecorded = false } = outcome.effects;
  const active = [...cancel, ...(unrecorded ? await unrecordedJobs(ctx, doc, pass) : [])];
  if (active.length > 0) await ctx.backend.cancel(active);
  if (outcome.event === 'canceled')
    ctx.log.info(
      { job: doc._id, pass: pass.pass, jobs: active.length },
      `canceled ${doc.module} run ${doc.run} pass ${pass.pass} as asked (${active.length} jobs stopped)`,
    );
}

const COUNTED = {
  completed: 'completed',
  failed: 'failed',
  partFail: 'failed',
  lost: 'lost',
  canceled: 'canceled',
  resubmitted: 'resubmitted',
  running: 'running',
} as const;

/** Outcomes after which a pass is final: its label may have finished. */
const FINISHING = new Set(['completed', 'failed', 'partFail', 'canceled']);

/** Write: jobs stopped first, then outputs recorded (a pass is completed only once they are), then the passes. */
async function write(
  ctx: ClientContext,
  observed: readonly Observed[],
  stats: CycleStats,
  { failing, ended }: { failing: Set<string>; ended: Set<string> },
) {
  const changes: PassChange[] = [];
  for (const item of observed) {
    const { doc, pass, outcome } = item;
    if (!outcome.changed) continue;
    await stopJobs(ctx, item);
    const counted = COUNTED[outcome.event as keyof typeof COUNTED] as keyof CycleStats | undefined;
    if (counted !== undefined) (stats[counted] as number) += 1;
    if (outcome.event === 'failed' || outcome.event === 'partFail')
      for (const label of labelsOf(pass.label)) failing.add(label);
    if (FINISHING.has(outcome.event ?? '')) for (const label of labelsOf(pass.label)) ended.add(label);
    if (outcome.event === 'resubmitted')
      ctx.log.warn(
        { job: doc._id, pass: pass.pass },
        `${doc.module} run ${doc.run} pass ${pass.pass}: ${outcome.reason ?? ''}`,
      );
    const attachments = outcome.effects.logs === true ? item.attachments : undefined;
    changes.push(transitionChange(doc._id, pass.pass, item.transition, attachments));
  }
  await recordData(
    ctx,
    observed.flatMap(({ doc, pass, outputs }) => (outputs.length === 0 ? [] : [{ doc, pass, manifests: outputs }])),
  );
  // the documents were read this cycle: written from them, read again only when another writer changed one
  await updatePasses(ctx, changes, new Map(observed.map(({ doc }) => [doc._id, doc])));
}
