import { HEARTBEAT_PREFIX, lockId } from '../model/coordination.js';
import { NOTIFY_PREFIX } from '../model/notify.js';
import type { HeldRow } from '../passes/store.js';
import { memoryOf, type ClientContext, type CycleStats } from './context.js';

/**
 * Documents no cycle reads to decide: other sites' heartbeats (each site beats every minute, so a
 * database with 20 sites changes every few seconds), locks and notification records.
 */
const UNREAD_PREFIXES = [HEARTBEAT_PREFIX, lockId(''), NOTIFY_PREFIX];

/** Changes read at once: more than this since the last cycle is not quiet anyway (start afresh from the latest). */
const CHANGES_PAGE = 100;

export interface QuietCheck {
  /** Nothing a cycle reads changed since the last cycle found nothing to do. */
  unchanged: boolean;
  /** The database's sequence before this cycle's reads: remembered if it finds nothing to do. */
  seq: unknown;
}

/**
 * One request at a cycle's start. After a cycle that found nothing to do, a page of the changes
 * since then (ids only): if every change is a heartbeat or the like, nothing the cycle would read
 * changed and it reads nothing else. Otherwise the database's sequence, for the next cycle to start from.
 */
export async function checkQuiet(ctx: ClientContext): Promise<QuietCheck> {
  const since = memoryOf(ctx).quietSince;
  if (since === undefined) return { unchanged: false, seq: (await ctx.db.info()).update_seq };
  const page = await ctx.db.changes({ since, limit: CHANGES_PAGE });
  if (page.results.length >= CHANGES_PAGE) return { unchanged: false, seq: (await ctx.db.info()).update_seq };
  const read = page.results.some((row) => !UNREAD_PREFIXES.some((prefix) => row.id.startsWith(prefix)));
  return { unchanged: !read, seq: page.last_seq };
}

/**
 * Whether a cycle found nothing to do, so the next may skip its reads while nothing changes: it
 * holds nothing (nothing to monitor or renew), chose, claimed and returned nothing, and left no pass
 * to another site (one its owner does not take is adopted at a later cycle, which must run).
 */
export function foundNothing(ctx: ClientContext, stats: CycleStats, held: readonly HeldRow[]): boolean {
  return (
    held.length === 0 &&
    stats.claimed === 0 &&
    stats.submitted === 0 &&
    stats.lost === 0 &&
    stats.contended === 0 &&
    memoryOf(ctx).left.size === 0
  );
}
