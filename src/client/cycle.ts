import type { PassRef } from '../model/documents.js';
import { jobId } from '../model/documents.js';
import { decide, type Decision, type ReadyPass, type SiteState } from '../queue/decide.js';
import { claimPasses } from './claim.js';
import { emptyStats, type ClientContext, type CycleStats } from './context.js';
import { dispatchPasses } from './dispatch.js';
import { pausedIn, readPolicies } from './auto-pause.js';
import { quarantineIfUnhealthy } from './health.js';
import { isQuarantined, quarantineId, type QuarantineDoc } from '../model/health.js';
import { readHeld, unsubmitted } from './held.js';
import { prerequisiteStatuses } from './prerequisites.js';
import { monitorPasses, renewLeases } from './monitor.js';
import { backToWaiting, updatePasses } from './update.js';
import { siteBeats } from '../coordination/sites.js';
import { DEFAULT_STALE_SECONDS } from '../config/config.js';

export interface CycleOptions {
  submit: boolean;
  monitor: boolean;
  pausedLabels?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** Serialized submission: the site submits only in its turn, and hands over after it. */
  turn?: Turn;
}

export interface Turn {
  myTurn(): Promise<boolean>;
  handOver(): Promise<void>;
}

/**
 * Ready rows read at a time: twice the room, so one read is usually enough even when the head of
 * the queue holds passes this site cannot run.
 */
const pageSize = (room: number) => Math.min(5_000, Math.max(200, 2 * room));
const MAX_PAGES = 25;

/**
 * Reads the ready passes in queue order page by page, deciding as it goes, until the site has all
 * it can take or the queue ends: passes this site cannot run at the head never starve it.
 */
async function decideFromView(ctx: ClientContext, site: SiteState): Promise<Decision> {
  const view = READY_VIEW[ctx.queue];
  const descending = ctx.queue === 'newfirst';
  const room = Math.max(0, Math.min(site.maxJobs - site.running, site.maxClaim));
  const total: Decision = {
    claim: [],
    unsatisfied: [],
    skipped: { ratVersion: 0, paused: 0, prerequisite: 0, noRoom: 0 },
  };
  const page = pageSize(room);
  for (let index = 0; index < MAX_PAGES && total.claim.length < room; index++) {
    // read fresh, so a cycle sees every pass submitted before it; claims still check each
    // document's status and _rev, since another site may claim between the read and the write
    const rows = await ctx.db.view<unknown, ReadyRow>('passes', view, { descending, limit: page, skip: index * page });
    const candidates: ReadyPass[] = rows.rows.map(({ value }) => ({
      ...value,
      prerequisites: value.prerequisites ?? [],
    }));
    const decision = decide(
      candidates,
      { ...site, running: site.running + total.claim.length, maxClaim: site.maxClaim - total.claim.length },
      ctx.queue,
      await prerequisiteStatuses(
        ctx.db,
        candidates.flatMap((pass) => pass.prerequisites ?? []),
      ),
    );
    total.claim.push(...decision.claim);
    total.unsatisfied.push(...decision.unsatisfied);
    for (const reason of ['ratVersion', 'paused', 'prerequisite'] as const)
      total.skipped[reason] += decision.skipped[reason];
    if (rows.rows.length < page) break;
  }
  return total;
}

type ReadyRow = Omit<ReadyPass, 'prerequisites'> & { prerequisites: PassRef[] | null };

/** The ready view of each queue order (newfirst reads `ready_run` backwards). */
export const READY_VIEW = {
  priority: 'ready_priority',
  runlevel: 'ready_run',
  newfirst: 'ready_run',
  serial: 'ready_created',
} as const;

/** When each client last looked for expired leases. */
const leasesChecked = new WeakMap<ClientContext, number>();

/**
 * Passes of any site whose lease ran out (the site died): back to waiting, as a new attempt. Looked
 * for once a minute (a quarter of the lease, if shorter), not every cycle: leases last far longer, and
 * each read makes the server bring the view's index up to date.
 */
