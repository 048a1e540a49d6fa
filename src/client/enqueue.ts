import { sleep } from '../db/backoff.js';
import { GaspError } from '../errors.js';
import { jobName } from '../backends/prepare.js';
import type { ClientContext, CycleStats } from './context.js';
import { readHeld, readReady, transitionChange, updatePasses } from '../passes/store.js';
import { releaseUnsubmitted as releasePass, subjobsOf } from '../passes/transitions.js';
import { runCycle, type CycleOptions, type Turn } from './cycle.js';
import { unsubmitted } from './held.js';
import { claimedAt } from './dispatch.js';

export interface EnqueueOptions extends CycleOptions {
  intervalMs: number;
  /** Run this many cycles, then stop (`--once` is 1). */
  cycles?: number;
  /** Monitor every N cycles only. */
  monitorEvery?: number;
  signal: AbortSignal;
  /** Stop once a cycle finds nothing held and nothing claimed (the demo: run until done). */
  untilIdle?: boolean;
  onCycle?: (stats: CycleStats, cycle: number) => void;
  /** Aborted when another client took this site over: its claims are that client's now, left as they are. */
  siteLost?: AbortSignal;
  /** Serialized `--once`: wait up to this long for the site's turn before its one cycle. */
  waitTurnMs?: number;
}

/**
 * The long-running client: a cycle, its stats line, a pause, again, until the signal. A cycle that
 * meets a database or batch-system outage is logged and the loop backs off and goes on; the next
 * cycle picks up where this one left (claims are in the database, not in memory).
 */
export async function enqueue(ctx: ClientContext, options: EnqueueOptions): Promise<void> {
  let failures = 0;
  if (options.turn !== undefined && options.waitTurnMs !== undefined)
    await waitForTurn(ctx, options.turn, { ...options, waitTurnMs: options.waitTurnMs });
  for (let cycle = 1; !options.signal.aborted; cycle++) {
    const monitor =
      options.monitor &&
      (options.monitorEvery === undefined || cycle % options.monitorEvery === 1 || options.monitorEvery === 1);
    let done = false;
    try {
      // a single run is not there next cycle to adopt what another site leaves: it claims the head
      const share = options.share ?? options.cycles !== 1;
      const stats = await runCycle(ctx, { ...options, monitor, share, signal: options.signal });
      if (failures > 0) ctx.log.info({ after: failures }, 'cycles work again');
      failures = 0;
      ctx.log.info(
        { cycle, stats },
        `cycle ${cycle}: ${stats.quarantined !== undefined ? `QUARANTINED (${stats.quarantined}; gasp resume --site ${ctx.site.name}), ` : ''}${stats.proxy !== undefined ? `NO CLAIMS (${stats.proxy}), ` : ''}${stats.waitingTurn === true ? "not this site's turn to submit, " : ''}${stats.quiet === true ? 'nothing changed since the last cycle, ' : ''}claimed ${stats.claimed}, submitted ${stats.submitted}, running ${stats.running}, completed ${stats.completed}, failed ${stats.failed}, lost ${stats.lost}${stats.canceled > 0 ? `, canceled ${stats.canceled}` : ''}${stats.resubmitted > 0 ? `, resubmitted ${stats.resubmitted}` : ''}${stats.contended > 0 ? `, ${stats.contended} taken first by other sites` : ''} (${stats.ms} ms)`,
      );
      options.onCycle?.(stats, cycle);
      done = options.untilIdle === true && (await idle(ctx));
    } catch (error) {
      // a client that runs for months backs off and tries again rather than exit: its state is in the database
      failures += 1;
      const message = error instanceof Error ? error.message : String(error);
      const expected = error instanceof GaspError;
      if (failures === 1)
        ctx.log[expected ? 'warn' : 'error']({ error: message }, 'cycle failed; backing off, nothing is lost');
    }
    if (done || (options.cycles !== undefined && cycle >= options.cycles)) break;
    await sleep(
      failures === 0 ? options.intervalMs : Math.min(options.intervalMs * 2 ** failures, 300_000),
      options.signal,
    );
  }
  if (options.signal.aborted && options.siteLost?.aborted !== true) await releaseUnsubmitted(ctx);
}

/**
 * A `--once` run (cron) under serialized submission. The leader hands the lead over only between
 * its own cycles, and only to sites whose heartbeat is fresh then; a run that looked once, saw
 * another leader and stopped was almost never there at a hand-over, so cron sites never submitted.
 * Waiting with its heartbeat beating makes it a turn taker like any other, so the rotation reaches
 * it within a few of the others' cycles. It waits a bounded time (cron starts the next run) and
 * then runs its one cycle either way: monitoring is never serialized.
 */
async function waitForTurn(
  ctx: ClientContext,
  turn: Turn,
  options: { waitTurnMs: number; intervalMs: number; signal: AbortSignal },
): Promise<void> {
  // an outage is the cycle's to report: here it only means not yet
  const mine = () => turn.myTurn().catch(() => false);
  if (await mine()) return;
  const seconds = Math.round(options.waitTurnMs / 1000);
  ctx.log.info(`waiting up to ${seconds} s for this site's turn to submit (serialized submission)`);
  const deadline = Date.now() + options.waitTurnMs;
  while (!options.signal.aborted && Date.now() < deadline) {
    await sleep(Math.min(options.intervalMs, 5_000, deadline - Date.now()), options.signal);
    if (await mine()) return;
  }
  if (!options.signal.aborted)
    ctx.log.info(`not this site's turn within ${seconds} s: this run only monitors; the next one waits again`);
}

/**
 * On the way out: passes this site claimed whose jobs never reached the backend go back to waiting
 * for any site, instead of waiting for their lease to run out. A job the backend knows by name is
 * kept (it was submitted; the next client records it).
 */
export async function releaseUnsubmitted(ctx: ClientContext): Promise<number> {
  try {
    const held = await unsubmitted(ctx);
    const names = new Map<string, string>();
    for (const { doc, pass } of held)
      for (const subjob of subjobsOf(pass))
        names.set(jobName(doc.module, doc.run, pass.pass, subjob.index, pass.claim?.token), doc._id);
    const known =
      names.size === 0
        ? new Map<string, string>()
        : await ctx.backend.lookup([...names.keys()], claimedAt(held.map(({ pass }) => pass)));
    const free = held.filter(
      ({ doc, pass }) =>
        subjobsOf(pass).every((subjob) => subjob.backend_id === undefined) &&
        ![...known.keys()].some((name) => names.get(name) === doc._id),
    );
    const now = ctx.now();
    const reason = 'released when its client stopped before submitting it';
    const landed = await updatePasses(
      ctx,
      free.map(({ doc, pass }) =>
        transitionChange(doc._id, pass.pass, (stored) =>
          releasePass(stored, { token: pass.claim?.token, reason }, now),
        ),
      ),
    );
    if (landed.length > 0) ctx.log.info({ passes: landed.length }, 'released claims not yet submitted');
    return landed.length;
  } catch (error) {
    ctx.log.warn({ error: (error as Error).message }, 'could not release unsubmitted claims; their leases will end');
    return 0;
  }
}

/** Nothing waiting that this site could take, and nothing it holds. */
async function idle(ctx: ClientContext): Promise<boolean> {
  if ((await readHeld(ctx.db, ctx.site.name, 1)).length > 0) return false;
  return (await readReady(ctx.db, ctx.queue, 1)).length === 0;
}
