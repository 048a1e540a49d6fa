import type { JobDoc, PassRef } from '../model/documents.js';
import { jobId } from '../model/documents.js';
import type { PassStatus } from '../model/status.js';
import { decide, type Decision, type ReadyPass, type SiteState } from '../queue/decide.js';
import { claimPasses, type ClaimedPass } from './claim.js';
import { emptyStats, type ClientContext, type CycleStats } from './context.js';
import { dispatchPasses, subjobsOf } from './dispatch.js';
import { monitorPasses } from './monitor.js';
import { backToWaiting, updatePasses } from './update.js';

export interface CycleOptions {
  submit: boolean;
  monitor: boolean;
  pausedLabels?: ReadonlySet<string>;
  signal?: AbortSignal;
}

/** Ready rows read at a time; more pages are read while the site can take more than it found. */
const PAGE = 200;
const MAX_PAGES = 25;

/**
 * Reads the ready passes in queue order page by page, deciding as it goes, until the site has all
 * it can take or the queue ends: passes this site cannot run at the head never starve it.
 */
async function decideFromView(ctx: ClientContext, site: SiteState): Promise<Decision> {
  const order = VIEW_ORDER[ctx.queue];
  const descending = ctx.queue === 'newfirst';
  const range = descending ? { startkey: [order, {}], endkey: [order] } : { startkey: [order], endkey: [order, {}] };
  const room = Math.max(0, Math.min(site.maxJobs - site.running, site.maxClaim));
  const total: Decision = { claim: [], unsatisfied: [], skipped: { ratVersion: 0, paused: 0, prerequisite: 0, noRoom: 0 } };
  for (let page = 0; page < MAX_PAGES && total.claim.length < room; page++) {
    // read the index as it is and let it catch up after (update=lazy): claims check each document's
    // status and _rev anyway, so a stale row costs a skipped claim, never a wrong one
    const rows = await ctx.db.view<unknown, ReadyRow>('passes', 'ready', { ...range, descending, limit: PAGE, skip: page * PAGE, update: 'lazy' });
    const candidates: ReadyPass[] = rows.rows.map(({ value }) => ({ ...value, prerequisites: value.prerequisites ?? [] }));
    const decision = decide(
      candidates,
      { ...site, running: site.running + total.claim.length, maxClaim: site.maxClaim - total.claim.length },
      ctx.queue,
      await prerequisiteStatuses(ctx, candidates),
    );
    total.claim.push(...decision.claim);
    total.unsatisfied.push(...decision.unsatisfied);
    for (const reason of ['ratVersion', 'paused', 'prerequisite'] as const) total.skipped[reason] += decision.skipped[reason];
    if (rows.rows.length < PAGE) break;
  }
  return total;
}

type ReadyRow = Omit<ReadyPass, 'prerequisites'> & { prerequisites: PassRef[] | null };

/** The view's order key for each queue order (newfirst reads `run` backwards). */
const VIEW_ORDER = { priority: 'priority', runlevel: 'run', newfirst: 'run', serial: 'created' } as const;

/** Passes of any site whose lease ran out (the site died): back to waiting, as a new attempt. */
async function returnExpired(ctx: ClientContext, stats: CycleStats): Promise<void> {
  const now = ctx.now().toISOString();
  // lazy: a lease that just ran out is seen a cycle later, and each change is checked on the document
  const rows = await ctx.db.view<[string, string, string, number, number], string | null>('passes', 'locked_by_site', { update: 'lazy' });
  // this site's own passes are renewed by its monitoring, never returned by it
  const expired = rows.rows.filter((row) => row.key[0] !== ctx.site.name && row.value !== null && row.value < now);
  if (expired.length === 0) return;
  const landed = await updatePasses(
    ctx,
    expired.map((row) => ({
      id: row.id ?? jobId(row.key[2], row.key[3]),
      pass: row.key[4],
      apply: (stored) => {
        if (stored.claim === undefined || stored.claim.lease_until >= now || (stored.status !== 'submitted' && stored.status !== 'running')) return undefined;
        return backToWaiting(stored, stored.claim.token, now, `lease of site ${stored.site ?? '?'} expired`);
      },
    })),
  );
  stats.lost += landed.length;
  if (landed.length > 0) ctx.log.warn({ passes: landed.length }, 'returned passes whose site stopped renewing its lease');
}