async function returnExpired(ctx: ClientContext, stats: CycleStats): Promise<void> {
  const at = ctx.now().getTime();
  if (at - (leasesChecked.get(ctx) ?? -Infinity) < Math.min(60_000, (ctx.leaseSeconds * 1000) / 4)) return;
  leasesChecked.set(ctx, at);
  const now = new Date(at).toISOString();
  const rows = await ctx.db.view<string, [string, number]>('passes', 'leases', { endkey: now, inclusive_end: false });
  // this site's own passes are renewed by its monitoring, never returned by it
  const others = rows.rows.filter((row) => row.id !== undefined && row.value[0] !== ctx.site.name);
  if (others.length === 0) return;
  // a live site that has not renewed (its cycles fail) may have submitted the jobs: only it can ask
  // its backend, so its passes stay with it; a pass is taken back only from a site whose client is gone
  const alive = await liveSites(ctx);
  const expired = others.filter((row) => !alive.has(row.value[0]));
  if (expired.length < others.length)
    ctx.log.debug(
      { passes: others.length - expired.length },
      'expired leases of sites whose clients are alive: left to them',
    );
  if (expired.length === 0) return;
  const landed = await updatePasses(
    ctx,
    expired.map((row) => ({
      id: row.id as string,
      pass: row.value[1],
      apply: (stored) => {
        if (
          stored.claim === undefined ||
          stored.claim.lease_until >= now ||
          (stored.status !== 'submitted' && stored.status !== 'running')
        )
          return undefined;
        if (stored.site !== undefined && alive.has(stored.site)) return undefined;
        return backToWaiting(
          stored,
          stored.claim.token,
          now,
          `lease of site ${stored.site ?? '?'} expired and no client of it is alive`,
        );
      },
    })),
  );
  stats.lost += landed.length;
  if (landed.length > 0)
    ctx.log.warn({ passes: landed.length }, 'returned passes whose site stopped renewing its lease');
}

/** Sites of this mode whose client is alive now (a fresh heartbeat, not stopped), by the server's clock. */
async function liveSites(ctx: ClientContext): Promise<Set<string>> {
  const now = ctx.now().getTime();
  const beats = await siteBeats(
    ctx.db,
    { ageSeconds: (iso) => (now - Date.parse(iso)) / 1000 },
    ctx.staleSeconds ?? DEFAULT_STALE_SECONDS,
  );
  return new Set(
    beats.filter((beat) => beat.state === 'active' && beat.doc.mode === ctx.mode).map((beat) => beat.doc.site),
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
  const [held, policies, quarantine] = await Promise.all([
    readHeld(ctx),
    readPolicies(ctx.db),
    ctx.db.find<QuarantineDoc>(quarantineId(ctx.site.name)),
  ]);
  await renewLeases(ctx, held);
  const ended = () => stats.completed + stats.failed + stats.lost + stats.canceled + stats.resubmitted;
  const before = ended();
  const pausedNow = options.monitor ? await monitorPasses(ctx, stats, held, policies) : [];
  // a quarantined site keeps monitoring what it runs and claims nothing new
  const quarantined = isQuarantined(quarantine)
    ? quarantine
    : stats.failed + stats.resubmitted > 0
      ? await quarantineIfUnhealthy(ctx, quarantine)
      : undefined;
  if (quarantined !== undefined) {
    stats.quarantined = quarantined.reason;
    // what it claimed before goes on through the one safe path (a job it may have submitted is found by name, never run twice)
    const claimedBefore = await unsubmitted(ctx, held);
    if (claimedBefore.length > 0) stats.submitted += (await dispatchPasses(ctx, claimedBefore, policies)).submitted;
    // a quarantined leader would hold the lead, and every site's submission, until resumed
    await options.turn?.handOver();
  }
  const submit =
    options.submit && quarantined === undefined && (options.turn === undefined || (await options.turn.myTurn()));
  if (options.submit && quarantined === undefined && !submit) stats.waitingTurn = true;
  if (submit) {
    const retry = await unsubmitted(ctx, held);
    // what monitoring just ended no longer counts against the site's limit
    const running = held.length - (ended() - before);
    const siteState = {
      name: ctx.site.name,
      mode: ctx.mode,
      modes: ctx.site.modes,
      ratVersions: new Set(ctx.site.rat.versions.keys()),
      maxJobs: ctx.site.maxJobs,
      running,
      maxClaim: ctx.maxClaim,
      // labels paused by hand (--pause) or by policy (auto-pause, gasp policy)
      pausedLabels: new Set([...(options.pausedLabels ?? []), ...pausedIn(policies), ...pausedNow]),
    };
    const decision = await decideFromView(ctx, siteState);
    if (decision.unsatisfied.length > 0) {
      await updatePasses(
        ctx,
        decision.unsatisfied.map(({ pass, because }) => ({
          id: jobId(pass.module, pass.run),
          pass: pass.pass,
          apply: (stored) =>
            stored.status === 'waiting' && stored.site === undefined ? { ...stored, status: 'unsatisfied' } : undefined,
        })),
      );
      for (const { pass, because } of decision.unsatisfied) {
        ctx.log.warn(
          { module: pass.module, run: pass.run, pass: pass.pass },
          `unsatisfied: its prerequisite ${because.module} pass ${because.pass} failed`,
        );
      }
    }
    // a signal during monitoring means: claim nothing new
    const claimed = options.signal?.aborted === true ? [] : await claimPasses(ctx, decision.claim);
    stats.claimed = claimed.length;
    const dispatched = await dispatchPasses(ctx, [...retry, ...claimed], policies);
    stats.submitted = dispatched.submitted;
    stats.failed += dispatched.failed;
    await options.turn?.handOver();
  }
  stats.ms = Date.now() - started;
  return stats;
}
