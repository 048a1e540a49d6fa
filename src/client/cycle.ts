import { DEFAULT_STALE_SECONDS } from '../config/config.js';
import { siteBeats } from '../coordination/sites.js';
import { jobId } from '../model/documents.js';
import type { PolicyDoc } from '../model/policy.js';
import { isQuarantined, quarantineId, type QuarantineDoc } from '../model/health.js';
import {
  pausedIn,
  readExpiredLeases,
  readHeld,
  readPolicies,
  transitionChange,
  type HeldRow,
  updatePasses,
} from '../passes/store.js';
import { returnExpired as returnExpiredPass, unsatisfy } from '../passes/transitions.js';
import type { Decision, SiteState } from '../queue/decide.js';
import { chooseClaims } from './choose.js';
import { claimPasses } from './claim.js';
import { emptyStats, memoryOf, type ClientContext, type CycleStats } from './context.js';
import { dispatchPasses } from './dispatch.js';
import { quarantineIfUnhealthy } from './health.js';
import { unsubmitted } from './held.js';
import { monitorPasses, renewLeases } from './monitor.js';
import { describeOldClients, findOldClients } from '../coordination/old-gasp.js';
import { proxyAllowsClaims, proxyBlocks } from '../model/coordination.js';
import { checkQuiet, foundNothing } from './quiet.js';
import { proxyLetsClaim } from './proxy.js';

export interface CycleOptions {
  submit: boolean;
  monitor: boolean;
  pausedLabels?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** Serialized submission: the site submits only in its turn, and hands over after it. */
  turn?: Turn;
  /**
   * Claims only its share of the queue beside other live sites (queue/spread.ts). Off for a
   * `--once` run, which is not there at the next cycle to adopt what its owner left.
   */
  share?: boolean;
}

export interface Turn {
  myTurn(): Promise<boolean>;
  /** Right before a write in the turn: the lead was not lost since `myTurn` (fencing a paused leader). */
  stillMine(): Promise<boolean>;
  handOver(): Promise<void>;
}

/**
 * Passes of any site whose lease ran out (the site died): back to waiting, as a new attempt. Looked
 * for once a minute (a quarter of the lease, if shorter), not every cycle: leases last far longer, and
 * each read makes the server bring the view's index up to date.
 */