async function prerequisiteStatuses(ctx: ClientContext, candidates: readonly ReadyPass[]): Promise<(ref: PassRef) => PassStatus | undefined> {
  const refs = candidates.flatMap((pass) => pass.prerequisites ?? []);
  if (refs.length === 0) return () => undefined;
  const found = await ctx.db.allDocs<JobDoc>({ keys: [...new Set(refs.map((ref) => jobId(ref.module, ref.run)))], include_docs: true });
  const docs = new Map(found.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  return (ref) => docs.get(jobId(ref.module, ref.run))?.passes.find((pass) => pass.pass === ref.pass)?.status;
}

/** Passes this site claimed earlier whose jobs are not all submitted (a backend that did not answer). */
export async function unsubmitted(ctx: ClientContext): Promise<ClaimedPass[]> {
  const rows = await ctx.db.view<[string, string, string, number, number]>('passes', 'locked_by_site', {
    startkey: [ctx.site.name, 'submitted'],
    endkey: [ctx.site.name, 'submitted', {}],
    update: 'lazy',
  });
  if (rows.rows.length === 0) return [];
  const found = await ctx.db.allDocs<JobDoc>({ keys: [...new Set(rows.rows.map((row) => row.id ?? ''))], include_docs: true });
  return found.rows.flatMap((row) =>
    row.doc
      ? row.doc.passes
          .filter((pass) => pass.site === ctx.site.name && pass.status === 'submitted' && subjobsOf(pass).some((subjob) => subjob.backend_id === undefined))
          .map((pass) => ({ doc: row.doc as JobDoc, pass, earlier: true }))
      : [],
  );
}

/**
 * One cycle: return expired leases, monitor what this site runs, then decide, claim (one bulk
 * write) and submit. Returns the counts for the cycle's stats line.
 */
export async function runCycle(ctx: ClientContext, options: CycleOptions): Promise<CycleStats> {
  const started = Date.now();
  const stats = emptyStats();
  await returnExpired(ctx, stats);
  if (options.monitor) await monitorPasses(ctx, stats);
  if (options.submit) {
    const retry = await unsubmitted(ctx);
    const running = (await ctx.db.view<unknown, number>('passes', 'locked_by_site', { startkey: [ctx.site.name, 'running'], endkey: [ctx.site.name, 'submitted', {}] })).rows.length;
    const siteState = {
      name: ctx.site.name,
      mode: ctx.mode,
      modes: ctx.site.modes,
      ratVersions: new Set(ctx.site.rat.versions.keys()),
      maxJobs: ctx.site.maxJobs,
      running,
      maxClaim: ctx.maxClaim,
      pausedLabels: options.pausedLabels ?? new Set<string>(),
    };
    const decision = await decideFromView(ctx, siteState);
    if (decision.unsatisfied.length > 0) {
      await updatePasses(
        ctx,
        decision.unsatisfied.map(({ pass, because }) => ({
          id: jobId(pass.module, pass.run),
          pass: pass.pass,
          apply: (stored) => (stored.status === 'waiting' && stored.site === undefined ? { ...stored, status: 'unsatisfied' } : undefined),
        })),
      );
      for (const { pass, because } of decision.unsatisfied) {
        ctx.log.warn({ module: pass.module, run: pass.run, pass: pass.pass }, `unsatisfied: its prerequisite ${because.module} pass ${because.pass} failed`);
      }
    }
    // a signal during monitoring means: claim nothing new
    const claimed = options.signal?.aborted === true ? [] : await claimPasses(ctx, decision.claim);
    stats.claimed = claimed.length;
    const dispatched = await dispatchPasses(ctx, [...retry, ...claimed]);
    stats.submitted = dispatched.submitted;
    stats.failed += dispatched.failed;
  }
  stats.ms = Date.now() - started;
  return stats;
}