async function returnExpired(ctx: ClientContext, stats: CycleStats): Promise<void> {
  const memory = memoryOf(ctx);
  const at = ctx.now();
  if (at.getTime() - memory.leasesCheckedAt < Math.min(60_000, (ctx.leaseSeconds * 1000) / 4)) return;
  memory.leasesCheckedAt = at.getTime();
  // this site's own passes are renewed by its monitoring, never returned by it
  const others = (await readExpiredLeases(ctx.db, at)).filter((row) => row.site !== ctx.site.name);
  if (others.length === 0) return;
  // a live site that has not renewed (its cycles fail) may have submitted the jobs: only it can ask
  // its backend, so its passes stay with it; a pass is taken back only from a site whose client is gone
  const aliveSites = await liveSites(ctx);
  const expired = others.filter((row) => !aliveSites.has(row.site));
  if (expired.length < others.length)
    ctx.log.debug(
      { passes: others.length - expired.length },
      'expired leases of sites whose clients are alive: left to them',
    );
  if (expired.length === 0) return;
  const landed = await updatePasses(
    ctx,
    expired.map((row) => transitionChange(row.id, row.pass, (stored) => returnExpiredPass(stored, { aliveSites }, at))),
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

/** Waiting passes whose prerequisite failed: unsatisfied, each named in the log. */
async function markUnsatisfied(ctx: ClientContext, unsatisfied: Decision['unsatisfied']): Promise<void> {
  if (unsatisfied.length === 0) return;
  await updatePasses(
    ctx,
    unsatisfied.map(({ pass, because }) =>
      transitionChange(jobId(pass.module, pass.run), pass.pass, (stored) =>
        unsatisfy(stored, { because: `its prerequisite ${because.module} pass ${because.pass} failed` }),
      ),
    ),
  );
  for (const { pass, because } of unsatisfied) {
    ctx.log.warn(
      { module: pass.module, run: pass.run, pass: pass.pass },
      `unsatisfied: its prerequisite ${because.module} pass ${because.pass} failed`,
    );
  }
}

/** A quarantined site claims nothing new; what it claimed before goes on through the one safe path. */
async function whileQuarantined(
  ctx: ClientContext,
  stats: CycleStats,
  held: readonly HeldRow[],
  options: CycleOptions,
  policies: ReadonlyMap<string, PolicyDoc>,
): Promise<void> {
  // a job it may have submitted is found by name, never run twice
  const claimedBefore = await unsubmitted(ctx, held);
  if (claimedBefore.length > 0) stats.submitted += (await dispatchPasses(ctx, claimedBefore, policies)).submitted;
  // a quarantined leader would hold the lead, and every site's submission, until resumed
  await options.turn?.handOver();
}

/** How often a running client looks for GASP's documents again (a screen loop missed in the switch-over). */
const OLD_CLIENTS_CHECK_MS = 5 * 60_000;

/**
 * Whether GASP's enqueue_command documents are in the database: gasp refuses to start beside them,
 * and a client already running claims nothing new while they are there (its own passes go on).
 * Said once when they appear and once when they are gone.
 */
async function besideOldClients(ctx: ClientContext): Promise<boolean> {
  const memory = memoryOf(ctx);
  const at = ctx.now();
  if (at.getTime() - memory.oldClientsCheckedAt < OLD_CLIENTS_CHECK_MS) return memory.oldClientsSeen;
  memory.oldClientsCheckedAt = at.getTime();
  const old = await findOldClients(ctx.db, at);
  if (old !== undefined && !memory.oldClientsSeen)
    ctx.log.error(
      `${describeOldClients(ctx.db.name, old)}: claiming nothing new while they are there; stop GASP's enqueue_command, then gasp switch-over --yes`,
    );
  if (old === undefined && memory.oldClientsSeen)
    ctx.log.info("GASP's enqueue_command documents are gone: claiming again");
  memory.oldClientsSeen = old !== undefined;
  return memory.oldClientsSeen;
}

/**
 * Decide from the ready views, claim (one bulk write) and submit, with what this site can take now.
 * Returns how many passes it chose, claimed or not (claims held back still leave work to do).
 */
async function claimAndSubmit(
  ctx: ClientContext,
  stats: CycleStats,
  options: CycleOptions,
  now: {
    held: readonly HeldRow[];
    running: number;
    policies: ReadonlyMap<string, PolicyDoc>;
    pausedNow: readonly string[];
    /** Its grid proxy outlives a job (or it needs none). */
    proxyLetsClaim: boolean;
  },
): Promise<number> {
  const retry = await unsubmitted(ctx, now.held);
  const siteState: SiteState = {
    name: ctx.site.name,
    mode: ctx.mode,
    modes: ctx.site.modes,
    ratVersions: new Set(ctx.site.rat.versions.keys()),
    maxJobs: ctx.site.maxJobs,
    running: now.running,
    maxClaim: ctx.maxClaim,
    // labels paused by hand (--pause) or by policy (auto-pause, gasp policy)
    pausedLabels: new Set([...(options.pausedLabels ?? []), ...pausedIn(now.policies), ...now.pausedNow]),
  };
  // under serialize one site claims at a time: there is nothing to share
  const decision = await chooseClaims(ctx, siteState, options.share !== false && options.turn === undefined);
  await markUnsatisfied(ctx, decision.unsatisfied);
  // a signal during monitoring means: claim nothing new; so do GASP's clients beside this one, and a
  // grid proxy that would die before the jobs end
  const claimed =
    options.signal?.aborted === true || (await besideOldClients(ctx)) || !now.proxyLetsClaim
      ? []
      : await claimPasses(ctx, decision.claim, stats, options.turn?.stillMine.bind(options.turn));
  stats.claimed = claimed.length;
  const toSubmit = [...retry, ...claimed];
  // only the leader submits: what it claimed in a turn lost since (a pause) waits for its next turn
  if (toSubmit.length > 0 && options.turn !== undefined && !(await options.turn.stillMine())) {
    stats.waitingTurn = true;
    return decision.claim.length;
  }
  const dispatched = await dispatchPasses(ctx, toSubmit, now.policies);
  stats.submitted = dispatched.submitted;
  stats.failed += dispatched.failed;
  await options.turn?.handOver();
  return decision.claim.length;
}

/**
 * One cycle: return expired leases, monitor what this site runs, then decide, claim (one bulk
 * write) and submit. Returns the counts for the cycle's stats line.
 */
export async function runCycle(ctx: ClientContext, options: CycleOptions): Promise<CycleStats> {
  const started = Date.now();
  const stats = emptyStats();
  const memory = memoryOf(ctx);
  // a serialized site reads the lead every cycle: its turn comes without a change it would see
  const quiet = options.turn === undefined ? await checkQuiet(ctx) : undefined;
  await returnExpired(ctx, stats);
  // at the first cycle and hourly after, whether or not it submits: the heartbeat shows it
  const proxyWasOk = memory.proxy === undefined || proxyAllowsClaims(memory.proxy);
  const proxyOk = await proxyLetsClaim(ctx);
  const proxy = memory.proxy;
  if (!proxyOk && proxy !== undefined) stats.proxy = proxyBlocks(proxy);
  if (quiet?.unchanged === true && stats.lost === 0 && proxyOk === proxyWasOk) {
    memory.quietSince = quiet.seq;
    stats.quiet = true;
    stats.ms = Date.now() - started;
    return stats;
  }
  const [held, policies, quarantine] = await Promise.all([
    readHeld(ctx.db, ctx.site.name),
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
    await whileQuarantined(ctx, stats, held, options, policies);
  }
  const submit =
    options.submit && quarantined === undefined && (options.turn === undefined || (await options.turn.myTurn()));
  if (options.submit && quarantined === undefined && !submit) stats.waitingTurn = true;
  // what monitoring just ended no longer counts against the site's limit
  const chosen = !submit
    ? 0
    : await claimAndSubmit(ctx, stats, options, {
        held,
        running: held.length - (ended() - before),
        policies,
        pausedNow,
        proxyLetsClaim: proxyOk,
      });
  memory.quietSince = quiet !== undefined && chosen === 0 && foundNothing(ctx, stats, held) ? quiet.seq : undefined;
  stats.ms = Date.now() - started;
  return stats;
}
